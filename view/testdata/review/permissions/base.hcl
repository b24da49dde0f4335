tenant_key "website" {
  tenant = "acme"
  name   = "Website"
  token  = env("WEBSITE_KEY_ACME")
  permissions = [
    "cms.read",
    { name = "cms.contentEntry", rwd = "r", own = true },
    { name = "i18n.locale", locales = ["en-US"] },
    { name = "fm.file", rwd = "r", folders = ["public"] },
  ]
}

tenant_key "builder" {
  tenant      = "acme"
  name        = "Page builder"
  token       = env("BUILDER_KEY_ACME")
  permissions = ["wb.page"]
}
