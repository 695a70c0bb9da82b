#!/usr/bin/env bash
# npm run e2e: the real thing on this machine, on a throw-away local stack and kind cluster:
#   1. up: cluster, mock infra, the executor, the suite Job and its hook — suite green;
#   2. the cluster (3 nodes, labels), the stack outputs and the artifacts folder checked by mocha;
#   3. a second up changes nothing (rerun onChange);
#   4. the executor in its fault mode: up fails, naming the missing event, artifacts still written;
#   5. down: the kind cluster is gone.
# Always tears down, even on failure. Needs the toolchain (npm run toolchain).
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
cd "$INCEPTION_ROOT"
scripts/toolchain.sh --check || die "the toolchain cache $INCEPTION_TOOLCHAIN is incomplete: run 'npm run toolchain'"

stack="${INCEPTION_E2E_STACK:-local-e2e}"
cluster="inception-e2e"
work="$INCEPTION_ROOT/.inception/e2e"
rm -rf "$work" && mkdir -p "$work"
. scripts/stack.sh
select_stack "$stack"
pulumi config set --stack "$stack" inception:stage local
pulumi config set --stack "$stack" --path inception:cluster.name "$cluster"
pulumi config set --stack "$stack" --path inception:suite.rerun onChange
pulumi config rm --stack "$stack" inception:services >/dev/null 2>&1 || true
for key in mockInfra suite.enabled; do pulumi config rm --stack "$stack" --path "inception:$key" >/dev/null 2>&1 || true; done

teardown() {
  local rc=$?
  say "e2e: tearing down ($stack)"
  scripts/down.sh "$stack" >"$work/down.log" 2>&1 || { tail -n 30 "$work/down.log"; rc=1; }
  if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
    echo "e2e FAILED: kind cluster $cluster still exists after down" >&2
    rc=1
  fi
  [ "$rc" -eq 0 ] && say "e2e: PASSED" || say "e2e: FAILED (logs in $work)"
  exit "$rc"
}
trap teardown EXIT

t0=$(date +%s)
say "e2e: up ($stack)"
scripts/up.sh "$stack" 2>&1 | tee "$work/up.log"
say "e2e: up took $(($(date +%s) - t0))s"

pulumi stack output --stack "$stack" --show-secrets kubeconfig >"$work/kubeconfig"
pulumi stack output --stack "$stack" --json >"$work/outputs.json"
INCEPTION_E2E_KUBECONFIG="$work/kubeconfig" INCEPTION_E2E_OUTPUTS="$work/outputs.json" \
  npx mocha --config tests/.mocharc.e2e.json tests/e2e/cluster.test.ts tests/e2e/run.test.ts

say "e2e: a second up must change nothing"
pulumi up --yes --skip-preview --stack "$stack" --expect-no-changes >"$work/up-again.log" 2>&1 ||
  { tail -n 40 "$work/up-again.log"; die "the second up proposed changes"; }

say "e2e: the executor drops its executor event: the suite must fail, naming it"
pulumi config set --stack "$stack" inception:services '[{"name":"executor","env":{"EXECUTOR_FAULT":"drop-executor-event"}}]'
if scripts/up.sh "$stack" >"$work/up-fault.log" 2>&1; then
  die "up passed although the executor dropped its executor event"
fi
pulumi stack output --stack "$stack" --json >"$work/outputs-fault.json" || true
run_dir=$(sed -n 's/.*inception: artifacts: \(\/[^ ]*\).*/\1/p' "$work/up-fault.log" | tail -n 1)
[ -n "$run_dir" ] || die "the failed up printed no artifacts folder"
INCEPTION_E2E_FAULT_LOG="$work/up-fault.log" INCEPTION_E2E_FAULT_RUN="$run_dir" \
  npx mocha --config tests/.mocharc.e2e.json tests/e2e/fault.test.ts
pulumi config rm --stack "$stack" inception:services
