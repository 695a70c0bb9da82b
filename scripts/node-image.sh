#!/usr/bin/env bash
# Builds, without any container registry, the images the local stage runs on (docs/node-image.md):
#   inception/base:bookworm       debootstrap'd Debian: the base of every project image;
#   inception/kind-node:<k8s>     a kind node image: Debian's systemd/containerd/runc/CNI plugins, kind's
#                                 node files (from the kind module zip), Kubernetes built from the Go
#                                 module proxy, and every image kubeadm needs already in its containerd;
#   $INCEPTION_TOOLCHAIN/bin/docker  a front for `docker` that lets stock `kind create cluster` run where
#                                 `docker run --privileged` is refused (toolchain/node/docker-front.sh).
# Idempotent: each step is skipped when its key (versions + recipe hash) matches.
#
#   scripts/node-image.sh           build what is missing
#   scripts/node-image.sh --check   exit 0 when the node image is current, 1 otherwise (builds nothing)
#   scripts/node-image.sh --print   print the node image name
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"

TC="$INCEPTION_TOOLCHAIN"
NI="$TC/node-image"          # this script's cache: binaries, build contexts, logs, stamps
OUT="$NI/bin"
WORK="$NI/work"
LOGS="$NI/logs"
STAMPS="$NI/stamps"
RECIPE="$INCEPTION_ROOT/toolchain/node"
BASE_IMAGE="inception/base:bookworm"
NODE_IMAGE="inception/kind-node:$KUBERNETES_VERSION"
export DOCKER_BUILDKIT=0     # the engine here (20.10) has no buildx; the classic builder is enough

# hash_of PATH...: a short hash of files' names and contents.
hash_of() { find "$@" -type f -print0 | sort -z | xargs -0 sha256sum | sed "s#$INCEPTION_ROOT/##" | sha256sum | cut -c1-16; }
# image_key IMAGE: the io.inception.key label of a local image (empty when absent).
image_key() { docker image inspect -f '{{ index .Config.Labels "io.inception.key" }}' "$1" 2>/dev/null || true; }

BASE_KEY="$(hash_of "$RECIPE/base")"
# Everything the node image is made of, except the binaries (their versions are in versions.env).
NODE_RECIPE_KEY="$(hash_of "$RECIPE/node.Dockerfile" "$RECIPE/files" "$RECIPE/images" "$RECIPE/pause" \
  "$RECIPE/base" "$INCEPTION_ROOT/scripts/node-image.sh" "$INCEPTION_ROOT/toolchain/versions.env")"

# node_key: the node image's key: the recipe plus the binaries' stamps (versions and Go version; the
# kube binaries carry a build date, so their bytes are no key).
node_key() {
  printf '%s\n' "$NODE_RECIPE_KEY" "$BASE_KEY" "$(go env GOVERSION)" \
    "$(cat "$STAMPS"/kube-bins "$STAMPS"/bin-* 2>/dev/null | sha256sum)" | sha256sum | cut -c1-16
}

case "${1:-}" in
  --check)
    [ -f "$STAMPS/kube-bins" ] && [ "$(image_key "$NODE_IMAGE")" = "$(node_key)" ] &&
      cmp -s "$RECIPE/docker-front.sh" "$TC/bin/docker" && exit 0
    exit 1 ;;
  --print) echo "$NODE_IMAGE"; exit 0 ;;
  "") ;;
  *) die "unknown argument '$1' (expected --check, --print or nothing)" ;;
esac

mkdir -p "$OUT" "$WORK" "$LOGS" "$STAMPS" "$TC/bin" "$GOMODCACHE" "$GOCACHE"
docker info >/dev/null 2>&1 || die "docker does not answer: run scripts/toolchain.sh (it starts dockerd) first"
GOVERSION="$(go env GOVERSION)"

# ── 1. docker front ───────────────────────────────────────────────────────────────────────────
install_docker_front() {
  step_start "docker front ($TC/bin/docker)"
  if cmp -s "$RECIPE/docker-front.sh" "$TC/bin/docker"; then step_done "current"; return; fi
  install -m 0755 "$RECIPE/docker-front.sh" "$TC/bin/docker"
  step_done "installed"
}

