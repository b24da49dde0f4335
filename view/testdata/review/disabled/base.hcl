settings {
  prune = true
}

tenant_key "website" {
  tenant = "acme"
  name   = "Website"
  token  = env("WEBSITE_KEY_ACME")
}

tenant_key "shop" {
  tenant   = "globex"
  name     = "Shop"
  token    = env("SHOP_KEY_GLOBEX")
  disabled = true
}

tenant_key "reports" {
  tenant = "acme"
  name   = "Reporting"
  token  = env("REPORTS_KEY")
}
