# keys.hcl: the API keys keyprov provisions into PostgreSQL.
#
# This file is reviewed like code: every change shows up in a pull request,
# where `keyprov validate` checks it without any secret and `keyprov diff`
# flags risky changes. Token values never live here: they are read at apply
# time with env("NAME") or file("PATH"). A token written into this file is
# an error ("never commit a token").
#
# `make run` applies this file to a local PostgreSQL with the EXAMPLE tokens
# of examples/example-tokens.env and examples/secrets/search-keys.json.
#
#   keyprov validate                    # offline: no secret needed
#   keyprov validate --secrets          # also reads env()/file(), checks tokens
#   keyprov plan                        # what apply would change
#   keyprov apply                       # upsert, in one transaction

settings {
  # Every token must start with this prefix, followed by at least 32
  # characters from [A-Za-z0-9_-] (see README: token rules).
  token_prefix = "wat_"

  # Written on every key keyprov manages; keys of other owners are never
  # touched.
  owner = "platform"

  # Universal keys live in this tenant and reach every tenant.
  root_tenant = "root"

  # The permission catalog: every permission name must match one entry.
  # "cms.*" allows "cms.contentEntry" and "cms.endpoint.read" (any depth),
  # but not "cms" itself. An entry "*" would allow every name.
  allowed_permissions = [
    "content.i18n",
    "cms.*",
    "pb.*",
    "fm.*",
    "search:*",
  ]
}

# The tenants that get their own website and preview keys. Override per
# environment: -var 'tenants=["acme"]', -var-file prod.json, or
# KEYPROV_VAR_tenants='["acme","globex"]'.
variable "tenants" {
  type        = list(string)
  default     = ["acme", "globex"]
  description = "Tenants with a public website"
}

locals {
  team = "web-platform"

  # A Webiny-style read-only permission set for a public website: real
  # permission objects, nested attributes and empty values included, as the
  # application expects them.
  read_only_site = [
    { name = "content.i18n" },
    { name = "cms.endpoint.read" },
    { name = "cms.contentModelGroup", rwd = "r", own = false, pw = "" },
    { name = "cms.contentModel", rwd = "r", own = false, pw = "", models = { "en-US" = ["article", "author", "page"] } },
    { name = "cms.contentEntry", rwd = "r", own = false, pw = "p" },
    "pb.page",
  ]
}

# A universal key: it lives in the root tenant and reads every tenant's
# content. Its address is root/frontend.
universal_key "frontend" {
  name        = "Universal front-end key"
  description = "Next.js site rendering every tenant's pages (read-only)."
  token       = env("WEBINY_API_UNIVERSAL_KEY")
  permissions = local.read_only_site
  metadata    = { team = local.team, app = "nextjs-frontend" }
}

# One read-only key per tenant: acme/website, globex/website.
tenant_key "website" {
  for_each = toset(var.tenants)

  tenant      = each.key
  name        = "Website (${each.key})"
  description = "Public website of ${each.key}."
  token       = env("WEBSITE_KEY_${upper(each.key)}")
  permissions = local.read_only_site
  expires     = "2027-06-30T00:00:00Z"
  metadata    = { team = local.team, tenant = each.key }
}

# for_each over a map: each.key is the tenant, each.value its settings, and
# slug derives the key's slug per instance (acme/preview-blog, ...).
tenant_key "preview" {
  for_each = {
    acme   = { site = "blog", drafts = true }
    globex = { site = "shop", drafts = false }
  }

  slug   = "preview-${each.value.site}"
  tenant = each.key
  name   = "Preview of the ${each.value.site} (${each.key})"
  token  = env("PREVIEW_KEY_${upper(each.key)}")
  permissions = [
    { name = "cms.endpoint.preview" },
    { name = "cms.contentEntry", rwd = "r", pw = each.value.drafts ? "p" : "" },
  ]
  expires  = "2028-01-31T23:59:59Z"
  metadata = { team = local.team, site = each.value.site }
}

# Tokens from one mounted JSON secrets file: {"acme": "wat_...", ...}. In
# production the file is mounted by the orchestrator (for example at
# /run/secrets/search-keys.json); relative paths resolve against this file's
# folder, so the example file under examples/ is used here.
tenant_key "search" {
  for_each = toset(var.tenants)

  tenant      = each.key
  name        = "Search indexer (${each.key})"
  token       = jsondecode(file("examples/secrets/search-keys.json"))[each.key]
  permissions = ["search:index", "search:query", { name = "fm.file", rwd = "r" }]
  metadata    = { team = "search" }
}

# A universal key for the CI smoke tests, read from a mounted file (one
# trailing newline is trimmed).
universal_key "ci-smoke" {
  name        = "CI smoke tests"
  description = "Runs read-only checks against every tenant after a deploy."
  token       = file("examples/secrets/ci-smoke.txt")
  permissions = ["cms.endpoint.read", "pb.page"]
  expires     = "2027-12-31T00:00:00Z"
}
