settings {
  owner               = "platform"
  allowed_permissions = ["cms.read", "wb.page"]
}

universal_key "frontend" {
  name        = "Universal front-end key"
  token       = env("WEBINY_API_UNIVERSAL_KEY")
  permissions = ["cms.read"]
}

tenant_key "website" {
  tenant = "acme"
  name   = "Website"
  token  = env("WEBSITE_KEY_ACME")
}
