#!/usr/bin/env bash
# Makes a Debian bookworm base image without an image registry: debootstrap a minimal root from the Debian
# mirror apt uses here and `docker import` it. Skipped when the image exists.
#
#   tests/compose/base-image.sh [IMAGE]      (default: controlplane-base:bookworm; run as root)
set -euo pipefail

image="${1:-controlplane-base:bookworm}"
docker="${DOCKER:-docker}"
if "$docker" image inspect "$image" >/dev/null 2>&1; then
  echo "base: $image already present"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "error: debootstrap is missing (apt-get install debootstrap)" >&2; exit 1; }
# The mirror apt is configured with (deb822 sources or a sources.list line), else deb.debian.org.
mirror=$(grep -rhoE '^(URIs:[[:space:]]*|deb[[:space:]]+)https?://[^[:space:]]+/debian/?' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
  | head -1 | grep -oE 'https?://[^[:space:]]+' || true)
mirror="${mirror:-http://deb.debian.org/debian}"
root=$(mktemp -d /var/tmp/controlplane-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "base: debootstrap bookworm from $mirror"
start=$SECONDS
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1 || { tail -20 "$root.log" >&2; exit 1; }
rm -f "$root.log"
# What debian:bookworm-slim also does: no caches or docs kept, apt cleans up after itself.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
printf 'APT::Install-Recommends "false";\n' > "$root/etc/apt/apt.conf.d/00norecommends"
# The same package sources as this host (updates and security too), and the CA certificates it trusts
# beyond Debian's (an HTTPS proxy of the site, say): ca-certificates adds them when an image installs it.
cp -a /etc/apt/sources.list.d/. "$root/etc/apt/sources.list.d/" 2>/dev/null || true
[ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$root/etc/apt/sources.list"
mkdir -p "$root/usr/local/share/ca-certificates"
cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
tar -C "$root" -c . | "$docker" import - "$image" >/dev/null
echo "base: $image imported in $((SECONDS - start))s"
