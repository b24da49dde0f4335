# Tenants come from a JSON variable file (tenants.json, kept next to this
# spec and reviewed with it); their tokens come from one JSON secrets file
# mounted at run time: {"acme": "wat_...", "globex": "wat_...", ...}.

variable "tenants" {
  description = "Tenant name => plan, from tenants.json (-var-file)"
  type = map(object({
    plan     = string
    contacts = list(string)
  }))
}

variable "secrets_file" {
  description = "The mounted secrets file; relative paths resolve against this folder"
  type        = string
  default     = "secrets/tenant-keys.json"
}

locals {
  permissions = {
    basic = [{ name = "cms.endpoint.read" }, { name = "cms.contentEntry", rwd = "r" }]
    pro = [
      { name = "cms.endpoint.read" },
      { name = "cms.endpoint.preview" },
      { name = "cms.contentEntry", rwd = "rw", pw = "p" },
    ]
  }
}

# One key per tenant of tenants.json: acme/api, globex/api, ...
tenant_key "api" {
  for_each = var.tenants

  tenant      = each.key
  name        = "API key (${each.key}, ${each.value.plan})"
  description = "Contacts: ${join(", ", each.value.contacts)}"
  token       = jsondecode(file(var.secrets_file))[each.key]
  permissions = local.permissions[each.value.plan]
  metadata    = { plan = each.value.plan }
}
