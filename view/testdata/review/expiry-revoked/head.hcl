# Expiry removed and pushed later, a rotation window extended, a revoked
# key restored.
tenant_key "partner" {
  tenant = "acme"
  name   = "Partner import"
  token  = env("PARTNER_KEY")
}

tenant_key "contractor" {
  tenant  = "acme"
  name    = "Contractor"
  token   = env("CONTRACTOR_KEY")
  expires = "2027-12-31T00:00:00Z"
}

tenant_key "mobile" {
  tenant         = "acme"
  name           = "Mobile app"
  token          = env("MOBILE_KEY_V2")
  previous_token = env("MOBILE_KEY_V1")
  previous_until = "2027-03-01T00:00:00Z"
}

tenant_key "legacy" {
  tenant = "acme"
  name   = "Legacy integration"
  token  = env("LEGACY_KEY_V2")
}
