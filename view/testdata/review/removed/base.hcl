tenant_key "website" {
  tenant = "acme"
  name   = "Website"
  token  = env("WEBSITE_KEY_ACME")
}

tenant_key "reports" {
  tenant      = "acme"
  name        = "Reporting"
  token       = env("REPORTS_KEY")
  permissions = ["analytics.read"]
}

universal_key "old-sync" {
  name    = "Old sync job"
  revoked = true
}
