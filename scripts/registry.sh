#!/usr/bin/env bash
# A container registry on this machine that plays the CI registry for the devo stage (docs/registry.md).
# Nothing can be pulled here, so the registry is Debian's docker-registry package (distribution 2.8.2),
# fetched with `apt-get download` and unpacked (never installed system-wide), on the project's base image.
# It runs as container `inception-registry` on docker network `kind`: the host pushes to localhost:5001,
# kind nodes pull from http://inception-registry:5000 through a containerd mirror (--print-containerd-patch).
#
#   scripts/registry.sh start [--auth USER:PASSWORD]   start (idempotent); --auth: htpasswd basic auth
#   scripts/registry.sh stop                          remove the container and its data volume
#   scripts/registry.sh status                        running?, endpoints, auth
#   scripts/registry.sh identity                      its data volume's generation (a new one once removed)
#   scripts/registry.sh --print-containerd-patch      kind containerdConfigPatches entry (TOML)
#
# INCEPTION_REGISTRY_AUTH=USER:PASSWORD works like --auth and keeps the password out of `ps`.
# INCEPTION_REGISTRY_NAME and INCEPTION_REGISTRY_PORT choose another instance: the local stage's
# image cache (infra/imagecache.ts) is one, beside the devo stage's, and outlives kind clusters.
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
export DOCKER_BUILDKIT=0 # the engine here (20.10) has no buildx

DEB_VERSION="2.8.2+ds1-1" # pinned: the image tag and the cache both name it
IMAGE="inception/registry:2.8.2"
BASE_IMAGE="inception/base:bookworm"
NAME="${INCEPTION_REGISTRY_NAME:-inception-registry}"
VOLUME="$NAME-data"
NETWORK="kind"
PORT="${INCEPTION_REGISTRY_PORT:-5001}" # never 5000: taken on this machine
CACHE="$INCEPTION_CACHE/registry"
URL="http://127.0.0.1:$PORT/v2/"
GENERATION_LABEL="io.inception.registry.generation"

# The mirror entry for containerd 1.6 (our node image sets no config_path, so this form is accepted),
# from the template infra/imagecache.ts fills too. Nodes resolve the registry's name through
# docker's DNS on the kind network.
containerd_patch() {
  sed -e "s|@REGISTRY@|localhost:$PORT|" -e "s|@ENDPOINT@|http://$NAME:5000|" \
    "$INCEPTION_ROOT/scripts/containerd-mirror.toml"
}

# http_code [USER:PASSWORD]: the registry's answer to GET /v2/ (000 when nothing answers).
http_code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 ${1:+-u "$1"} "$URL" || true; }
running() { [ "$(docker inspect -f '{{.State.Running}}' "$NAME" 2>/dev/null)" = true ]; }

# ensure_image: unpacks the cached .deb (downloaded once) and builds the image when its key changed.
ensure_image() {
  docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 ||
    die "base image $BASE_IMAGE is missing (run npm run toolchain: scripts/node-image.sh builds it)"
  local deb="$CACHE/deb/docker-registry_${DEB_VERSION/:/%3a}_amd64.deb" ctx="$CACHE/context" key
  if [ ! -f "$deb" ]; then
    say "downloading Debian's docker-registry $DEB_VERSION (apt-get download)"
    mkdir -p "$CACHE/deb"
    # apt's sandbox user cannot write to a root-owned cache dir; downloading as root is fine here.
    (cd "$CACHE/deb" && apt-get download -q -o APT::Sandbox::User=root "docker-registry=$DEB_VERSION") >/dev/null ||
      die "apt-get download docker-registry=$DEB_VERSION failed (is the Debian mirror reachable? apt-get update?)"
  fi
  rm -rf "$ctx" && mkdir -p "$ctx/x"
  dpkg-deb -x "$deb" "$ctx/x"
  mv "$ctx/x/usr/bin/docker-registry" "$ctx/" && rm -rf "$ctx/x"
  # Not Debian's config: that one enables htpasswd auth with a directory as the file. Auth is switched on
  # per container with REGISTRY_AUTH_* variables, so one image serves both modes.
  cat >"$ctx/config.yml" <<'EOF'
version: 0.1
log:
  level: info
  fields: { service: registry }
storage:
  filesystem: { rootdirectory: /var/lib/docker-registry }
  delete: { enabled: true }
http:
  addr: :5000
  headers:
    X-Content-Type-Options: [nosniff]
EOF
  cat >"$ctx/Dockerfile" <<EOF
FROM $BASE_IMAGE
COPY docker-registry /usr/bin/docker-registry
COPY config.yml /etc/docker/registry/config.yml
VOLUME /var/lib/docker-registry
EXPOSE 5000
ENTRYPOINT ["/usr/bin/docker-registry", "serve", "/etc/docker/registry/config.yml"]
EOF
  # Key: the build context plus the base image it builds on.
  key="$( (cd "$ctx" && sha256sum docker-registry config.yml Dockerfile; docker image inspect -f '{{.Id}}' "$BASE_IMAGE") |
    sha256sum | cut -c1-16)"
  if [ "$(docker image inspect -f '{{ index .Config.Labels "io.inception.key" }}' "$IMAGE" 2>/dev/null)" = "$key" ]; then
    return
  fi
  say "building $IMAGE"
  docker build -q --label "io.inception.key=$key" -t "$IMAGE" "$ctx" >"$CACHE/build.log" 2>&1 ||
    { cat "$CACHE/build.log" >&2; die "docker build of $IMAGE failed"; }
}