# ── 2. inception/base:bookworm ────────────────────────────────────────────────────────────────
build_base() {
  step_start "base image $BASE_IMAGE"
  if [ "$(image_key "$BASE_IMAGE")" = "$BASE_KEY" ]; then step_done "current ($BASE_KEY)"; return; fi
  local cache="$INCEPTION_CACHE/base" tarball root
  tarball="$cache/bookworm-$BASE_KEY.tar"
  mkdir -p "$cache"
  if [ ! -f "$tarball" ]; then
    command -v debootstrap >/dev/null 2>&1 || run_logged "apt-get install debootstrap" "$LOGS/apt-debootstrap.log" \
      env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
    root="$cache/rootfs"
    rm -rf "$root"
    run_logged "debootstrap bookworm" "$LOGS/debootstrap.log" \
      debootstrap --variant=minbase --include=ca-certificates bookworm "$root" http://deb.debian.org/debian
    install -m 0644 "$RECIPE/base/sources.list" "$root/etc/apt/sources.list"
    install -m 0644 "$RECIPE/base/90inception" "$root/etc/apt/apt.conf.d/90inception"
    install -m 0644 "$RECIPE/base/01_nodoc" "$root/etc/dpkg/dpkg.cfg.d/01_nodoc"
    # Nothing of the build host's identity or caches goes into the image.
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*.log \
      "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/*
    : >"$root/etc/machine-id"
    printf 'nameserver 127.0.0.1\n' >"$root/etc/resolv.conf"
    printf 'inception\n' >"$root/etc/hostname"
    tar --numeric-owner --xattrs -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
  fi
  run_logged "docker import" "$LOGS/base-import.log" docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["/bin/bash"]' \
    --change "LABEL io.inception.key=$BASE_KEY" \
    "$tarball" "$BASE_IMAGE"
  step_done "imported ($(docker image inspect -f '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%d MB", $1/1e6}'))"
}

# ── 3. Kubernetes binaries ────────────────────────────────────────────────────────────────────
KUBE_BINS="kubelet kubeadm kubectl kube-apiserver kube-controller-manager kube-scheduler kube-proxy"
build_kube_bins() {
  step_start "Kubernetes $KUBERNETES_VERSION binaries"
  local want="$KUBERNETES_VERSION/$KUBERNETES_STAGING_VERSION/$GOVERSION" n ok=1 mod pkgs=()
  for n in $KUBE_BINS; do [ -x "$OUT/$n" ] || ok=; done
  if [ -n "$ok" ] && stamped kube-bins "$want"; then step_done "cached"; return; fi
  mod=$(kube_module)   # this script's own $WORK/kubernetes (scripts/lib.sh), separate from toolchain.sh's
  if ! stamped kube-get "$want"; then
    (cd "$mod" && run_logged "go get k8s.io/kubernetes" "$LOGS/kube-get.log" \
      go get "k8s.io/kubernetes/cmd/kubelet@$KUBERNETES_VERSION")
    stamp kube-get "$want"
  fi
  for n in $KUBE_BINS; do pkgs+=("k8s.io/kubernetes/cmd/$n"); done
  (cd "$mod" && run_logged "go build $KUBE_BINS" "$LOGS/kube-build.log" \
    nice -n 10 env CGO_ENABLED=0 go build -mod=mod -v -ldflags "$(kube_ldflags)" -o "$OUT/" "${pkgs[@]}")
  stamp kube-bins "$want"
  step_done "built $("$OUT/kubelet" --version)"
}

# ── 4. The other binaries the images need ─────────────────────────────────────────────────────
# go_wrapper NAME MODULE VERSION PKG: a module under $WORK/NAME that requires MODULE@VERSION (with its
# non-local replace lines, which apply only in its own main module); prints the directory.
go_wrapper() {
  local name="$1" module="$2" version="$3" pkg="$4" dir="$WORK/$1" gomod
  if [ -f "$dir/go.sum" ] && [ "$(cat "$dir/.for" 2>/dev/null)" = "$module@$version" ]; then echo "$dir"; return; fi
  rm -rf "$dir" && mkdir -p "$dir"
  gomod=$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [ -f "$gomod" ] || die "the Go module proxy does not serve $module@$version"
  {
    printf 'module inception.local/%s\n\ngo 1.24\n\nrequire %s %s\n\n' "$name" "$module" "$version"
    awk '/^replace \($/ { inb = 1; next } inb && /^\)/ { inb = 0; next }
         inb { print "replace " $0; next } /^replace / { print }' "$gomod" | grep -vE '=> \.\.?/' || true
  } >"$dir/go.mod"
  (cd "$dir" && run_logged "go get $module@$version" "$LOGS/$name-get.log" go get "$pkg@$version") >&2
  echo "$module@$version" >"$dir/.for"
  echo "$dir"
}

