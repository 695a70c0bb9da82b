#!/usr/bin/env bash
# Builds the locally built mock infra image set (infra/mock/images.ts, "local") on the project's
# base image, from package registries only: Kafka jars from Maven Central, ZooKeeper and Python from
# Debian, versitygw from the Go module proxy. Idempotent: an image already present is kept.
#   scripts/mock-images.sh           build what is missing
#   scripts/mock-images.sh --check   exit 0 when every image is present
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
set -a
. "$INCEPTION_ROOT/toolchain/kafka/version.env"
. "$INCEPTION_ROOT/images/versions.env"
set +a
BASE_IMAGE="${INCEPTION_BASE_IMAGE:-inception/base:bookworm}"
tags=("$MOCK_KAFKA_TAG" "$MOCK_ZOOKEEPER_TAG" "$MOCK_S3_TAG" "$MOCK_HTTP_TAG")

present() { docker image inspect "$1" >/dev/null 2>&1; }

if [ "${1:-}" = --check ]; then
  for t in "${tags[@]}"; do present "$t" || exit 1; done
  exit 0
fi
present "$BASE_IMAGE" || die "base image $BASE_IMAGE is missing (scripts/node-image.sh builds it)"

work="$INCEPTION_CACHE/mock-images"
mkdir -p "$work"

# build TAG CONTEXT: docker build on the base image, output in a log, a line when done.
build() {
  local tag="$1" ctx="$2" t0 log
  t0=$(date +%s)
  log="$work/$(echo "$tag" | tr '/:' '__').log"
  say "   building $tag (log: $log)"
  if ! docker build --build-arg "BASE=$BASE_IMAGE" -t "$tag" "$ctx" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "docker build of $tag failed"
  fi
  say "   $tag: built ($(($(date +%s) - t0))s)"
}

say "── mock infra images"
if ! present "$MOCK_KAFKA_TAG"; then
  ctx="$work/kafka"
  rm -rf "$ctx" && cp -r "$INCEPTION_ROOT/images/mock-kafka" "$ctx"
  say "   fetching Kafka $KAFKA_VERSION jars (Maven Central)"
  mvn -q -B -f "$ctx/pom.xml" -Dkafka.version="$KAFKA_VERSION" -Dkafka.scala.version="$KAFKA_SCALA_VERSION" \
    dependency:copy-dependencies -DoutputDirectory="$ctx/libs" -DincludeScope=runtime >"$work/kafka-mvn.log" 2>&1 ||
    { tail -n 30 "$work/kafka-mvn.log" >&2; die "mvn could not fetch the Kafka $KAFKA_VERSION jars"; }
  build "$MOCK_KAFKA_TAG" "$ctx"
fi
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
