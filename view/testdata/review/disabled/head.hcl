# A key switched off, a suspended key switched on again, a key removed,
# and prune switched from disabling to revoking.
settings {
  prune = "revoke"
}

tenant_key "website" {
  tenant   = "acme"
  name     = "Website"
  token    = env("WEBSITE_KEY_ACME")
  disabled = true
}

tenant_key "shop" {
  tenant = "globex"
  name   = "Shop"
  token  = env("SHOP_KEY_GLOBEX")
}
