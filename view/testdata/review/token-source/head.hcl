# The tokens are read from other variables and files: each key is rotated.
tenant_key "website" {
  for_each = toset(["acme", "globex"])
  tenant   = each.key
  name     = "Website"
  token    = env("WEBSITE_TOKEN_${upper(each.key)}")
}

tenant_key "worker" {
  tenant = "acme"
  name   = "Worker"
  token  = jsondecode(file("/run/secrets/keys.json"))["worker"]
}