# go_bin NAME MODULE VERSION PKG [LDFLAGS]: builds PKG from MODULE@VERSION into $OUT/NAME.
go_bin() {
  local name="$1" module="$2" version="$3" pkg="$4" ld="${5:-}" dir want
  want="$module@$version/$GOVERSION/$ld"
  if stamped "bin-$name" "$want" && [ -x "$OUT/$name" ]; then say "   $name $version: cached"; return; fi
  dir=$(go_wrapper "$name" "$module" "$version" "$pkg")
  (cd "$dir" && run_logged "go build $name" "$LOGS/$name-build.log" \
    nice -n 10 env CGO_ENABLED=0 go build -mod=mod -v -ldflags "-s -w $ld" -o "$OUT/$name" "$pkg")
  stamp "bin-$name" "$want"
  say "   $name $version: built"
}

# The images kubeadm asks for; etcd, CoreDNS and pause are built at the versions it names.
KUBEADM_IMAGES=()
ETCD_IMAGE="" COREDNS_IMAGE="" PAUSE_IMAGE=""
read_kubeadm_images() {
  mapfile -t KUBEADM_IMAGES < <("$OUT/kubeadm" config images list --kubernetes-version "$KUBERNETES_VERSION" 2>/dev/null)
  local i
  for i in "${KUBEADM_IMAGES[@]}"; do
    case "$i" in
      */etcd:*) ETCD_IMAGE="$i" ;;
      */coredns:*) COREDNS_IMAGE="$i" ;;
      */pause:*) PAUSE_IMAGE="$i" ;;
    esac
  done
  [ -n "$ETCD_IMAGE" ] && [ -n "$COREDNS_IMAGE" ] && [ -n "$PAUSE_IMAGE" ] ||
    die "unexpected 'kubeadm config images list' output: ${KUBEADM_IMAGES[*]}"
}

