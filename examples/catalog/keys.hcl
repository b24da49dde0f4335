# A permission catalog: settings.allowed_permissions lists every permission
# name a key may be granted. A typo or an unplanned permission ("cms.delete",
# "billing.export") fails validation in the pull request that adds it.
#
# Entries are exact names ("content.i18n") or prefixes ending in ".*" or ":*":
# "cms.*" allows "cms.contentEntry" and "cms.endpoint.read", but not "cms".
# An entry "*" would allow every name, so this catalog has none: no key here
# may be granted full access.

settings {
  owner = "platform"

  allowed_permissions = [
    "content.i18n",
    "cms.endpoint.*",
    "cms.contentModel",
    "cms.contentEntry",
    "pb.*",
    "reports:*",
  ]
}

universal_key "frontend" {
  name  = "Front end, every tenant"
  token = env("CATALOG_FRONTEND_KEY")
  permissions = [
    "content.i18n",
    "cms.endpoint.read",
    { name = "cms.contentModel", rwd = "r" },
    { name = "cms.contentEntry", rwd = "r", pw = "" },
    "pb.page",
  ]
}

tenant_key "editor" {
  tenant = "acme"
  name   = "Editorial tools (acme)"
  token  = env("CATALOG_EDITOR_KEY_ACME")
  permissions = [
    "cms.endpoint.manage",
    { name = "cms.contentEntry", rwd = "rwd", pw = "rcpu" },
  ]
}

tenant_key "reporting" {
  tenant      = "globex"
  name        = "Reporting (globex)"
  token       = env("CATALOG_REPORTING_KEY_GLOBEX")
  permissions = ["reports:read", "reports:export"]
  expires     = "2027-09-30T00:00:00Z"
}
