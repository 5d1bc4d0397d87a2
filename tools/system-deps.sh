#!/usr/bin/env bash
# Makes sure the Debian packages the tests need are installed: redis-server, openssh-server, chromium (the
# portal's browser tests), npm (the portal's pinned browser code), postgresql (a Debian PostgreSQL server for
# the production-topology test) and docker-compose (compose.yaml's check).
# As root it installs what is missing; otherwise it names the command to run and fails.
set -euo pipefail

missing=()
command -v redis-server >/dev/null || [ -x /usr/bin/redis-server ] || missing+=(redis-server)
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v chromium >/dev/null || missing+=(chromium)
command -v npm >/dev/null || missing+=(npm)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
command -v docker-compose >/dev/null || missing+=(docker-compose)  # checks compose.yaml (no daemon needed)

if [ ${#missing[@]} -eq 0 ]; then
  echo "system: redis-server, sshd, chromium, npm, postgresql and docker-compose present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "error: missing Debian packages: ${missing[*]}" >&2
  echo "       install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "system: installing ${missing[*]} ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The packages' own services are not needed: tests start their own servers on free ports.
for svc in redis-server ssh postgresql; do
  if command -v service >/dev/null; then service "$svc" stop >/dev/null 2>&1 || true; fi
done
echo "system: installed ${missing[*]}"
