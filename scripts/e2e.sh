#!/usr/bin/env bash
# npm run e2e: the real thing on this machine, on a throw-away local stack and kind cluster:
#   1. up: cluster, mock infra, the executor, the suite Job and its hook — suite green;
#   2. the cluster (3 nodes, labels), the stack outputs and the artifacts folder checked by mocha;
#   3. a second up changes nothing (rerun onChange);
#   4. the executor in its fault mode: up fails, naming the missing event, artifacts still written;
#   5. down: the kind cluster is gone.
# With --full (npm run e2e:full) also: ZooKeeper and a CRD on, the mock infra checked from the host
# (Kafka listener, S3 port, CRD object, Kafka pod kill), the S3 gateway's pod killed with no
# acknowledged object lost, the suite Job past its deadline (a suite that only waits,
# tests/fixtures/hold-suite: the deadline ends it on any cluster), rerun "always", and the host
# runner. npm test runs --full (then e2e-example.sh, e2e-devo.sh and e2e-faults.sh).
# Each check is a step (scripts/lib.sh e2e_step): a failed step is named and the independent
# steps after it still run; only a failed first up stops the run (every step stands on it).
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
select_stack "$stack" local
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

# Settings each step may change; every step starts from the base (a failed step leaves its own).
reset_step_settings() {
  local key
  for key in inception:suite inception:services; do
    pulumi config rm --stack "$stack" "$key" >/dev/null 2>&1 || true
  done
  pulumi config set --stack "$stack" --path inception:suite.rerun onChange
}

kubeconfig_and_outputs() {
  pulumi stack output --stack "$stack" --show-secrets kubeconfig >"$work/kubeconfig"
  pulumi stack output --stack "$stack" --json >"$work/outputs.json"
}

# The run folder an `up` printed (its last "inception: artifacts: <dir>" line).
run_dir_of() { sed -n 's/.*inception: artifacts: \(\/[^ ]*\).*/\1/p' "$1" | tail -n 1; }

first_up() {
  t0=$(date +%s)
  scripts/up.sh "$stack" 2>&1 | tee "$work/up.log"
  say "e2e: up took $(($(date +%s) - t0))s"
  kubeconfig_and_outputs
}

green_run_checks() {
  INCEPTION_E2E_KUBECONFIG="$work/kubeconfig" INCEPTION_E2E_OUTPUTS="$work/outputs.json" \
    npx mocha --config tests/.mocharc.e2e.json tests/e2e/cluster.test.ts tests/e2e/run.test.ts
}

mock_infra_checks() {
  INCEPTION_E2E_KUBECONFIG="$work/kubeconfig" INCEPTION_E2E_OUTPUTS="$work/outputs.json" \
    npx mocha --config tests/.mocharc.e2e.json tests/e2e/mockinfra.test.ts
}

# The S3 counterpart of the Kafka pod kill: objects put across the gateway pod's loss, all read back.
s3_durability() {
  INCEPTION_E2E_KUBECONFIG="$work/kubeconfig" INCEPTION_E2E_OUTPUTS="$work/outputs.json" \
    npx mocha --config tests/.mocharc.e2e.json tests/e2e/s3-durability.test.ts
}

# The broker and the S3 gateway were killed and came back: their pods are new, their
# StatefulSet and Deployment unchanged.
second_up_changes_nothing() {
  pulumi up --yes --skip-preview --stack "$stack" --expect-no-changes >"$work/up-again.log" 2>&1 ||
    { tail -n 40 "$work/up-again.log"; die "the second up proposed changes"; }
}

fault_mode() {
  pulumi config set --stack "$stack" inception:services '[{"name":"executor","env":{"EXECUTOR_FAULT":"drop-executor-event"}}]'
  # The checks need one test failing for want of the event (run a job) and some passing (cancel);
  # every other test that waits for an executor event would wait out its 60-90 s as well.
  pulumi config set --stack "$stack" --path inception:suite.grep "executor: (run a job|cancel)"
  if scripts/up.sh "$stack" >"$work/up-fault.log" 2>&1; then
    die "up passed although the executor dropped its executor event"
  fi
  pulumi stack output --stack "$stack" --json >"$work/outputs-fault.json" || true
  local run_dir
  run_dir=$(run_dir_of "$work/up-fault.log")
  [ -n "$run_dir" ] || die "the failed up printed no artifacts folder"
  INCEPTION_E2E_FAULT_LOG="$work/up-fault.log" INCEPTION_E2E_FAULT_RUN="$run_dir" \
    npx mocha --config tests/.mocharc.e2e.json tests/e2e/fault.test.ts
}

