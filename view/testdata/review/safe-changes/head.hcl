# Narrowing, renaming and cosmetic changes: no risk.
tenant_key "website" {
  tenant      = "acme"
  name        = "Public website"
  token       = env("WEBSITE_KEY_ACME")
  permissions = [{ name = "cms.contentEntry", rwd = "r", own = true }, "cms.read"]
  metadata    = { team = "web", cost_center = "42" }
  expires     = "2027-06-30T00:00:00Z"
}

tenant_key "journal" {
  tenant = "acme"
  name   = "Blog"
  token  = env("BLOG_KEY_ACME")
}

moved {
  from = "acme/blog"
  to   = "acme/journal"
}

tenant_key "newsletter" {
  tenant      = "acme"
  name        = "Newsletter"
  token       = env("NEWSLETTER_KEY_ACME")
  permissions = ["mail.send"]
  revoked     = false
}
