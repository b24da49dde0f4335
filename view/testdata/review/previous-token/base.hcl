tenant_key "website" {
  tenant = "acme"
  name   = "Website"
  token  = env("WEBSITE_KEY")
}

tenant_key "blog" {
  tenant = "acme"
  name   = "Blog"
  token  = env("BLOG_KEY")
}

tenant_key "shop" {
  tenant         = "acme"
  name           = "Shop"
  token          = env("SHOP_KEY")
  previous_token = env("SHOP_KEY_OLD")
  previous_until = "2026-05-20T00:00:00Z"
}
