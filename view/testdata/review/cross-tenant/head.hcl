# A new universal key, a tenant key turned universal (moved to the root
# tenant) and a tenant key moved to another tenant.
universal_key "frontend" {
  name        = "Universal front-end key"
  token       = env("WEBINY_API_UNIVERSAL_KEY")
  permissions = [{ name = "*" }]
}

universal_key "search" {
  name        = "Search indexer"
  token       = env("SEARCH_KEY_ACME")
  permissions = ["search.read"]
}

moved {
  from = "acme/search"
  to   = "root/search"
}

tenant_key "preview" {
  tenant      = "globex"
  name        = "Preview"
  token       = env("PREVIEW_KEY")
  permissions = ["cms.read"]
}

moved {
  from = "acme/preview"
  to   = "globex/preview"
}
