# Written differently, evaluates to the same keys.
tenant_key "website" {
  for_each = toset(["globex", "acme"])
  tenant   = each.key
  name     = "Website"
  token    = env(format("WEBSITE_KEY_%s", upper(each.key)))
}
