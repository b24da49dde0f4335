# Every way of widening permissions.
tenant_key "website" {
  tenant = "acme"
  name   = "Website"
  token  = env("WEBSITE_KEY_ACME")
  permissions = [
    "cms.read",
    "cms.write",
    { name = "cms.contentEntry", rwd = "rw" },
    { name = "i18n.locale", locales = ["en-US", "de-DE"] },
    { name = "fm.file", rwd = "r" },
  ]
}

tenant_key "builder" {
  tenant      = "acme"
  name        = "Page builder"
  token       = env("BUILDER_KEY_ACME")
  permissions = ["wb.*"]
}