# htpasswd_line USER PASSWORD: a bcrypt htpasswd line, made with perl's crypt() (libxcrypt does bcrypt)
# in the registry image itself, so the host needs neither apache2-utils nor python's bcrypt. The
# password goes through stdin, not argv.
htpasswd_line() {
  printf '%s' "$2" | docker run --rm -i -e "U=$1" --entrypoint perl "$IMAGE" -e '
    my $pw = do { local $/; <STDIN> };
    my @c = ("." , "/", "A".."Z", "a".."z", "0".."9");
    open(my $r, "<", "/dev/urandom") or die; read($r, my $b, 22);
    my $salt = join "", map { $c[ord($_) % 64] } split //, $b;
    my $h = crypt($pw, "\$2b\$10\$$salt");
    die "crypt() gave no bcrypt hash\n" unless $h =~ /^\$2b\$/;
    print "$ENV{U}:$h\n";'
}

# ensure_network: the kind network, created the way kind v0.33 does (its ULA subnet for "kind" is
# fixed) so a later `kind create cluster` finds it as its own; IPv4 only where IPv6 is refused.
ensure_network() {
  docker network inspect "$NETWORK" >/dev/null 2>&1 && return
  local mtu opts=(-d=bridge -o com.docker.network.bridge.enable_ip_masquerade=true)
  mtu="$(docker network inspect bridge -f '{{ index .Options "com.docker.network.driver.mtu" }}' 2>/dev/null || true)"
  [ -n "$mtu" ] && opts+=(-o "com.docker.network.driver.mtu=$mtu")
  docker network create "${opts[@]}" --ipv6 --subnet fc00:f853:ccd:e793::/64 "$NETWORK" >/dev/null 2>&1 ||
    docker network create "${opts[@]}" "$NETWORK" >/dev/null
}

