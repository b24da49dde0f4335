# A previous token added without a token change: a second token for the
# key (high).
tenant_key "website" {
  tenant         = "acme"
  name           = "Website"
  token          = env("WEBSITE_KEY")
  previous_token = env("X")
  previous_until = "2030-01-01T00:00:00Z"
}

# A rolling rotation that keeps the old token valid for two months
# (medium), and the rotation itself (medium).
tenant_key "blog" {
  tenant         = "acme"
  name           = "Blog"
  token          = env("BLOG_KEY_2026")
  previous_token = env("BLOG_KEY")
  previous_until = "2026-07-01T00:00:00Z"
}

# previous_until moved later (medium).
tenant_key "shop" {
  tenant         = "acme"
  name           = "Shop"
  token          = env("SHOP_KEY")
  previous_token = env("SHOP_KEY_OLD")
  previous_until = "2026-06-01T00:00:00Z"
}
