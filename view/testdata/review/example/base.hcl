settings {
  owner = "platform"
}

universal_key "frontend" {
  name        = "Universal front-end key"
  token       = env("WEBINY_API_UNIVERSAL_KEY")
  permissions = [{ name = "cms.contentEntry", rwd = "r" }]
}

tenant_key "website" {
  for_each    = toset(["acme", "globex"])
  tenant      = each.key
  name        = "Website (${each.key})"
  token       = env("WEBSITE_KEY_${upper(each.key)}")
  permissions = ["cms.read"]
}

tenant_key "reports" {
  tenant      = "acme"
  name        = "Reporting"
  token       = env("REPORTS_KEY")
  permissions = ["analytics.read"]
}
