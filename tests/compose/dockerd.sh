#!/usr/bin/env bash
# Starts Debian's dockerd (package docker.io) in the background when no daemon answers; run as root.
# Its log goes to /var/log/controlplane-dockerd.log. A daemon that already runs is left alone.
set -euo pipefail

docker="${DOCKER:-docker}"
if "$docker" info >/dev/null 2>&1; then
  exit 0
fi
if ! command -v dockerd >/dev/null; then
  if [ "$(id -u)" != 0 ]; then
    echo "error: no Docker daemon; install one: sudo apt-get install -y docker.io docker-compose debootstrap" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io docker-compose debootstrap >/dev/null
fi
[ "$(id -u)" = 0 ] || { echo "error: no Docker daemon answers, and starting one needs root" >&2; exit 1; }
echo "docker: starting dockerd (log: /var/log/controlplane-dockerd.log)"
nohup dockerd >/var/log/controlplane-dockerd.log 2>&1 &
for _ in $(seq 1 60); do
  "$docker" info >/dev/null 2>&1 && { echo "docker: daemon ready"; exit 0; }
  sleep 1
done
echo "error: dockerd did not answer within 60 s; its log ends with:" >&2
tail -20 /var/log/controlplane-dockerd.log >&2
exit 1
