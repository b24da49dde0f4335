# The spec that the init container of deployment.yaml applies at every
# start of a pod. kustomization.yaml puts this file into the ConfigMap
# keyprov-spec, mounted at /etc/keyprov; a change to it is a new ConfigMap,
# so the pods roll and apply it.
#
# Each token is an entry of the Secret keyprov-tokens, which the init
# container reads into its environment (secretKeyRef). The example tokens of
# example-tokens.env let you try it locally:
#
#   set -a; . examples/kubernetes/example-tokens.env; set +a
#   keyprov validate --secrets -f examples/kubernetes

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
  token       = env("FRONTEND_KEY")
  permissions = ["content.read"]
}

tenant_key "editor" {
  tenant      = "acme"
  name        = "Editorial tools (acme)"
  token       = env("EDITOR_KEY_ACME")
  permissions = ["content.read", "content.write"]
}

tenant_key "reporting" {
  tenant      = "globex"
  name        = "Reporting (globex)"
  token       = env("REPORTING_KEY_GLOBEX")
  permissions = ["reports:read"]
}
