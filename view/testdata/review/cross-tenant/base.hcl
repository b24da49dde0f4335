tenant_key "search" {
  tenant      = "acme"
  name        = "Search indexer"
  token       = env("SEARCH_KEY_ACME")
  permissions = ["search.read"]
}

tenant_key "preview" {
  tenant      = "acme"
  name        = "Preview"
  token       = env("PREVIEW_KEY")
  permissions = ["cms.read"]
}
