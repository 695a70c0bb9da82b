#!/usr/bin/env bash
# npm run down [-- STACK [pulumi destroy args…]]: `pulumi destroy` of STACK (default: local),
# which on local also deletes the kind cluster.
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
cd "$INCEPTION_ROOT"
stack="${1:-local}"
[ $# -gt 0 ] && shift
scripts/toolchain.sh --check || die "the toolchain is not built: run 'npm run toolchain' (or 'npm run up') first"
. "$INCEPTION_ROOT/scripts/stack.sh"
select_stack "$stack"
say "pulumi destroy -s $stack"
pulumi destroy --yes --stack "$stack" "$@"
