# The reconciler worker: reads cluster tokens and SSH keys, nothing else (it never writes a secret).
path "secret/data/controlplane/clusters/*" {
  capabilities = ["read"]
}
path "secret/data/controlplane/ssh/*" {
  capabilities = ["read"]
}
