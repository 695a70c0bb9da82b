#!/usr/bin/env bash
# npm run up [-- STACK [pulumi up args…]]: the main job. Installs npm dependencies when needed,
# ensures the toolchain (cached; a cold build takes over an hour), then `pulumi up` on STACK
# (default: local) with offline-safe settings.
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
cd "$INCEPTION_ROOT"
stack="${1:-local}"
[ $# -gt 0 ] && shift

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
scripts/toolchain.sh
. "$INCEPTION_ROOT/scripts/stack.sh"
select_stack "$stack"
say "pulumi up -s $stack"
pulumi up --yes --skip-preview --stack "$stack" "$@"
