universal_key "gateway" {
  name        = "Gateway"
  token       = env("GATEWAY_KEY")
  permissions = ["cms.read", { name = "cms.entry", rwd = "rwd" }]
}

tenant_key "website" {
  tenant      = "acme"
  name        = "Website"
  token       = env("WEBSITE_KEY")
  permissions = ["cms.read", "cms.write"]
  expires     = "2027-06-30T00:00:00Z"
}

tenant_key "legacy" {
  tenant = "acme"
  name   = "Legacy"
  token  = env("LEGACY_KEY")
}
