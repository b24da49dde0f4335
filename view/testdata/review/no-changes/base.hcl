locals {
  tenants = ["acme", "globex"]
}

tenant_key "website" {
  for_each = toset(local.tenants)
  tenant   = each.key
  name     = "Website"
  token    = env("WEBSITE_KEY_${upper(each.key)}")
}
