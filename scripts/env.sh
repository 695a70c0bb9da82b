# shellcheck shell=bash
# Sourced by every script: where the caches live, how Pulumi runs offline, which Node.js runs, and
# the shared functions (scripts/lib.sh). Caches live outside the checkout so CI's fresh clone and
# later sessions reuse them.

INCEPTION_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export INCEPTION_ROOT
# shellcheck source=lib.sh
. "$INCEPTION_ROOT/scripts/lib.sh"
export INCEPTION_CACHE="${INCEPTION_CACHE:-$HOME/.cache/inception}"

# The toolchain directory is keyed by the pinned versions file.
_versions_file="$INCEPTION_ROOT/toolchain/versions.env"
# shellcheck source=../toolchain/versions.env
set -a && . "$_versions_file" && set +a
INCEPTION_TOOLCHAIN_KEY="$(sha256sum "$_versions_file" | cut -c1-12)"
export INCEPTION_TOOLCHAIN_KEY
export INCEPTION_TOOLCHAIN="${INCEPTION_TOOLCHAIN:-$INCEPTION_CACHE/toolchain/$INCEPTION_TOOLCHAIN_KEY}"

# Go's module and build caches, shared by every toolchain key.
export GOMODCACHE="$INCEPTION_CACHE/go/mod"
export GOCACHE="$INCEPTION_CACHE/go/build"
export GOFLAGS="${GOFLAGS:--buildvcs=false}"

# Pulumi, fully offline: plugins live in the toolchain's PULUMI_HOME, state in a file backend,
# no update checks, no plugin downloads.
export PULUMI_HOME="$INCEPTION_TOOLCHAIN/pulumi-home"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true
export PULUMI_BACKEND_URL="${PULUMI_BACKEND_URL:-file://$INCEPTION_ROOT/.inception/state}"
# The program is compiled without a type check on every up (3.4 s instead of 7.3 s per preview
# here): `npm run lint` type-checks it (tsc --noEmit, strict), in CI too.
export PULUMI_NODEJS_TRANSPILE_ONLY="${PULUMI_NODEJS_TRANSPILE_ONLY:-true}"
# The local stage's secrets are not secret from the user running it; other stages must set
# PULUMI_CONFIG_PASSPHRASE themselves (scripts refuse devo/prod without it).
export INCEPTION_LOCAL_PASSPHRASE="inception-local"

# Tools the toolchain built (or linked from PATH) come first.
path_first "$INCEPTION_TOOLCHAIN/bin"

# The host's Node.js is the images' (images/versions.env), from the same PyPI wheel, in a directory
# of its own (host_node installs it: npm run up, npm run toolchain, CI). When present it comes
# before every other node, so the Pulumi program, the hook and the tests run on it, whichever node
# started `npm run`.
NODE_WHEEL_VERSION="$(sed -n 's/^NODE_WHEEL_VERSION=//p' "$INCEPTION_ROOT/images/versions.env")"
export INCEPTION_HOST_NODE="$INCEPTION_CACHE/node/$NODE_WHEEL_VERSION"
[ ! -x "$INCEPTION_HOST_NODE/bin/node" ] || path_first "$INCEPTION_HOST_NODE/bin"
