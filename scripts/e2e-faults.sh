#!/usr/bin/env bash
# npm run e2e:faults: Step 11's fault-injection tier on a throw-away local stack (faults, kind
# cluster inception-faults, host ports 29092/27070: it never touches the `local` or `local-e2e`
# stacks nor bench-shards' 19092/17070). One cluster for every fault; each fault is injected, then
# an `up` runs, and scripts/e2e-faults.ts judges what it saw against what the fault must end in
# (its FAULTS table): the verdict and its cause (verdict.json), the seconds to it (within the
# deadline the fault set + 30 s), the run folder's files (verdict.json, report.html, suite.log,
# the service's logs), the stack outputs (this run's), and what the script's own checks found lost.
# Each fault is a step (scripts/lib.sh e2e_step); the output ends with the table and the plain line
# "N passed, N failed". Always tears the stack and its cluster down.
#
# Order: cheapest first, then the two that recreate the cluster, then the Docker engine restart
# (only when nothing else runs on the engine). About 15 min here (docs/measurements.md, Step 11
# faults).
#
# INCEPTION_FAULTS="id id …" runs only those faults (ids: scripts/e2e-faults.ts FAULTS), after the
# baseline up. Needs the toolchain.
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
cd "$INCEPTION_ROOT"
scripts/toolchain.sh --check || die "the toolchain cache $INCEPTION_TOOLCHAIN is incomplete: run 'npm run toolchain'"

stack="faults"
cluster="inception-faults"
work="$INCEPTION_ROOT/.inception/e2e-faults"
rows="$work/rows.jsonl"
rm -rf "$work" && mkdir -p "$work"
: >"$rows"
# Every up is bounded: a hung up is a failed fault, never a hung tier.
up_limit=900
only=" ${INCEPTION_FAULTS:-} "

select_stack "$stack" local
pulumi config set --stack "$stack" inception:stage local

# The stack's own settings; every fault starts from them (a failed fault leaves its own behind).
base_settings() {
  local_stack_defaults "$stack" "$cluster" 29092 27070
  # Every run folder stays for inspection; one quick test of the executor suite where the fault
  # is not about the suite.
  pulumi config set --stack "$stack" --path inception:suite.keepRuns 40
  pulumi config set --stack "$stack" --path inception:suite.grep "invalid event"
}
base_settings

# The table is written before the teardown and printed after its lines: the output ends with it.
finish() {
  local rc=$?
  node -r ts-node/register/transpile-only scripts/e2e-faults.ts table --rows "$rows" >"$work/table.txt" 2>&1 || true
  set +e
  (exit "$rc") # e2e_local_teardown reads the status the script was exiting with
  e2e_local_teardown e2e:faults "$stack" "$cluster" "$work" "$work/table.txt"
}
trap finish EXIT
trap "exit 130" INT TERM

suite() { # KEY VALUE: one suite setting
  pulumi config set --stack "$stack" --path "inception:suite.$1" "$2"
}

# timed_up NAME [STACK]: one bounded `pulumi up` (as scripts/up.sh runs it, after the baseline's
# toolchain check); $work/NAME.{log,exit,seconds,outputs.json}.
timed_up() {
  local name=$1 s=${2:-$stack} t0 rc=0
  t0=$(date +%s)
  timeout --signal=INT --kill-after=60 "$up_limit" pulumi up --yes --skip-preview --stack "$s" \
    >"$work/$name.log" 2>&1 || rc=$?
  echo "$rc" >"$work/$name.exit"
  echo "$(($(date +%s) - t0))" >"$work/$name.seconds"
  pulumi stack output --stack "$s" --json >"$work/$name.outputs.json" 2>/dev/null || echo '{}' >"$work/$name.outputs.json"
  say "faults: $name: up exited $rc after $(cat "$work/$name.seconds") s"
}

# observe FAULT NAME [e2e-faults.ts options…]: the fault's row, judged; fails the step when it failed.
observe() {
  local fault=$1 name=$2
  shift 2
  node -r ts-node/register/transpile-only scripts/e2e-faults.ts observe --fault "$fault" --rows "$rows" \
    --log "$work/$name.log" --exit "$(cat "$work/$name.exit")" --up-seconds "$(cat "$work/$name.seconds")" \
    --outputs "$work/$name.outputs.json" "$@"
}

