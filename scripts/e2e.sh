#!/usr/bin/env bash
# npm run e2e: the real thing on this machine, on a throw-away local stack and kind cluster:
#   1. up: cluster, mock infra, the executor, the suite Job and its hook — suite green;
#   2. the cluster (3 nodes, labels), the stack outputs and the artifacts folder checked by mocha;
#   3. a second up changes nothing (rerun onChange);
#   4. the executor in its fault mode: up fails, naming the missing event, artifacts still written;
#   5. down: the kind cluster is gone.
# With --full (npm run e2e:full) also: ZooKeeper and a CRD on, the mock infra checked from the host
# (Kafka listener, S3 port, CRD object, Kafka pod kill), the suite Job past its deadline, rerun
# "always", and the host runner. npm test runs --full (then e2e-example.sh and e2e-devo.sh).
# Always tears down, even on failure. Needs the toolchain (npm run toolchain).
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
cd "$INCEPTION_ROOT"
full=""
case "${1:-}" in --full) full=1 ;; "") ;; *) die "unknown argument '$1' (expected --full or nothing)" ;; esac
scripts/toolchain.sh --check || die "the toolchain cache $INCEPTION_TOOLCHAIN is incomplete: run 'npm run toolchain'"

stack="${INCEPTION_E2E_STACK:-local-e2e}"
cluster="inception-e2e"
work="$INCEPTION_ROOT/.inception/e2e"
rm -rf "$work" && mkdir -p "$work"
select_stack "$stack"
pulumi config set --stack "$stack" inception:stage local
pulumi config set --stack "$stack" --path inception:cluster.name "$cluster"
# Start from the defaults: an interrupted earlier run may have left its settings in the stack.
for key in inception:suite inception:services inception:mockInfra; do
  pulumi config rm --stack "$stack" "$key" >/dev/null 2>&1 || true
done
pulumi config set --stack "$stack" --path inception:suite.rerun onChange
if [ -n "$full" ]; then
  # Every mock on: ZooKeeper and the MPIJob CRD too.
  pulumi config set --stack "$stack" --path inception:mockInfra.zookeeper.enabled true
  pulumi config set --stack "$stack" --path 'inception:mockInfra.crds[0]' mock-infra/crds/mpijob.yaml
fi

trap 'e2e_local_teardown e2e "$stack" "$cluster" "$work"' EXIT
# An interrupted run is a failed run, whatever the last command returned.
trap "exit 130" INT TERM

t0=$(date +%s)
say "e2e: up ($stack)"
scripts/up.sh "$stack" 2>&1 | tee "$work/up.log"
say "e2e: up took $(($(date +%s) - t0))s"

pulumi stack output --stack "$stack" --show-secrets kubeconfig >"$work/kubeconfig"
pulumi stack output --stack "$stack" --json >"$work/outputs.json"
INCEPTION_E2E_KUBECONFIG="$work/kubeconfig" INCEPTION_E2E_OUTPUTS="$work/outputs.json" \
  npx mocha --config tests/.mocharc.e2e.json tests/e2e/cluster.test.ts tests/e2e/run.test.ts
if [ -n "$full" ]; then
  INCEPTION_E2E_KUBECONFIG="$work/kubeconfig" INCEPTION_E2E_OUTPUTS="$work/outputs.json" \
    npx mocha --config tests/.mocharc.e2e.json tests/e2e/mockinfra.test.ts
fi

# The broker was killed and came back: its pod is new, its StatefulSet unchanged.
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

if [ -z "$full" ]; then
  say "e2e: core tier done; NOT RUN here: the extended checks (host-side mock infra and Kafka pod kill, suite deadline, rerun always, host runner): npm run e2e:full"
  exit 0
fi

say "e2e: the suite Job runs past its deadline: up must fail saying so"
pulumi config set --stack "$stack" --path inception:suite.timeoutSeconds 30
if scripts/up.sh "$stack" >"$work/up-deadline.log" 2>&1; then
  die "up passed although the suite Job ran past its 30 s deadline"
fi
grep -q "FAILED: the suite Job ran past its deadline" "$work/up-deadline.log" ||
  die "the deadline failure does not say it timed out (see $work/up-deadline.log)"
run_dir=$(sed -n 's/.*inception: artifacts: \(\/[^ ]*\).*/\1/p' "$work/up-deadline.log" | tail -n 1)
[ -s "$run_dir/suite.log" ] && [ -n "$(ls "$run_dir/cluster/services/executor")" ] ||
  die "the timed-out run left no suite log or service logs in $run_dir"
pulumi config rm --stack "$stack" --path inception:suite.timeoutSeconds

say "e2e: rerun always: every up is a new run"
pulumi config set --stack "$stack" --path inception:suite.rerun always
pulumi config set --stack "$stack" --path inception:suite.grep "invalid event"
ids=()
for n in 1 2; do
  scripts/up.sh "$stack" >"$work/up-rerun-$n.log" 2>&1 || { tail -n 30 "$work/up-rerun-$n.log"; die "rerun up $n failed"; }
  ids+=("$(pulumi stack output --stack "$stack" runId)")
done
[ "${ids[0]}" != "${ids[1]}" ] || die "two ups with rerun always had the same run id ${ids[0]}"
say "e2e: run ids ${ids[0]} then ${ids[1]}"

say "e2e: the host runner passes the same suite"
pulumi config rm --stack "$stack" --path inception:suite.grep
pulumi config set --stack "$stack" --path inception:suite.runner host
scripts/up.sh "$stack" >"$work/up-host.log" 2>&1 || { tail -n 40 "$work/up-host.log"; die "the host runner's run failed"; }
pulumi stack output --stack "$stack" --json >"$work/outputs-host.json"
# shellcheck disable=SC2016 # JavaScript: its $ is not the shell's
node -e '
  const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  if (!(o.tests && o.tests.failed === 0 && o.tests.passed >= 5)) { console.error("host runner results:", JSON.stringify(o.tests)); process.exit(1); }
  console.log(`host runner: ${o.tests.passed} passed, ${o.tests.pending} pending`);
' "$work/outputs-host.json"
pulumi config rm --stack "$stack" --path inception:suite.runner
