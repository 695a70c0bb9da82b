#!/usr/bin/env bash
# npm run toolchain: builds every tool the stack needs from the package registries (Go module
# proxy, Debian) into $INCEPTION_TOOLCHAIN, a cache directory keyed by toolchain/versions.env.
# Idempotent: each step leaves a stamp and is skipped when its stamp matches. A tool already on
# PATH at the pinned version is linked instead of built.
#
#   scripts/toolchain.sh            build what is missing
#   scripts/toolchain.sh --check    exit 0 when the toolchain is complete, 1 otherwise (builds nothing;
#                                   the images it built must be in Docker's store, so Docker must answer)
#   scripts/toolchain.sh --start-services   start the Docker engine if it is installed and silent
#                                   (CI and new sessions start with no dockerd); builds nothing
#   scripts/toolchain.sh --print    print the toolchain directory
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"

TC="$INCEPTION_TOOLCHAIN"
BIN="$TC/bin"
# Provider plugins are installed into PULUMI_HOME from here; kept off PATH so pulumi does not warn
# that it uses a plugin found on PATH.
PLUGIN_BIN="$TC/plugin-bin"
WORK="$TC/work"
LOGS="$TC/logs"
STAMPS="$TC/stamps"

case "${1:-}" in
  # Complete = every step finished and the images it built are still in Docker's store.
  --check)
    [ -f "$TC/complete" ] && docker info >/dev/null 2>&1 &&
      "$INCEPTION_ROOT/scripts/node-image.sh" --check >/dev/null 2>&1 &&
      "$INCEPTION_ROOT/scripts/mock-images.sh" --check && exit 0 || exit 1
    ;;
  --start-services) start_services=1 ;;
  --print) echo "$TC"; exit 0 ;;
  "") ;;
  *) die "unknown argument '$1' (expected --check, --start-services, --print or nothing)" ;;
esac

mkdir -p "$BIN" "$PLUGIN_BIN" "$WORK" "$LOGS" "$STAMPS" "$GOMODCACHE" "$GOCACHE"
[ -n "${start_services:-}" ] || rm -f "$TC/complete"

# on_path TOOL: prints the path of the first TOOL on PATH outside $BIN.
on_path() {
  local tool="$1" p
  p=$(PATH="${PATH//$BIN:/}" command -v "$tool" 2>/dev/null) || return 1
  echo "$p"
}

# ── 1. Docker engine ─────────────────────────────────────────────────────────────────────────
ensure_docker() {
  step_start "docker engine"
  if docker info >/dev/null 2>&1; then step_done "already answering"; return; fi
  if ! command -v dockerd >/dev/null 2>&1; then
    say "   installing Debian's docker.io (apt)"
    export DEBIAN_FRONTEND=noninteractive
    run_logged "apt-get install docker.io" "$LOGS/apt-docker.log" \
      bash -c 'apt-get update -qq && apt-get install -y -qq --no-install-recommends docker.io iptables'
  fi
  say "   starting dockerd (log: $INCEPTION_CACHE/dockerd.log)"
  mkdir -p "$INCEPTION_CACHE"
  nohup dockerd >"$INCEPTION_CACHE/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && { step_done "started"; return; }
    sleep 1
  done
  tail -n 20 "$INCEPTION_CACHE/dockerd.log" >&2
  die "dockerd did not answer 'docker info' within 60 s"
}

# ── 1b. Node.js for the host (outside this directory: see host_node in scripts/lib.sh) ───────────
install_host_node() {
  step_start "Node.js $NODE_WHEEL_VERSION for the host"
  if [ -x "$INCEPTION_HOST_NODE/bin/node" ]; then step_done "present ($INCEPTION_HOST_NODE)"; return; fi
  host_node
  step_done "installed ($INCEPTION_HOST_NODE)"
}