start() {
  local auth="${INCEPTION_REGISTRY_AUTH:-}" user="" image_id run_args=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --auth) [ $# -ge 2 ] || die "--auth needs USER:PASSWORD"; auth="$2"; shift 2 ;;
      *) die "start: unknown argument '$1' (expected --auth USER:PASSWORD)" ;;
    esac
  done
  if [ -n "$auth" ]; then
    user="${auth%%:*}"
    [[ "$auth" == *:* && -n "$user" && -n "${auth#*:}" ]] || die "--auth expects USER:PASSWORD"
  fi
  mkdir -p "$CACHE"
  # Two stacks' updates may start the same instance at once (the image cache): one at a time.
  exec 9>"$CACHE/start.lock"
  flock 9
  # One instance a name: started on another port it would be taken from whoever uses it (the image
  # cache is every local stack's), so that is refused.
  local bound
  bound=$(docker port "$NAME" 5000/tcp 2>/dev/null | head -n 1 || true)
  if running && [ -n "$bound" ] && [ "${bound##*:}" != "$PORT" ]; then
    die "$NAME already runs on $bound, used by other stacks: use port ${bound##*:}, or stop it first (INCEPTION_REGISTRY_NAME=$NAME scripts/registry.sh stop)"
  fi
  ensure_image
  image_id="$(docker image inspect -f '{{.Id}}' "$IMAGE")"

  # Same settings = same image, same auth user, and the registry answers as that mode should: anonymous
  # 200 without auth; anonymous 401 and 200 with this password with auth.
  if running && [ "$(docker inspect -f '{{.Image}}|{{ index .Config.Labels "io.inception.registry.auth" }}' "$NAME")" = \
    "$image_id|${user:-none}" ]; then
    if { [ -z "$auth" ] && [ "$(http_code)" = 200 ]; } ||
      { [ -n "$auth" ] && [ "$(http_code)" = 401 ] && [ "$(http_code "$auth")" = 200 ]; }; then
      say "registry already running: localhost:$PORT (auth: ${user:-none})"
      return
    fi
  fi
  docker rm -f "$NAME" >/dev/null 2>&1 || true # other settings: recreate (the data volume stays)
  ensure_network
  # The volume's generation label tells a stack that pushed here whether its images are still in it
  # (`identity`; docker's CreatedAt of a volume is its directory's mtime, which moves with a push).
  docker volume inspect "$VOLUME" >/dev/null 2>&1 ||
    docker volume create --label "$GENERATION_LABEL=$(date -u +%Y-%m-%dT%H:%M:%SZ)-$$-$RANDOM" "$VOLUME" >/dev/null

  run_args=(--label "io.inception.registry.auth=${user:-none}")
  if [ -n "$auth" ]; then
    mkdir -p "$CACHE/auth" && chmod 700 "$CACHE/auth"
    htpasswd_line "$user" "${auth#*:}" >"$CACHE/auth/htpasswd" || die "could not generate the htpasswd file"
    run_args+=(-v "$CACHE/auth/htpasswd:/auth/htpasswd:ro" -e REGISTRY_AUTH=htpasswd
      -e REGISTRY_AUTH_HTPASSWD_REALM=inception-registry -e REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd)
  fi
  # 127.0.0.1 only: docker treats localhost registries as insecure-allowed (plain http), and nothing
  # outside this machine should reach a test registry.
  docker run -d --name "$NAME" --restart unless-stopped --network "$NETWORK" -p "127.0.0.1:$PORT:5000" \
    -v "$VOLUME:/var/lib/docker-registry" "${run_args[@]}" "$IMAGE" >/dev/null ||
    die "docker run $NAME failed (is port $PORT taken? docker ps)"
  for _ in $(seq 1 30); do
    case "$(http_code)" in 200 | 401) say "registry running: localhost:$PORT (auth: ${user:-none})"; return ;; esac
    sleep 0.5
  done
  docker logs --tail 20 "$NAME" >&2 || true
  die "registry $NAME does not answer on $URL"
}

status() {
  if ! running; then
    echo "registry: not running"
    return 0
  fi
  local auth
  auth="$(docker inspect -f '{{ index .Config.Labels "io.inception.registry.auth" }}' "$NAME")"
  echo "registry: running ($IMAGE, container $NAME, auth: ${auth/#none/none (anonymous push and pull)})"
  echo "  from this machine: localhost:$PORT   (docker push localhost:$PORT/<repo>:<tag>; answers $(http_code) on /v2/)"
  echo "  from kind nodes:   http://$NAME:5000 (network $NETWORK), as the mirror of localhost:$PORT"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop)
    docker rm -f -v "$NAME" >/dev/null 2>&1 || true
    docker volume rm "$VOLUME" >/dev/null 2>&1 || true
    say "registry stopped (container and data volume removed)" ;;
  status) status ;;
  identity)
    generation=$(docker volume inspect -f "{{ index .Labels \"$GENERATION_LABEL\" }}" "$VOLUME" 2>/dev/null) ||
      die "registry $NAME has no data volume $VOLUME (not started)"
    [ -n "$generation" ] && [ "$generation" != "<no value>" ] ||
      die "the data volume $VOLUME has no $GENERATION_LABEL label (made by an older registry.sh): scripts/registry.sh stop, then start"
    echo "$generation" ;;
  --print-containerd-patch) containerd_patch ;;
  *) die "usage: scripts/registry.sh start [--auth USER:PASSWORD] | stop | status | identity | --print-containerd-patch" ;;
esac
