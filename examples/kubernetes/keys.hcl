# The spec that the init container of deployment.yaml applies at every
# start of a pod. kustomization.yaml puts this file into the ConfigMap
# keyprov-spec, mounted at /etc/keyprov; a change to it is a new ConfigMap,
# so the pods roll and apply it.
#
# Tokens are files of the Secret keyprov-tokens, mounted at
# /run/secrets/keyprov-tokens: one file a key, named after it.

settings {
  owner = "api"

  allowed_permissions = [
    "content.read",
    "content.write",
    "reports:*",
  ]
}

universal_key "frontend" {
  name        = "Front end, every tenant"
  token       = file("/run/secrets/keyprov-tokens/frontend")
  permissions = ["content.read"]
}

tenant_key "editor" {
  tenant      = "acme"
  name        = "Editorial tools (acme)"
  token       = file("/run/secrets/keyprov-tokens/editor-acme")
  permissions = ["content.read", "content.write"]
}

tenant_key "reporting" {
  tenant      = "globex"
  name        = "Reporting (globex)"
  token       = file("/run/secrets/keyprov-tokens/reporting-globex")
  permissions = ["reports:read"]
}