kubeconfig() { kind get kubeconfig --name "$cluster" >"$work/kubeconfig"; }
kc() { kubectl --kubeconfig "$work/kubeconfig" --namespace "$namespace" "$@"; }

# up_with_fault NAME PATTERN COMMAND…: an up in the background; once its output shows PATTERN,
# COMMAND injects the fault; then the up is waited for. $work/NAME.injected says it happened.
up_with_fault() {
  local name=$1 pattern=$2 t0 rc=0 pid
  shift 2
  t0=$(date +%s)
  timeout --signal=INT --kill-after=60 "$up_limit" pulumi up --yes --skip-preview --stack "$stack" \
    >"$work/$name.log" 2>&1 &
  pid=$!
  # A process substitution: the wait ends at the first match, not at tail's end.
  if grep -m1 -q -- "$pattern" < <(tail -n +1 -F --pid="$pid" "$work/$name.log" 2>/dev/null); then
    say "faults: $name: injecting: $*"
    if "$@"; then echo "$(($(date +%s) - t0))" >"$work/$name.injected"; fi
  fi
  wait "$pid" || rc=$?
  echo "$rc" >"$work/$name.exit"
  echo "$(($(date +%s) - t0))" >"$work/$name.seconds"
  pulumi stack output --stack "$stack" --json >"$work/$name.outputs.json" 2>/dev/null || echo '{}' >"$work/$name.outputs.json"
  say "faults: $name: up exited $rc after $(cat "$work/$name.seconds") s"
}

# fault ID FUNCTION: runs the fault as a step, or says loudly why not (a row "not run"); without
# the baseline only the refused configs can run, the others are failed rows naming it.
fault() {
  local id=$1 fn=$2
  if [ "$only" != "  " ] && [[ "$only" != *" $id "* ]]; then return 0; fi
  if [ -n "$baseline_failed" ] && [[ "$id" != config-* ]]; then
    e2e_step "fault $id" node -r ts-node/register/transpile-only scripts/e2e-faults.ts not-run --failed \
      --fault "$id" --rows "$rows" --why "the baseline up failed (see the step above)"
    return 0
  fi
  e2e_step "fault $id" "$fn"
}

# ── the baseline: the cluster, the mock infra, the executor, one quick test green ───────────────
baseline() {
  scripts/up.sh "$stack" >"$work/baseline.log" 2>&1 || { tail -n 40 "$work/baseline.log"; die "the baseline up failed"; }
  pulumi stack output --stack "$stack" namespaceName >"$work/namespace"
}

# ── wrong configs: refused before any resource, the stack left as it was ───────────────────────
# config_refused ID KEY VALUE [--path]: one wrong setting, then an up.
config_refused() {
  local id=$1 key=$2 value=$3 path=${4:-}
  base_settings
  pulumi stack output --stack "$stack" --json >"$work/$id.before.json" 2>/dev/null || echo '{}' >"$work/$id.before.json"
  # shellcheck disable=SC2086 # $path is one flag or nothing
  pulumi config set --stack "$stack" $path "inception:$key" "$value"
  timed_up "$id"
  observe "$id" "$id" --outputs-before "$work/$id.before.json"
}
config_artifacts_root() { config_refused config-artifacts-root suite.artifactsDir / --path; }
config_artifacts_parent() { config_refused config-artifacts-parent suite.artifactsDir .. --path; }
config_spawned_selector() {
  config_refused config-spawned-selector services '[{"name":"executor","spawnedSelector":"app in (a"}]'
}
# An empty list cannot be set with --path (it would be the text "[]"): the whole key, ports kept.
config_no_topics() {
  config_refused config-no-topics mockInfra '{"kafka":{"hostPort":29092,"topics":[]},"s3":{"hostPort":27070}}'
}
config_test_timeout() {
  base_settings
  suite timeoutSeconds 60
  config_refused_keep config-test-timeout suite.testTimeoutMs 120000
}
# The same as config_refused without resetting first (a second setting makes the fault).
config_refused_keep() {
  local id=$1 key=$2 value=$3
  pulumi stack output --stack "$stack" --json >"$work/$id.before.json" 2>/dev/null || echo '{}' >"$work/$id.before.json"
  pulumi config set --stack "$stack" --path "inception:$key" "$value"
  timed_up "$id"
  observe "$id" "$id" --outputs-before "$work/$id.before.json"
}
# A stack of its own whose name makes the default kind cluster name longer than kind allows.
config_long_stack_name() {
  local long="faults-with-a-stack-name-too-long-for-a-default-kind-cluster" rc=0
  select_stack "$long" local
  pulumi config set --stack "$long" inception:stage local
  echo '{}' >"$work/config-long-stack-name.before.json"
  timed_up config-long-stack-name "$long"
  observe config-long-stack-name config-long-stack-name \
    --outputs-before "$work/config-long-stack-name.before.json" || rc=$?
  pulumi stack rm --yes --force --stack "$long" >/dev/null 2>&1 || true
  return "$rc"
}

