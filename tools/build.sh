#!/usr/bin/env bash
# Builds the pinned OpenTofu, bpg/proxmox provider and Helm with Go into .tools/, once.
#
#   tools/build.sh            build what is missing (tofu, the provider mirror and helm)
#   tools/build.sh --for-run  as above, but skip tofu when tofu or terraform is already on PATH, and skip helm
#                             (only the tests need it)
#   tools/build.sh --no-helm  tofu and the provider mirror only (the container image: it carries no Helm)
#
# Layout produced:
#   .tools/bin/tofu
#   .tools/bin/helm   (the chart's lint and template tests)
#   .tools/providers/<registry>/bpg/proxmox/<version>/<os>_<arch>/terraform-provider-proxmox_v<version>
#     for both registry.opentofu.org and registry.terraform.io (a filesystem mirror)
#   .tools/tofurc   a CLI configuration that installs bpg/proxmox from that mirror
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=versions.env
source "$root/tools/versions.env"
tools="$root/.tools"
export GOTOOLCHAIN=local GOFLAGS="-mod=mod" CGO_ENABLED=0
goos=$(go env GOOS); goarch=$(go env GOARCH)

for_run=0 helm=1
case "${1:-}" in
  --for-run) for_run=1 helm=0 ;;
  --no-helm) helm=0 ;;
  "") ;;
  *) echo "usage: tools/build.sh [--for-run | --no-helm]" >&2; exit 2 ;;
esac

command -v go >/dev/null || { echo "error: Go is needed to build OpenTofu and the provider (install golang)" >&2; exit 1; }
mkdir -p "$tools/bin"

# Runs a long command, printing a line every 20 seconds so a first build visibly makes progress.
with_progress() {
  local label=$1; shift
  "$@" &
  local pid=$! seconds=0
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    seconds=$((seconds + 1))
    if (( seconds % 20 == 0 )) && kill -0 "$pid" 2>/dev/null; then
      echo "tools: ... still building $label (${seconds}s)"
    fi
  done
  wait "$pid"
}

go_build_tofu() {
  cd "$root/tools/tofu" && go build -trimpath -ldflags "-s -w -X github.com/opentofu/opentofu/version.dev=no" \
    -o "$tools/bin/tofu.tmp" github.com/opentofu/opentofu/cmd/tofu
}

go_build_provider() {
  cd "$root/tools/bpg" && go build -trimpath -ldflags "-s -w -X main.version=$BPG_PROVIDER_VERSION" \
    -o "$1" github.com/bpg/terraform-provider-proxmox
}

go_build_helm() {
  cd "$root/tools/helm" || return
  # as Helm's own Makefile: the default Kubernetes version is the one its client-go speaks (v0.N.x -> 1.N)
  local minor pkg=helm.sh/helm/v3/pkg
  minor=$(go list -f '{{.Version}}' -m k8s.io/client-go | cut -d. -f2)
  go build -trimpath -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION \
    -X $pkg/chartutil.k8sVersionMajor=1 -X $pkg/chartutil.k8sVersionMinor=$minor \
    -X $pkg/lint/rules.k8sVersionMajor=1 -X $pkg/lint/rules.k8sVersionMinor=$minor" \
    -o "$tools/bin/helm.tmp" helm.sh/helm/v3/cmd/helm
}

stamp_ok() { [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]; }

build_tofu() {
  local stamp="$tools/bin/.tofu-version"
  if stamp_ok "$stamp" "$TOFU_VERSION" && [ -x "$tools/bin/tofu" ]; then
    echo "tools: OpenTofu $TOFU_VERSION already built"; return
  fi
  echo "tools: building OpenTofu $TOFU_VERSION with $(go version | cut -d' ' -f3) (a few minutes the first time)..."
  local start=$SECONDS
  with_progress OpenTofu go_build_tofu
  mv "$tools/bin/tofu.tmp" "$tools/bin/tofu"
  echo "$TOFU_VERSION" > "$stamp"
  echo "tools: OpenTofu built in $((SECONDS - start))s -> $tools/bin/tofu"
}

build_helm() {
  local stamp="$tools/bin/.helm-version"
  if stamp_ok "$stamp" "$HELM_VERSION" && [ -x "$tools/bin/helm" ]; then
    echo "tools: Helm $HELM_VERSION already built"; return
  fi
  echo "tools: building Helm $HELM_VERSION (a minute or two the first time)..."
  local start=$SECONDS
  with_progress Helm go_build_helm
  mv "$tools/bin/helm.tmp" "$tools/bin/helm"
  echo "$HELM_VERSION" > "$stamp"
  echo "tools: Helm built in $((SECONDS - start))s -> $tools/bin/helm"
}

build_provider() {
  local name="terraform-provider-proxmox_v$BPG_PROVIDER_VERSION"
  local cache="$tools/cache/$name"
  local stamp="$tools/providers/.bpg-version"
  if ! stamp_ok "$stamp" "$BPG_PROVIDER_VERSION" || [ ! -x "$cache" ]; then
    echo "tools: building bpg/proxmox provider $BPG_PROVIDER_VERSION (a minute or two the first time)..."
    local start=$SECONDS
    mkdir -p "$tools/cache"
    with_progress "the provider" go_build_provider "$cache.tmp"
    mv "$cache.tmp" "$cache"
    echo "tools: provider built in $((SECONDS - start))s"
  else
    echo "tools: bpg/proxmox provider $BPG_PROVIDER_VERSION already built"
  fi
  for registry in registry.opentofu.org registry.terraform.io; do
    local dir="$tools/providers/$registry/bpg/proxmox/$BPG_PROVIDER_VERSION/${goos}_${goarch}"
    mkdir -p "$dir"
    ln -f "$cache" "$dir/$name" 2>/dev/null || cp -f "$cache" "$dir/$name"
  done
  echo "$BPG_PROVIDER_VERSION" > "$stamp"
  cat > "$tools/tofurc" <<RC
provider_installation {
  filesystem_mirror {
    path    = "$tools/providers"
    include = ["registry.opentofu.org/bpg/proxmox", "registry.terraform.io/bpg/proxmox"]
  }
  direct {
    exclude = ["registry.opentofu.org/bpg/proxmox", "registry.terraform.io/bpg/proxmox"]
  }
}
RC
}

if [ $for_run = 1 ] && { command -v tofu >/dev/null || command -v terraform >/dev/null; }; then
  echo "tools: using $(command -v tofu || command -v terraform) from PATH"
else
  build_tofu
fi
build_provider
[ $helm = 0 ] || build_helm