LPP_VERSION=v0.0.30   # github.com/rancher/local-path-provisioner: kind's default storage class
build_other_bins() {
  step_start "etcd, CoreDNS, pause, local-path-provisioner"
  local etcd_v coredns_v
  etcd_v="v${ETCD_IMAGE##*:}" && etcd_v="${etcd_v%-*}"        # registry.k8s.io/etcd:3.6.5-0 → v3.6.5
  coredns_v="${COREDNS_IMAGE##*:}"                            # registry.k8s.io/coredns/coredns:v1.12.1
  go_bin etcd go.etcd.io/etcd/server/v3 "$etcd_v" go.etcd.io/etcd/server/v3
  go_bin coredns github.com/coredns/coredns "$coredns_v" github.com/coredns/coredns \
    "-X github.com/coredns/coredns/coremain.GitCommit=inception-$coredns_v"
  go_bin local-path-provisioner github.com/rancher/local-path-provisioner "$LPP_VERSION" \
    github.com/rancher/local-path-provisioner "-X main.VERSION=$LPP_VERSION"
  # pause is the project's own few lines (toolchain/node/pause), like upstream's pause.c.
  local h
  h="$(hash_of "$RECIPE/pause")/$GOVERSION/${PAUSE_IMAGE##*:}"
  if ! stamped bin-pause "$h" || [ ! -x "$OUT/pause" ]; then
    (cd "$RECIPE/pause" && run_logged "go build pause" "$LOGS/pause-build.log" \
      env CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${PAUSE_IMAGE##*:}" -o "$OUT/pause" .)
    stamp bin-pause "$h"
  fi
  step_done "etcd $etcd_v, coredns $coredns_v, pause ${PAUSE_IMAGE##*:}, local-path-provisioner $LPP_VERSION"
}

# ── 5. Images for the node's containerd ───────────────────────────────────────────────────────
CNI_IMAGE="docker.io/inception/kindnet-lite:1"
LPP_IMAGE="docker.io/inception/local-path-provisioner:$LPP_VERSION"
LPP_HELPER_IMAGE="docker.io/inception/local-path-helper:bookworm"

# docker_build TAG CONTEXT: builds CONTEXT/Dockerfile (logged) as TAG.
docker_build() {
  run_logged "docker build $1" "$LOGS/build-$(echo "$1" | tr '/:' '__').log" \
    docker build --label "io.inception.key=$NODE_KEY" --label io.inception.node-image=1 -t "$1" "$2"
}

# static_image TAG BINARY DEST [ENTRYPOINT] [USER]: an image FROM scratch holding one static binary.
static_image() {
  local tag="$1" bin="$2" dest="$3" entry="${4:-}" user="${5:-}" ctx
  ctx="$WORK/ctx/$(basename "$bin")"
  rm -rf "$ctx" && mkdir -p "$ctx"
  cp "$OUT/$bin" "$ctx/$bin"
  {
    echo "FROM scratch"
    echo "COPY $bin $dest"
    echo "ENV PATH=/usr/local/bin:/usr/bin:/bin"
    [ -z "$entry" ] || echo "ENTRYPOINT [\"$entry\"]"
    [ -z "$user" ] || echo "USER $user"
  } >"$ctx/Dockerfile"
  docker_build "$tag" "$ctx"
}

build_component_images() {
  step_start "component images (kubeadm's list, CNI, storage)"
  if [ "$(cat "$STAMPS/component-images" 2>/dev/null)" = "$NODE_KEY" ] && [ -f "$WORK/node/images.tar" ]; then
    step_done "cached"; return
  fi
  local i name tags=() ctx
  for i in "${KUBEADM_IMAGES[@]}"; do
    name="${i#registry.k8s.io/}" && name="${name%%:*}"
    case "$name" in
      kube-apiserver | kube-controller-manager | kube-scheduler)
        static_image "$i" "$name" "/usr/local/bin/$name" ;;
      kube-proxy)
        # kube-proxy drives iptables: Debian's, in the node's mode (toolchain/node/images/kube-proxy).
        ctx="$WORK/ctx/kube-proxy" && rm -rf "$ctx" && cp -r "$RECIPE/images/kube-proxy" "$ctx"
        cp "$RECIPE/images/iptables-wrapper" "$OUT/kube-proxy" "$ctx/" && docker_build "$i" "$ctx" ;;
      etcd) static_image "$i" etcd /usr/local/bin/etcd ;;
      coredns/coredns) static_image "$i" coredns /coredns /coredns ;;
      pause) static_image "$i" pause /pause /pause 65535:65535 ;;
      *) die "kubeadm lists an image this script does not know how to build: $i" ;;
    esac
    tags+=("$i")
  done
  # CNI: kindnetd's module is not served by the Go proxy here; kindnet-lite stands in (docs).
  ctx="$WORK/ctx/kindnet-lite" && rm -rf "$ctx" && cp -r "$RECIPE/images/kindnet-lite" "$ctx"
  cp "$RECIPE/images/iptables-wrapper" "$OUT/kubectl" "$ctx/" && docker_build "$CNI_IMAGE" "$ctx"
  static_image "$LPP_IMAGE" local-path-provisioner /usr/local/bin/local-path-provisioner
  ctx="$WORK/ctx/local-path-helper" && rm -rf "$ctx" && mkdir -p "$ctx"
  printf 'FROM %s\n' "$BASE_IMAGE" >"$ctx/Dockerfile" && docker_build "$LPP_HELPER_IMAGE" "$ctx"
  tags+=("$CNI_IMAGE" "$LPP_IMAGE" "$LPP_HELPER_IMAGE")
  mkdir -p "$WORK/node"
  run_logged "docker save" "$LOGS/save.log" docker save -o "$WORK/node/images.tar.tmp" "${tags[@]}"
  mv "$WORK/node/images.tar.tmp" "$WORK/node/images.tar"
  printf '%s\n' "${tags[@]}" >"$WORK/node/images.list"
  stamp component-images "$NODE_KEY"
  step_done "${#tags[@]} images, $(du -m "$WORK/node/images.tar" | cut -f1) MB"
}