# ── the suite misbehaves: fixture suites (tests/fixtures) ───────────────────────────────────────
open_handle() {
  base_settings
  pulumi config rm --stack "$stack" --path inception:suite.grep
  suite dir tests/fixtures/handle-suite
  suite timeoutSeconds 60
  suite testTimeoutMs 30000
  timed_up open-handle
  observe open-handle open-handle --deadline 60
}
test_hangs() {
  base_settings
  pulumi config rm --stack "$stack" --path inception:suite.grep
  suite dir tests/fixtures/hang-suite
  suite timeoutSeconds 120
  suite testTimeoutMs 5000
  timed_up test-hangs
  observe test-hangs test-hangs --deadline 120
}
broken_suite_image() {
  base_settings
  pulumi config rm --stack "$stack" --path inception:suite.grep
  suite dir tests/fixtures/crash-at-start
  suite dockerfile tests/fixtures/crash-at-start/Dockerfile
  suite timeoutSeconds 60
  suite testTimeoutMs 30000
  timed_up broken-suite-image
  observe broken-suite-image broken-suite-image --deadline 60
}
# The build's failure is the run's verdict (could-not-start), said at once.
suite_image_build_fails() {
  base_settings
  pulumi config rm --stack "$stack" --path inception:suite.grep
  suite dir tests/fixtures/build-fails
  suite dockerfile tests/fixtures/build-fails/Dockerfile
  suite timeoutSeconds 60
  suite testTimeoutMs 30000
  timed_up suite-image-build-fails
  observe suite-image-build-fails suite-image-build-fails --deadline 60
}
# The suite that only waits (as e2e.sh's deadline step): the Job's deadline ends it, always.
suite_deadline() {
  base_settings
  pulumi config rm --stack "$stack" --path inception:suite.grep
  suite dir tests/fixtures/hold-suite
  suite timeoutSeconds 30
  suite testTimeoutMs 20000
  timed_up suite-deadline
  observe suite-deadline suite-deadline --deadline 30
}

# ── the world misbehaves mid-suite: the whole executor suite, the fault at its first passed test ─
first_test_passed="│ .*✔"
never_injected="the fault was never injected (the up ended before its trigger line)"
kafka_broker_killed() {
  local lost=()
  base_settings
  pulumi config rm --stack "$stack" --path inception:suite.grep
  suite timeoutSeconds 300
  namespace=$(cat "$work/namespace")
  kubeconfig
  up_with_fault kafka-broker-killed "$first_test_passed" kc delete pod kafka-0 --grace-period=0 --force --wait=false
  [ -f "$work/kafka-broker-killed.injected" ] || lost+=("--lost=$never_injected")
  kc wait --for=condition=Ready pod/kafka-0 --timeout=120s >/dev/null 2>&1 ||
    lost+=("--lost=the broker pod is not Ready again 120 s after the run")
  observe kafka-broker-killed kafka-broker-killed --deadline 300 "${lost[@]}"
}
pause_api_server() {
  docker pause "$cluster-control-plane" >/dev/null
  sleep 20 # the fault's length, not a wait for anything
  docker unpause "$cluster-control-plane" >/dev/null
}
api_server_paused() {
  local lost=()
  base_settings
  pulumi config rm --stack "$stack" --path inception:suite.grep
  suite timeoutSeconds 300
  up_with_fault api-server-paused "$first_test_passed" pause_api_server
  # Never leave the cluster frozen for the faults after this one.
  docker unpause "$cluster-control-plane" >/dev/null 2>&1 || true
  [ -f "$work/api-server-paused.injected" ] || lost+=("--lost=$never_injected")
  observe api-server-paused api-server-paused --deadline 300 "${lost[@]}"
}

