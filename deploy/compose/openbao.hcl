# OpenBao for compose.yaml: a real server (not -dev) on integrated (raft) storage, one node.
# The listener has no TLS on the compose network; give it a certificate (tls_cert_file, tls_key_file)
# when OpenBao is reached from other hosts.
ui            = false
disable_mlock = true

storage "raft" {
  path    = "/openbao/data"
  node_id = "openbao-1"
}

listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true
}

api_addr     = "http://openbao:8200"
cluster_addr = "http://openbao:8201"
