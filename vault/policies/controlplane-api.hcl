# The API: registers clusters (writes, reads, replaces and removes their token secrets) and creates, then
# reads, its JWT signing key. Nothing else: no SSH keys, no other paths, no auth or sys endpoints.
path "secret/data/controlplane/clusters/*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "secret/metadata/controlplane/clusters/*" {
  capabilities = ["read", "delete"]
}
path "secret/data/controlplane/system/jwt" {
  capabilities = ["create", "read"]
}
