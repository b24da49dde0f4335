tenant_key "website" {
  tenant      = "acme"
  name        = "Website"
  description = "Public site"
  token       = env("WEBSITE_KEY_ACME")
  permissions = [{ name = "cms.contentEntry", rwd = "rwd" }, "cms.write", "cms.read"]
  metadata    = { team = "web" }
}

tenant_key "blog" {
  tenant = "acme"
  name   = "Blog"
  token  = env("BLOG_KEY_ACME")
}
