# Every change takes access away: none is ranked above low.

# A universal key becomes a key of one tenant.
tenant_key "gateway" {
  tenant      = "acme"
  name        = "Gateway"
  token       = env("GATEWAY_KEY")
  permissions = ["cms.read", { name = "cms.entry", rwd = "r" }]
}

moved {
  from = "root/gateway"
  to   = "acme/gateway"
}

# Fewer permissions, an earlier expiry.
tenant_key "website" {
  tenant      = "acme"
  name        = "Website"
  token       = env("WEBSITE_KEY")
  permissions = ["cms.read"]
  expires     = "2026-12-31T00:00:00Z"
}

tenant_key "legacy" {
  tenant  = "acme"
  name    = "Legacy"
  token   = env("LEGACY_KEY")
  revoked = true
}
