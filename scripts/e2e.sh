#!/usr/bin/env bash
# npm run e2e: the real thing on this machine. `up` a throw-away local stack, check the cluster
# with @kubernetes/client-node, check a second `up` changes nothing, then `down` and check the kind
# cluster is gone. Always tears down, even on failure. Needs the toolchain (npm run toolchain).
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
cd "$INCEPTION_ROOT"
scripts/toolchain.sh --check || die "the toolchain cache $INCEPTION_TOOLCHAIN is incomplete: run 'npm run toolchain'"

stack="${INCEPTION_E2E_STACK:-local-e2e}"
cluster="inception-e2e"
work="$INCEPTION_ROOT/.inception/e2e"
mkdir -p "$work"
. scripts/stack.sh
select_stack "$stack"
pulumi config set --stack "$stack" inception:stage local
pulumi config set --stack "$stack" --path inception:cluster.name "$cluster"
# This tier covers the cluster (Step 1) so far; mock infra joins it once its images are built here.
for m in kafka s3 dataServer zookeeper; do
  pulumi config set --stack "$stack" --path "inception:mockInfra.$m.enabled" false
done
pulumi config set --stack "$stack" --path inception:suite.enabled false
pulumi config set --stack "$stack" inception:services '[]'

teardown() {
  local rc=$?
  say "e2e: tearing down ($stack)"
  scripts/down.sh "$stack" >"$work/down.log" 2>&1 || { tail -n 30 "$work/down.log"; rc=1; }
  if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
    echo "e2e FAILED: kind cluster $cluster still exists after down" >&2; rc=1
  fi
  exit "$rc"
}
trap teardown EXIT

say "e2e: up ($stack)"
t0=$(date +%s)
scripts/up.sh "$stack" --skip-preview
say "e2e: up took $(($(date +%s) - t0))s"

pulumi stack output --stack "$stack" --show-secrets kubeconfig >"$work/kubeconfig"
INCEPTION_E2E_KUBECONFIG="$work/kubeconfig" npx mocha --config tests/.mocharc.e2e.json

say "e2e: a second up must change nothing"
pulumi up --yes --stack "$stack" --expect-no-changes --skip-preview
