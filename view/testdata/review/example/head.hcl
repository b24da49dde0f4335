settings {
  owner = "platform"
}

universal_key "frontend" {
  name        = "Universal front-end key"
  token       = env("WEBINY_API_UNIVERSAL_KEY")
  permissions = [{ name = "cms.contentEntry", rwd = "rw" }]
}

tenant_key "website" {
  for_each    = toset(["acme", "globex", "initech"])
  tenant      = each.key
  name        = "Website (${each.key})"
  token       = env("WEBSITE_KEY_${upper(each.key)}")
  permissions = ["cms.read"]
  expires     = "2027-06-30T00:00:00Z"
}

universal_key "search" {
  name        = "Search indexer"
  token       = env("SEARCH_INDEXER_KEY")
  permissions = ["search.*"]
}