# ── 6. The node image ─────────────────────────────────────────────────────────────────────────
KIND_ZIP=""
kind_files() {
  # kind's node files (entrypoint, systemd units, containerd config) and its default storage manifest
  # come from the kind module zip, extracted at build time (never committed).
  KIND_ZIP=$(go mod download -json "sigs.k8s.io/kind@$KIND_VERSION" | sed -n 's/^[[:space:]]*"Zip": "\(.*\)",$/\1/p')
  [ -f "$KIND_ZIP" ] || die "could not download sigs.k8s.io/kind@$KIND_VERSION"
  local x="$WORK/kind-zip" p="sigs.k8s.io/kind@$KIND_VERSION"
  command -v unzip >/dev/null 2>&1 || run_logged "apt-get install unzip" "$LOGS/apt-unzip.log" \
    env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends unzip
  rm -rf "$x" && mkdir -p "$x"
  unzip -q "$KIND_ZIP" "$p/images/base/files/*" "$p/pkg/build/nodeimage/const_storage.go" -d "$x"
  chmod -R u+w "$x"
  rm -rf "$WORK/node/kind" && mkdir -p "$WORK/node/kind"
  cp -r "$x/$p/images/base/files/." "$WORK/node/kind/"
  rm -rf "$WORK/node/kind/LICENSES"
  # default-storage.yaml: the Go raw string in const_storage.go, with our images.
  local storage_img helper_img
  storage_img=$(sed -n 's/^const storageProvisionerImage = "\(.*\)"$/\1/p' "$x/$p/pkg/build/nodeimage/const_storage.go")
  helper_img=$(sed -n 's/^const storageHelperImage = "\(.*\)"$/\1/p' "$x/$p/pkg/build/nodeimage/const_storage.go")
  [ -n "$storage_img" ] && [ -n "$helper_img" ] || die "kind $KIND_VERSION: storage images not found in const_storage.go"
  mkdir -p "$WORK/node/manifests"
  awk '/^const defaultStorageManifest = `/ { on = 1; next } on && /^`/ { exit } on { print }' \
    "$x/$p/pkg/build/nodeimage/const_storage.go" |
    sed -e "s#\` + storageProvisionerImage + \`#$LPP_IMAGE#" -e "s#\` + storageHelperImage + \`#$LPP_HELPER_IMAGE#" \
      >"$WORK/node/manifests/default-storage.yaml"
  grep -q "$LPP_IMAGE" "$WORK/node/manifests/default-storage.yaml" || die "could not rewrite kind's storage manifest"
  ! grep -q '` +' "$WORK/node/manifests/default-storage.yaml" || die "kind's storage manifest has unknown parts"
}

build_node_image() {
  step_start "node image $NODE_IMAGE"
  if [ "$(image_key "$NODE_IMAGE")" = "$NODE_KEY" ]; then step_done "current"; stamp node-image "$NODE_KEY"; return; fi
  local ctx="$WORK/node"
  kind_files
  cp "$RECIPE/images/kindnet-lite/kindnet-lite.yaml" "$ctx/manifests/default-cni.yaml"
  sed -i "s#@CNI_IMAGE@#$CNI_IMAGE#" "$ctx/manifests/default-cni.yaml"
  rm -rf "${ctx:?}/inception" "${ctx:?}/bin" && mkdir -p "$ctx/bin"
  cp -r "$RECIPE/files" "$ctx/inception"
  cp "$OUT/kubelet" "$OUT/kubeadm" "$OUT/kubectl" "$ctx/bin/"
  cp "$(readlink -f "$TC/bin/crictl")" "$ctx/bin/crictl" 2>/dev/null || die "crictl missing: run scripts/toolchain.sh first"
  cp "$RECIPE/node.Dockerfile" "$ctx/Dockerfile"
  docker_build_args=(--build-arg "KUBERNETES_VERSION=$KUBERNETES_VERSION" --build-arg "PAUSE_IMAGE=$PAUSE_IMAGE")
  run_logged "docker build $NODE_IMAGE" "$LOGS/build-node.log" \
    docker build "${docker_build_args[@]}" --label "io.inception.key=$NODE_KEY" --label io.inception.node-image=1 \
    -t "$NODE_IMAGE" "$ctx"
  stamp node-image "$NODE_KEY"
  prune_old_images "$(awk '/^Step [0-9]+\/[0-9]+ : FROM scratch/ { print keep } / ---> [0-9a-f]+$/ { keep = $2 }' "$LOGS/build-node.log")"
  step_done "built ($(docker image inspect -f '{{.Size}}' "$NODE_IMAGE" | awk '{printf "%d MB", $1/1e6}'))"
}

# prune_old_images KEEP: removes the untagged images this script left behind (earlier versions of the
# node and component images, earlier build stages), except KEEP, the build stage of the current node
# image, whose layers are the cache of the next rebuild.
prune_old_images() {
  local keep="$1" id n=0
  for id in $(docker images -q --no-trunc --filter dangling=true --filter label=io.inception.node-image); do
    case "$id" in sha256:"$keep"*) continue ;; esac
    docker rmi "$id" >/dev/null 2>&1 && n=$((n + 1))
  done
  [ "$n" -eq 0 ] || say "   removed $n superseded untagged images"
}

say "node image $NODE_IMAGE (cache $NI)"
install_docker_front
build_base
build_kube_bins
read_kubeadm_images
build_other_bins
NODE_KEY="$(node_key)"
build_component_images
build_node_image
say "node image ready: $NODE_IMAGE (key $NODE_KEY)"
