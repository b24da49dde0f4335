# Settings that affect every key.
settings {
  token_prefix        = "key_"
  owner               = "platform-v2"
  root_tenant         = "global"
  allowed_permissions = ["cms.*", "wb.page"]
  prune               = true
}

universal_key "frontend" {
  name        = "Universal front-end key"
  token       = env("WEBINY_API_UNIVERSAL_KEY")
  permissions = ["cms.read"]
}

moved {
  from = "root/frontend"
  to   = "global/frontend"
}

tenant_key "website" {
  tenant = "acme"
  name   = "Website"
  token  = env("WEBSITE_KEY_ACME")
}
