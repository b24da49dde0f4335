tenant_key "website" {
  for_each = toset(["acme", "globex"])
  tenant   = each.key
  name     = "Website"
  token    = env("WEBSITE_KEY_${upper(each.key)}")
}

tenant_key "worker" {
  tenant = "acme"
  name   = "Worker"
  token  = file("/run/secrets/worker")
}
