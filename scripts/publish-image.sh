#!/usr/bin/env bash
# Publishes one image for the stack (run by PublishedImage, infra/publish.ts, as a command resource):
# builds it from CONTEXT/DOCKERFILE with BUILD_ARGS, or tags the prebuilt SOURCE_IMAGE, as IMAGE;
# a context is first prepared on the host with PREPARE (one argument a line) unless its stamp file
# PREPARED_STAMP already holds PREPARED_HASH (the hash of its sources);
# then TARGET=registry: docker push (logging in with REGISTRY_USERNAME/REGISTRY_PASSWORD into a
# throw-away docker config when given; on local the registry is the image cache, infra/imagecache.ts);
# local: nothing more. Prints IMAGE.
# With FAILURE_AS_DATA=1 a failure does not fail the command: it writes a fresh token to RETRY_FILE
# (the image's next publish is then due, see infra/publish.ts) and prints PUBLISH_FAILED_MARK as its
# last line on stdout, exit 0; its reasons are on stderr, as always.
# Stacks updating at once on one host share its docker engine, the build contexts of the checkout
# (a preparation rewrites node_modules and dist) and the registry's tags. So a context is prepared
# and built by one publish at a time, and an image pushed by one at a time; the next one finds the
# registry holding the very image (its config digest is the image's ID) and pushes nothing. Two
# pushes of one image at once are the race distribution's filesystem storage loses (it rewrites a
# blob's link files in place, and a reader in between finds them empty; distribution#4489).
# A file, not an inline script: a failed command resource echoes its create command in the error.
set -euo pipefail
PUBLISH_FAILED_MARK="inception-publish-failed:"
LOCKS="${INCEPTION_CACHE:-${HOME:?neither INCEPTION_CACHE nor HOME is set: no place for the publish locks}/.cache/inception}/locks"

# hold KEY WHAT: holds this host's lock of KEY until the script ends or `release` (one at a time),
# saying what it waits for while another publish holds it.
hold() {
  mkdir -p "$LOCKS"
  exec {held}>"$LOCKS/publish-$(printf '%s' "$1" | sha256sum | cut -c1-16).lock"
  flock -n "$held" && return
  echo "inception: waiting for another publish on this host ($2)" >&2
  flock "$held"
}
release() {
  [ -z "${held:-}" ] || exec {held}>&-
  held=""
}

# registry_has: the registry holds IMAGE's tag as this very image. The daemon treats localhost
# registries as plain HTTP; `docker manifest` must be told so.
registry_has() {
  local id remote insecure=()
  case "$registry_host" in localhost:* | localhost | 127.*) insecure=(--insecure) ;; esac
  id=$(docker image inspect -f '{{.Id}}' "$IMAGE" 2>/dev/null) || return 1
  remote=$(docker manifest inspect "${insecure[@]}" "$IMAGE" 2>/dev/null |
    node -e 'let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      try { process.stdout.write(String(JSON.parse(s).config.digest ?? "")); } catch {} })') || return 1
  [ -n "$id" ] && [ "$id" = "$remote" ]
}

publish() {
  if [ -n "${CONTEXT:-}" ] && [ -z "${SOURCE_IMAGE:-}" ]; then hold "context $CONTEXT" "preparing and building $CONTEXT"; fi
  if [ -n "${SOURCE_IMAGE:-}" ]; then
    if ! docker image inspect "$SOURCE_IMAGE" >/dev/null 2>&1; then
      echo "inception: pulling $SOURCE_IMAGE" >&2
      docker pull "$SOURCE_IMAGE" >&2 || { echo "inception: $SOURCE_IMAGE is neither present nor pullable (on an air-gapped host, build it with npm run toolchain)" >&2; exit 1; }
    fi
    [ "$SOURCE_IMAGE" = "$IMAGE" ] || docker tag "$SOURCE_IMAGE" "$IMAGE" >&2
  else
    if [ -n "${PREPARE:-}" ]; then
      stamp="$CONTEXT/$PREPARED_STAMP"
      if [ "$(cat "$stamp" 2>/dev/null)" != "$PREPARED_HASH" ]; then
        prepare=()
        while IFS= read -r a; do prepare+=("$a"); done <<<"$PREPARE"
        echo "inception: preparing $CONTEXT: ${prepare[*]}" >&2
        rm -f "$stamp"
        log=$(mktemp)
        if ! (cd "$CONTEXT" && "${prepare[@]}") >"$log" 2>&1; then
          echo "inception: preparing the build context $CONTEXT failed (${prepare[*]}):" >&2
          tail -n 20 "$log" >&2
          rm -f "$log"
          exit 1
        fi
        rm -f "$log"
        printf '%s\n' "$PREPARED_HASH" >"$stamp"
      fi
    fi
    args=()
    while IFS= read -r a; do [ -n "$a" ] && args+=(--build-arg "$a"); done <<<"${BUILD_ARGS:-}"
    echo "inception: building $IMAGE from $CONTEXT" >&2
    docker build -t "$IMAGE" -f "$CONTEXT/$DOCKERFILE" "${args[@]}" "$CONTEXT" >&2
    release
  fi
  if [ "$TARGET" = local ]; then
    :
  else
    registry_host=${IMAGE%%/*}
    # Turns docker's last words into what the user needs to know (exit 1).
    refused() {
      local what=$1 out=$2 reason
      reason=$(tail -n 1 <<<"$out")
      case "$out" in
        *"connection refused"* | *"no such host"* | *"i/o timeout"* | *"no route to host"*)
          echo "inception: the registry $registry_host is unreachable ($what): $reason" >&2 ;;
        *unauthorized* | *"no basic auth credentials"* | *denied* | *401*)
          echo "inception: the registry $registry_host refused $what: not authorized (set inception:images.username and, with --secret, inception:images.password): $reason" >&2 ;;
        *) echo "inception: the registry $registry_host refused $what: $reason" >&2 ;;
      esac
      exit 1
    }
    if [ -n "${REGISTRY_USERNAME:-}" ]; then
      # A docker config of its own: the stack's credentials never land in the user's ~/.docker.
      DOCKER_CONFIG=$(mktemp -d)
      export DOCKER_CONFIG
      trap 'rm -rf "$DOCKER_CONFIG"' EXIT
      out=$(printf '%s' "$REGISTRY_PASSWORD" | docker login --username "$REGISTRY_USERNAME" --password-stdin "$registry_host" 2>&1) ||
        refused "the login of $REGISTRY_USERNAME" "$out"
    fi
    hold "image $IMAGE" "pushing $IMAGE"
    if registry_has; then
      echo "inception: $registry_host holds $IMAGE already" >&2
    else
      echo "inception: pushing $IMAGE" >&2
      out=$(docker push "$IMAGE" 2>&1) || refused "the push of $IMAGE" "$out"
    fi
  fi
  echo "$IMAGE"
}
if [ "${FAILURE_AS_DATA:-}" != 1 ]; then
  publish
  exit 0
fi
# A subshell outside any condition, errexit on inside: in an `if` or `||` bash would ignore it.
set +e
(
  set -e
  publish
)
status=$?
set -e
if [ "$status" -ne 0 ]; then
  mkdir -p "$(dirname "$RETRY_FILE")"
  printf 'failed %s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" "$$" >"$RETRY_FILE"
  echo "$PUBLISH_FAILED_MARK publishing $IMAGE failed (exit $status): the run cannot start; the next up tries again"
fi