# ── 2. Pulumi CLI ────────────────────────────────────────────────────────────────────────────
build_pulumi() {
  step_start "pulumi v$PULUMI_VERSION"
  local want="v$PULUMI_VERSION" p
  if stamped pulumi "$want" && [ -x "$BIN/pulumi" ]; then step_done "cached"; return; fi
  if p=$(on_path pulumi) && [ "$("$p" version 2>/dev/null)" = "$want" ]; then
    ln -sf "$p" "$BIN/pulumi"; stamp pulumi "$want"; step_done "linked $p"; return
  fi
  # pkg/go.mod replaces sdk with ../sdk, so `go install pkg@version` cannot work: build from a
  # wrapper module that requires pkg and sdk at the same version.
  local mod="$WORK/pulumi-cli"
  rm -rf "$mod" && mkdir -p "$mod"
  cat >"$mod/go.mod" <<EOF
module inception.local/pulumi-cli

go 1.26

require (
	github.com/pulumi/pulumi/pkg/v3 $want
	github.com/pulumi/pulumi/sdk/v3 $want
)

replace github.com/atotto/clipboard => github.com/tgummerer/clipboard v0.0.0-20241001131231-d02d263e614e
EOF
  (cd "$mod" && run_logged "go get pulumi" "$LOGS/pulumi-get.log" \
    go get "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$want")
  (cd "$mod" && run_logged "go build pulumi" "$LOGS/pulumi-build.log" \
    go build -v -o "$BIN/pulumi" \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$want" \
    github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
  stamp pulumi "$want"
  step_done "built $("$BIN/pulumi" version)"
}

# ── 3. Own Go tools: the Node.js language host and the command provider ────────────────────────
# Upstream's pulumi-language-nodejs and pulumi-command modules are not served by the Go module
# proxy here, so the project ships its own (toolchain/go, see docs/toolchain.md).
build_own_go() {
  step_start "inception Go tools (language host, command provider)"
  local src="$INCEPTION_ROOT/toolchain/go" h
  h="$(cd "$src" && find . -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
  h="$h-$PULUMI_COMMAND_VERSION"
  if stamped own-go "$h" && [ -x "$BIN/pulumi-language-nodejs" ] && [ -x "$PLUGIN_BIN/pulumi-resource-command" ]; then
    step_done "cached"; return 0
  fi
  (cd "$src" && run_logged "go build own tools" "$LOGS/own-go.log" bash -c "
    go build -v -o '$BIN/pulumi-language-nodejs' ./cmd/pulumi-language-nodejs &&
    go build -v -o '$PLUGIN_BIN/pulumi-resource-command' \
      -ldflags '-X main.version=$PULUMI_COMMAND_VERSION' ./cmd/pulumi-resource-command")
  # Dynamic providers: the engine runs this name; it starts @pulumi/pulumi's dynamic provider.
  cat >"$BIN/pulumi-resource-pulumi-nodejs" <<'EOF'
#!/bin/sh
exec node ./node_modules/@pulumi/pulumi/cmd/dynamic-provider "$@"
EOF
  chmod +x "$BIN/pulumi-resource-pulumi-nodejs"
  stamp own-go "$h"
  step_done "built"
}

# ── 4. pulumi-resource-kubernetes ─────────────────────────────────────────────────────────────
build_kubernetes_provider() {
  step_start "pulumi-resource-kubernetes v$PULUMI_KUBERNETES_VERSION"
  local want="$PULUMI_KUBERNETES_VERSION/$PULUMI_KUBERNETES_MODULE_VERSION"
  if stamped k8s-provider "$want" && [ -x "$PLUGIN_BIN/pulumi-resource-kubernetes" ]; then step_done "cached"; return; fi
  local src dir="$WORK/pulumi-kubernetes"
  src=$(go mod download -json "github.com/pulumi/pulumi-kubernetes/provider/v4@$PULUMI_KUBERNETES_MODULE_VERSION" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "$src" ] || die "could not download the kubernetes provider module"
  # The module replaces its sdk with ../sdk (the same commit's Go SDK, not in the module zip); the
  # published sdk module of the same release is that code.
  rm -rf "$dir" && mkdir -p "$dir"
  cp -r "$src" "$dir/provider" && chmod -R u+w "$dir/provider"
  (cd "$dir/provider" && go mod edit -replace \
    "github.com/pulumi/pulumi-kubernetes/sdk/v4=github.com/pulumi/pulumi-kubernetes/sdk/v4@v$PULUMI_KUBERNETES_VERSION")
  (cd "$dir/provider/cmd/pulumi-resource-kubernetes" &&
    run_logged "go generate (schema)" "$LOGS/k8s-generate.log" \
      env VERSION="$PULUMI_KUBERNETES_VERSION" go run -mod=mod ./generate.go)
  (cd "$dir/provider" && run_logged "go build pulumi-resource-kubernetes" "$LOGS/k8s-provider-build.log" \
    env CGO_ENABLED=0 go build -mod=mod -v -o "$PLUGIN_BIN/pulumi-resource-kubernetes" \
    -ldflags "-s -w -X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PULUMI_KUBERNETES_VERSION" \
    ./cmd/pulumi-resource-kubernetes)
  stamp k8s-provider "$want"
  step_done "built"
}

# ── 5. kind, crictl ───────────────────────────────────────────────────────────────────────────
build_kind() {
  step_start "kind $KIND_VERSION"
  local p
  if stamped kind "$KIND_VERSION" && [ -x "$BIN/kind" ]; then step_done "cached"; return; fi
  if p=$(on_path kind) && "$p" version 2>/dev/null | grep -q "^kind $KIND_VERSION "; then
    ln -sf "$p" "$BIN/kind"; stamp kind "$KIND_VERSION"; step_done "linked $p"; return
  fi
  run_logged "go install kind" "$LOGS/kind.log" env GOBIN="$BIN" go install -v "sigs.k8s.io/kind@$KIND_VERSION"
  stamp kind "$KIND_VERSION"
  step_done "built $("$BIN/kind" version)"
}

build_crictl() {
  step_start "crictl $CRICTL_VERSION"
  local p
  if stamped crictl "$CRICTL_VERSION" && [ -x "$BIN/crictl" ]; then step_done "cached"; return; fi
  if p=$(on_path crictl) && "$p" --version 2>/dev/null | grep -q "$CRICTL_VERSION\$"; then
    ln -sf "$p" "$BIN/crictl"; stamp crictl "$CRICTL_VERSION"; step_done "linked $p"; return
  fi
  run_logged "go install crictl" "$LOGS/crictl.log" env GOBIN="$BIN" CGO_ENABLED=0 go install -v \
    -ldflags "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" \
    "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
  stamp crictl "$CRICTL_VERSION"
  step_done "built $("$BIN/crictl" --version)"
}

# ── 6. Kubernetes binaries (kubectl here; the node image adds the server side) ─────────────────
# build_kube NAME...: builds k8s.io/kubernetes/cmd/NAME for each name into $BIN.
build_kube() {
  local mod missing=() n
  for n in "$@"; do
    stamped "kube-$n" "$KUBERNETES_VERSION" && [ -x "$BIN/$n" ] || missing+=("$n")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  mod=$(kube_module)
  if [ ! -f "$mod/go.sum" ] || ! stamped kube-get "$KUBERNETES_VERSION"; then
    (cd "$mod" && run_logged "go get k8s.io/kubernetes" "$LOGS/kube-get.log" \
      go get "k8s.io/kubernetes/cmd/kubectl@$KUBERNETES_VERSION")
    stamp kube-get "$KUBERNETES_VERSION"
  fi
  local ld pkgs=()
  ld=$(kube_ldflags)
  for n in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$n"); done
  (cd "$mod" && run_logged "go build ${missing[*]}" "$LOGS/kube-build.log" \
    env CGO_ENABLED=0 go build -mod=mod -v -ldflags "$ld" -o "$BIN/" "${pkgs[@]}")
  for n in "${missing[@]}"; do stamp "kube-$n" "$KUBERNETES_VERSION"; done
}

build_kubectl() {
  step_start "kubectl $KUBERNETES_VERSION"
  local p
  if stamped kube-kubectl "$KUBERNETES_VERSION" && [ -x "$BIN/kubectl" ]; then step_done "cached"; return; fi
  if p=$(on_path kubectl) && "$p" version --client -o json 2>/dev/null | grep -q "\"gitVersion\": \"$KUBERNETES_VERSION\""; then
    ln -sf "$p" "$BIN/kubectl"; stamp kube-kubectl "$KUBERNETES_VERSION"; step_done "linked $p"; return
  fi
  build_kube kubectl
  step_done "built $("$BIN/kubectl" version --client 2>/dev/null | head -n 1)"
}

# ── 7. Plugins into PULUMI_HOME ───────────────────────────────────────────────────────────────
install_plugins() {
  step_start "pulumi plugins"
  local name ver file
  for spec in "kubernetes $PULUMI_KUBERNETES_VERSION pulumi-resource-kubernetes" \
    "command $PULUMI_COMMAND_VERSION pulumi-resource-command"; do
    read -r name ver file <<<"$spec"
    if [ -d "$PULUMI_HOME/plugins/resource-$name-v$ver" ] && stamped "plugin-$name" "$(sha256sum "$PLUGIN_BIN/$file" | cut -c1-16)"; then
      continue
    fi
    rm -rf "$PULUMI_HOME/plugins/resource-$name-v$ver"*
    "$BIN/pulumi" plugin install resource "$name" "$ver" --file "$PLUGIN_BIN/$file" >"$LOGS/plugin-$name.log" 2>&1 ||
      { cat "$LOGS/plugin-$name.log" >&2; die "pulumi plugin install $name failed"; }
    stamp "plugin-$name" "$(sha256sum "$PLUGIN_BIN/$file" | cut -c1-16)"
  done
  step_done "$("$BIN/pulumi" plugin ls 2>/dev/null | grep -cE '^(kubernetes|command) ') plugins"
}

if [ -n "${start_services:-}" ]; then
  if command -v dockerd >/dev/null 2>&1; then ensure_docker; else say "no dockerd installed: nothing to start"; fi
  exit 0
fi

say "toolchain $INCEPTION_TOOLCHAIN_KEY in $TC"
ensure_docker
install_host_node
build_kind
build_crictl
build_pulumi
build_kubernetes_provider
build_kubectl
if [ -f "$INCEPTION_ROOT/toolchain/go/go.mod" ]; then build_own_go; else own_missing=1; fi
[ -z "${own_missing:-}" ] || die "toolchain incomplete: the project's own Go tools (toolchain/go) are missing"
install_plugins
# The kind node image and the shared base image (scripts/node-image.sh), then the locally built
# mock infra images on that base.
if [ -x "$INCEPTION_ROOT/scripts/node-image.sh" ]; then "$INCEPTION_ROOT/scripts/node-image.sh"; fi
"$INCEPTION_ROOT/scripts/mock-images.sh"
date -u +%Y-%m-%dT%H:%M:%SZ >"$TC/complete"
say "toolchain complete: $TC"
