# An operator: manages every secret of the control plane (cluster tokens, SSH keys, the signing key, e.g. to
# rotate it), and hands out AppRole credentials of the control plane's roles. Not a root token.
path "secret/data/controlplane/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "secret/metadata/controlplane/*" {
  capabilities = ["read", "delete", "list"]
}
path "auth/approle/role/controlplane-api/*" {
  capabilities = ["read", "create", "update"]
}
path "auth/approle/role/controlplane-worker/*" {
  capabilities = ["read", "create", "update"]
}
path "sys/policies/acl/controlplane-*" {
  capabilities = ["read", "list"]
}