# ── the service misbehaves ────────────────────────────────────────────────
service_crash_loop() {
  base_settings
  pulumi config set --stack "$stack" inception:services \
    '[{"name":"executor","env":{"EXECUTOR_JOB_TTL_SECONDS":"never"},"readyTimeoutSeconds":30}]'
  timed_up service-crash-loop
  observe service-crash-loop service-crash-loop --deadline 30
}
service_never_ready() {
  base_settings
  pulumi config set --stack "$stack" inception:services \
    '[{"name":"executor","readinessPath":"/never-ready","readyTimeoutSeconds":30}]'
  timed_up service-never-ready
  observe service-never-ready service-never-ready --deadline 30
}

# ── SIGINT during up (Ctrl-C: the whole process group), then up ─────────────
sigint_then_up() {
  local pid running="" lost=() j interrupted
  base_settings
  pulumi config rm --stack "$stack" --path inception:suite.grep
  suite dir tests/fixtures/hold-suite
  suite timeoutSeconds 300
  suite testTimeoutMs 20000
  namespace=$(cat "$work/namespace")
  kubeconfig
  touch "$work/sigint.start"
  # Job control on: the up gets a process group of its own, signalled as a terminal's Ctrl-C
  # signals its foreground job (without it a background job starts with SIGINT ignored).
  set -m
  pulumi up --yes --skip-preview --stack "$stack" >"$work/sigint-up.log" 2>&1 &
  pid=$!
  set +m
  if grep -m1 -q "streaming its output" < <(tail -n +1 -F --pid="$pid" "$work/sigint-up.log" 2>/dev/null); then
    running=$(kc get jobs -l inception.dev/suite-run -o jsonpath='{range .items[?(@.status.active)]}{.metadata.name}{" "}{end}')
    say "faults: sigint-then-up: SIGINT to the up while suite Job(s) run: $running"
    kill -INT -- "-$pid"
    if ! timeout 120 tail --pid="$pid" -f /dev/null; then
      kill -KILL -- "-$pid" 2>/dev/null || true
      lost+=("--lost=the interrupted up did not stop within 120 s of SIGINT")
    fi
  else
    lost+=("--lost=the fault was never injected (the up ended before its suite streamed)")
  fi
  wait "$pid" 2>/dev/null || true
  # The interrupted run's folder must still hold a verdict (Step 11: artifacts in every case).
  interrupted=$(find "artifacts/$stack" -mindepth 1 -maxdepth 1 -type d -newer "$work/sigint.start" 2>/dev/null | head -n 1)
  if [ -z "$interrupted" ] || [ ! -f "$interrupted/verdict.json" ]; then
    lost+=("--lost=the interrupted run left no verdict.json (${interrupted:-no run folder})")
  fi
  base_settings
  timed_up sigint-then-up
  for j in $running; do
    kc wait --for=delete pod -l "job-name=$j" --timeout=60s >/dev/null 2>&1 ||
      lost+=("--lost=suite Job $j of the interrupted up still runs after the next up")
  done
  observe sigint-then-up sigint-then-up --deadline 900 "${lost[@]}"
}

# ── the cluster goes away: the next up must converge without `down` ─────────────────────────────
# What a Docker engine restart can leave of this stack's cluster: its node containers stopped (the
# engine restart itself is the fault docker-restart).
nodes_stopped() {
  base_settings
  docker ps -q --filter "label=io.x-k8s.kind.cluster=$cluster" | xargs -r docker stop --time 10 >/dev/null
  timed_up nodes-stopped
  observe nodes-stopped nodes-stopped --deadline 900
}
cluster_deleted() {
  base_settings
  kind delete cluster --name "$cluster" >"$work/kind-delete.log" 2>&1
  timed_up cluster-deleted
  observe cluster-deleted cluster-deleted --deadline 900
}

