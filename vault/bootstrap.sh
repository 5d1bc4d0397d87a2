#!/usr/bin/env bash
# Prepare a Vault or OpenBao server for the control plane; safe to run again (it changes only what differs).
#
#   VAULT_ADDR=https://vault.example:8200 VAULT_TOKEN=<admin token> vault/bootstrap.sh
#
# - enables KV v2 at $CONTROLPLANE_VAULT_KV_MOUNT (default: secret) and the AppRole auth method;
# - writes the policies controlplane-api, controlplane-worker and controlplane-operator (vault/policies/,
#   with the KV mount put in);
# - creates the AppRole roles controlplane-api and controlplane-worker (renewable tokens of
#   $TOKEN_TTL, at most $TOKEN_MAX_TTL) and prints their role ids.
# A secret id for a service is made afterwards, once per deployment:
#   vault write -f -field=secret_id auth/approle/role/controlplane-worker/secret-id
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cli="${VAULT_CLI:-$(command -v bao || command -v vault || true)}"
if [[ -z "$cli" ]]; then
  echo "bootstrap: neither bao nor vault is on PATH (set VAULT_CLI)" >&2
  exit 2
fi
: "${VAULT_ADDR:?set VAULT_ADDR to the server address}"
: "${VAULT_TOKEN:?set VAULT_TOKEN to a token that may manage mounts, auth methods and policies}"
export BAO_ADDR="${BAO_ADDR:-$VAULT_ADDR}" BAO_TOKEN="${BAO_TOKEN:-$VAULT_TOKEN}"
mount="${CONTROLPLANE_VAULT_KV_MOUNT:-secret}"
token_ttl="${TOKEN_TTL:-1h}"
token_max_ttl="${TOKEN_MAX_TTL:-24h}"
if [[ ! "$mount" =~ ^[A-Za-z0-9_-]+$ ]]; then
  echo "bootstrap: CONTROLPLANE_VAULT_KV_MOUNT must be letters, digits, _ or -" >&2
  exit 2
fi

mounts="$("$cli" secrets list -format=json)"
if [[ "$mounts" != *"\"$mount/\""* ]]; then
  "$cli" secrets enable -path="$mount" -version=2 kv
  echo "bootstrap: enabled KV v2 at $mount/"
fi
auths="$("$cli" auth list -format=json)"
if [[ "$auths" != *'"approle/"'* ]]; then
  "$cli" auth enable approle
  echo "bootstrap: enabled AppRole"
fi
for policy in "$here"/policies/*.hcl; do
  name="$(basename "$policy" .hcl)"
  sed "s#^path \"secret/#path \"$mount/#" "$policy" | "$cli" policy write "$name" - >/dev/null
  echo "bootstrap: policy $name written"
done
for role in api worker; do
  "$cli" write "auth/approle/role/controlplane-$role" token_policies="controlplane-$role" \
    token_ttl="$token_ttl" token_max_ttl="$token_max_ttl" secret_id_ttl=0 >/dev/null
  echo "bootstrap: role controlplane-$role, role id $("$cli" read -field=role_id "auth/approle/role/controlplane-$role/role-id")"
done