# The suite that only waits (tests/fixtures/hold-suite) outlives any deadline, so the Job's
# deadline ends the run every time, whatever the cluster's speed or the wall clock.
suite_past_deadline() {
  pulumi config set --stack "$stack" --path inception:suite.dir tests/fixtures/hold-suite
  pulumi config set --stack "$stack" --path inception:suite.timeoutSeconds 30
  pulumi config set --stack "$stack" --path inception:suite.testTimeoutMs 20000
  if scripts/up.sh "$stack" >"$work/up-deadline.log" 2>&1; then
    die "up passed although the suite Job ran past its 30 s deadline"
  fi
  grep -q "FAILED: the suite Job ran past its deadline" "$work/up-deadline.log" ||
    { tail -n 40 "$work/up-deadline.log"; die "the deadline failure does not say it ran past its deadline"; }
  local run_dir
  run_dir=$(run_dir_of "$work/up-deadline.log")
  [ -n "$run_dir" ] || die "the timed-out up printed no artifacts folder"
  grep -q "holding until the suite Job's deadline" "$run_dir/suite.log" ||
    die "the timed-out run's suite.log lacks the held test's line ($run_dir/suite.log)"
  [ -n "$(find "$run_dir/cluster/services/executor" -name '*.log' -size +0 2>/dev/null)" ] ||
    die "the timed-out run left no service logs in $run_dir/cluster/services/executor"
  say "e2e: the deadline run's folder: $run_dir"
}

rerun_always() {
  pulumi config set --stack "$stack" --path inception:suite.rerun always
  pulumi config set --stack "$stack" --path inception:suite.grep "invalid event"
  local ids=() n
  for n in 1 2; do
    scripts/up.sh "$stack" >"$work/up-rerun-$n.log" 2>&1 || { tail -n 30 "$work/up-rerun-$n.log"; die "rerun up $n failed"; }
    ids+=("$(pulumi stack output --stack "$stack" runId)")
  done
  [ "${ids[0]}" != "${ids[1]}" ] || die "two ups with rerun always had the same run id ${ids[0]}"
  say "e2e: run ids ${ids[0]} then ${ids[1]}"
}

host_runner() {
  pulumi config set --stack "$stack" --path inception:suite.runner host
  scripts/up.sh "$stack" >"$work/up-host.log" 2>&1 || { tail -n 40 "$work/up-host.log"; die "the host runner's run failed"; }
  pulumi stack output --stack "$stack" --json >"$work/outputs-host.json"
  # shellcheck disable=SC2016 # JavaScript: its $ is not the shell's
  node -e '
    const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    if (!(o.tests && o.tests.failed === 0 && o.tests.passed >= 5)) { console.error("host runner results:", JSON.stringify(o.tests)); process.exit(1); }
    console.log(`host runner: ${o.tests.passed} passed, ${o.tests.pending} pending`);
  ' "$work/outputs-host.json"
}

# A preview on a fresh clone of this checkout's commit: it must run, change no tracked file and
# write nothing outside .inception/ (no npm ci, no build context, no stamp) — the state the CI and a
# new user start from.
preview_is_pure() {
  local clone="$work/preview-clone"
  rm -rf "$clone"
  git clone -q "$INCEPTION_ROOT" "$clone"
  git -C "$clone" checkout -q "$(git rev-parse HEAD)"
  (cd "$clone" && npm ci --no-audit --no-fund >"$work/preview-npm.log" 2>&1) || { tail -n 20 "$work/preview-npm.log"; die "npm ci in the fresh clone failed"; }
  (
    cd "$clone"
    export PULUMI_BACKEND_URL="file://$clone/.inception/state"
    mkdir -p .inception/state
    select_stack local
    pulumi config set --stack local --path inception:cluster.name inception-preview
    pulumi preview --stack local >"$work/preview.log" 2>&1
  ) || { tail -n 30 "$work/preview.log"; die "pulumi preview on a fresh clone failed"; }
  # Ignored files count too (a build context, a stamp, dist/): only npm ci's node_modules, the
  # stack's own config file and .inception/ may differ from the commit.
  local changed
  changed=$(cd "$clone" && git status --porcelain --ignored |
    grep -v -e '^ M Pulumi.local.yaml$' -e '^!! node_modules/$' -e '^!! .inception/$' || true)
  [ -z "$changed" ] || die "pulumi preview changed the checkout or wrote outside .inception/: $changed"
  rm -rf "$clone"
}

e2e_step "pulumi preview on a fresh clone changes no file outside .inception/" preview_is_pure

# The first up is what every later step stands on: without it, stop here.
failed_before_up=${#e2e_failed_steps[@]}
e2e_step "up: cluster, mock infra, executor, suite green" first_up
[ "${#e2e_failed_steps[@]}" -eq "$failed_before_up" ] || e2e_steps_verdict
e2e_step "the cluster, the stack outputs and the run folder of the green run" green_run_checks
[ -z "$full" ] || e2e_step "the mock infra from the host (Kafka, S3, CRD, Kafka pod kill)" mock_infra_checks
[ -z "$full" ] || e2e_step "the S3 mock: a killed gateway pod comes back, no acknowledged object lost" s3_durability
e2e_step "a second up changes nothing" second_up_changes_nothing
e2e_step "the executor drops its executor event: the suite fails, naming it" fault_mode
reset_step_settings

if [ -z "$full" ]; then
  say "e2e: core tier done; NOT RUN here: the extended checks (host-side mock infra, Kafka and S3 pod kills, suite deadline, rerun always, host runner): npm run e2e:full"
  e2e_steps_verdict
  exit 0
fi

e2e_step "the suite Job runs past its deadline: up fails saying so" suite_past_deadline
reset_step_settings
e2e_step "rerun always: every up is a new run" rerun_always
reset_step_settings
e2e_step "the host runner passes the same suite" host_runner
reset_step_settings
e2e_steps_verdict
