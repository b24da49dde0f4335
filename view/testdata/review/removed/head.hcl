# One live key and one revoked key removed.
tenant_key "website" {
  tenant = "acme"
  name   = "Website"
  token  = env("WEBSITE_KEY_ACME")
}
