# Webiny: one universal key for the Next.js front end (full access across
# every tenant) and one read-only key per tenant for each tenant's website.

variable "tenants" {
  type        = list(string)
  default     = ["acme", "globex", "initech"]
  description = "Webiny tenants with a public website"
}

locals {
  # Read-only access to published content, as Webiny's API key editor
  # stores it.
  read_only_site = [
    { name = "content.i18n" },
    { name = "cms.endpoint.read" },
    { name = "cms.contentModelGroup", rwd = "r", own = false, pw = "" },
    { name = "cms.contentModel", rwd = "r", own = false, pw = "" },
    { name = "cms.contentEntry", rwd = "r", own = false, pw = "" },
    { name = "pb.page", rwd = "r", own = false, pw = "" },
  ]
}

# root/frontend: full access ("*") in every tenant.
universal_key "frontend" {
  name        = "Universal front-end key"
  description = "Next.js site, every tenant"
  token       = env("WEBINY_API_UNIVERSAL_KEY")
  permissions = [{ name = "*" }]
  metadata    = { team = "web" }
}

# acme/website, globex/website, initech/website: read-only, one per tenant.
tenant_key "website" {
  for_each = toset(var.tenants)

  tenant      = each.key
  name        = "Website (${each.key})"
  token       = env("WEBSITE_KEY_${upper(each.key)}")
  permissions = local.read_only_site
  expires     = "2027-06-30T00:00:00Z"
  metadata    = { team = "web", tenant = each.key }
}
