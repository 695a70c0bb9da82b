#!/usr/bin/env bash
# npm run down [-- STACK [pulumi destroy args…]]: `pulumi destroy` of STACK (default: local),
# which on local also deletes the kind cluster. On local the kind cluster is deleted first: all
# that lives in it goes with it in seconds, where deleting object by object waits for every pod's
# shutdown; the provider's deleteUnreachable then lets destroy drop those objects from the state.
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
cd "$INCEPTION_ROOT"
stack="${1:-local}"
[ $# -gt 0 ] && shift
scripts/toolchain.sh --check || die "the toolchain is not built: run 'npm run toolchain' (or 'npm run up') first"
select_stack "$stack"
kind_cluster=$(pulumi stack output --stack "$stack" kindCluster 2>/dev/null || true)
if [ -n "$kind_cluster" ] && kind get clusters 2>/dev/null | grep -qx "$kind_cluster"; then
  say "deleting kind cluster $kind_cluster (the stack's own; everything in it goes with it)"
  kind delete cluster --name "$kind_cluster" >&2
fi
say "pulumi destroy -s $stack"
pulumi destroy --yes --skip-preview --stack "$stack" "$@"