# The Docker engine restarted between two ups. A restart stops every container on the engine, so
# it runs only when this stack's cluster is all there is on it (CI runs its tiers one after
# another); otherwise its row says who else runs there.
docker_restarted() {
  base_settings
  restart_docker_engine
  timed_up docker-restart
  observe docker-restart docker-restart --deadline 900
}

# restart_docker_engine: stops the engine, its containers with it, and starts it again: systemd's
# unit where there is one, else the bare `dockerd` scripts/toolchain.sh --start-services starts
# (engine_not_restartable has checked it is that one).
restart_docker_engine() {
  local pid
  if systemctl is-active --quiet docker 2>/dev/null; then
    systemctl restart docker
  else
    pid=$(pidof -s dockerd)
    say "faults: docker-restart: stopping dockerd ($pid)"
    kill -TERM "$pid"
    timeout 120 tail --pid="$pid" -f /dev/null || die "dockerd did not stop within 120 s of SIGTERM"
    scripts/toolchain.sh --start-services >"$work/docker-start.log" 2>&1 ||
      { cat "$work/docker-start.log"; die "the Docker engine did not start again"; }
  fi
  docker info >/dev/null || die "the Docker engine does not answer after its restart"
  say "faults: docker-restart: the engine answers again; this cluster's nodes: $(docker ps -a \
    --filter "label=io.x-k8s.kind.cluster=$cluster" --format '{{.Names}} {{.State}}' | paste -sd, -)"
}

# Why the engine cannot be restarted the way it was started (nothing when it can): systemd's unit,
# or one bare `dockerd` (flags of another daemon would be lost by starting it as toolchain.sh does).
engine_not_restartable() {
  local pids cmdline
  systemctl is-active --quiet docker 2>/dev/null && return 0
  pids=$(pidof dockerd || true)
  case "$pids" in
    "") echo "no dockerd process found (and no systemd unit)" ;;
    *" "*) echo "several dockerd processes ($pids)" ;;
    *)
      cmdline=$(tr '\0' ' ' <"/proc/$pids/cmdline" | sed 's/ $//')
      [ "$cmdline" = dockerd ] || echo "dockerd runs as '$cmdline', not as scripts/toolchain.sh starts it" ;;
  esac
}

# Containers on this engine that are not this stack's kind nodes (a restart would stop them). The
# image cache is the local stage's own (docs/registry.md): it restarts with the engine
# (--restart unless-stopped), and the next up's preflight starts it if it did not.
others_on_engine() {
  docker ps --format '{{.Names}} {{.Label "io.x-k8s.kind.cluster"}}' |
    awk -v c="$cluster" '$2 != c && $1 != "inception-image-cache" { print $1 }'
}

# The first up is what every fault but the refused configs stands on.
baseline_failed=""
e2e_step "baseline up: cluster, mock infra, executor, one test green" baseline
[ "${#e2e_failed_steps[@]}" -eq 0 ] || baseline_failed=1

fault config-artifacts-root config_artifacts_root
fault config-artifacts-parent config_artifacts_parent
fault config-spawned-selector config_spawned_selector
fault config-no-topics config_no_topics
fault config-test-timeout config_test_timeout
fault config-long-stack-name config_long_stack_name
fault open-handle open_handle
fault test-hangs test_hangs
fault broken-suite-image broken_suite_image
fault suite-image-build-fails suite_image_build_fails
fault suite-deadline suite_deadline
fault kafka-broker-killed kafka_broker_killed
fault api-server-paused api_server_paused
fault service-crash-loop service_crash_loop
fault service-never-ready service_never_ready
fault sigint-then-up sigint_then_up
fault nodes-stopped nodes_stopped
fault cluster-deleted cluster_deleted
others=$(others_on_engine | paste -sd' ' -)
why_not=$(engine_not_restartable)
[ -n "$why_not" ] || [ -z "$others" ] ||
  why_not="other containers run on this machine's Docker engine ($others): restarting it would stop them"
if [ -z "$why_not" ]; then
  fault docker-restart docker_restarted
elif [ "$only" = "  " ] || [[ "$only" == *" docker-restart "* ]]; then
  say "!!!!! FAULT docker-restart NOT RUN: $why_not !!!!!"
  node -r ts-node/register/transpile-only scripts/e2e-faults.ts not-run --fault docker-restart --rows "$rows" \
    --why "$why_not"
fi
e2e_steps_verdict
