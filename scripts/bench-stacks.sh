#!/usr/bin/env bash
# npm run bench:stacks: many CI stacks on one shared cluster (Step 14). The devo stage played on
# this machine as scripts/e2e-devo.sh plays it (scripts/lib-devo.sh: the registry with a password,
# a kind cluster created outside any stack, each stack configured as a pipeline would): a round per
# stack count (BENCH_STACKS_COUNTS, default "1 2 4") brings up that many devo stacks at once, each
# with the default suite, while the kind nodes' memory is sampled (docker stats, every ~5 s), then
# destroys them so the next round starts from the idle cluster. scripts/bench-stacks.ts reports
# each round's time and peak memory (per stack: over the idle cluster) and fails unless every
# stack of every round is green. Always removes the cluster, the registry and the stacks' state;
# the output ends with one JSON line. Needs the toolchain. Not together with npm run e2e:devo (the
# same registry container). About 8 min here (docs/measurements.md, Step 14 many stacks).
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
# shellcheck source=lib-devo.sh
. "$INCEPTION_ROOT/scripts/lib-devo.sh"
cd "$INCEPTION_ROOT"
scripts/toolchain.sh --check || die "the toolchain cache $INCEPTION_TOOLCHAIN is incomplete: run 'npm run toolchain'"

read -r -a counts <<<"${BENCH_STACKS_COUNTS:-1 2 4}"
cluster="inception-bench-stacks"
context="kind-$cluster"
work="$INCEPTION_ROOT/.inception/bench-stacks"
rm -rf "$work" && mkdir -p "$work"
result="$work/result.json"
# Replaced by the verdict step: a run stopped before it still ends with a JSON line.
echo '{"pass":false,"problems":["the bench stopped before its verdict step (see the log above)"]}' >"$result"
# Secrets of these throw-away stacks and of the registry: fresh per run.
export PULUMI_CONFIG_PASSPHRASE="inception-bench-stacks"
# Stage devo refuses state inside the checkout. This directory holds only this bench's stacks,
# whose cluster never outlives the run: each run starts without them.
state="$INCEPTION_CACHE/bench-stacks-state"
rm -rf "$state" && mkdir -p "$state"
export PULUMI_BACKEND_URL="file://$state"
registry_user="inception"
registry_password="$(head -c 18 /dev/urandom | base64 | tr -dc 'a-zA-Z0-9')"

teardown() {
  local rc=$?
  say "bench:stacks: tearing down"
  # The memory sampler of a round that was cut short.
  if [ -f "$work/sampler.pid" ]; then kill "$(cat "$work/sampler.pid")" 2>/dev/null || true; fi
  # The cluster goes with every stack's objects in it; the state only names objects in it.
  devo_cluster_down "$cluster" >>"$work/teardown.log"
  rm -rf "$state"
  rm -f Pulumi.bench-stacks-*.yaml
  if [ "$rc" -eq 0 ]; then say "bench:stacks: PASSED"; else say "bench:stacks: FAILED (logs in $work)"; fi
  cat "$result"
  exit "$rc"
}
trap teardown EXIT
trap "exit 130" INT TERM

devo_cluster_up "$cluster" "$work" "$registry_user" "$registry_password"
mapfile -t nodes < <(kind get nodes --name "$cluster")

# sample_memory FILE: one line per kind node container: epoch ms, name, docker stats' MemUsage.
sample_memory() {
  local t
  t=$(date +%s%3N)
  docker stats --no-stream --format '{{.Name}}\t{{.MemUsage}}' "${nodes[@]}" | sed "s/^/$t\t/" >>"$1"
}

# in_parallel ROUND_DIR VERB N: `pulumi VERB` of stacks 1..N at once; per stack a log and its exit
# status in ROUND_DIR (VERB-<stack>.log / .exit).
in_parallel() {
  local dir=$1 verb=$2 n=$3 i s pids=()
  for i in $(seq 1 "$n"); do
    s="bench-stacks-$i"
    (
      rc=0
      pulumi "$verb" --yes --skip-preview --stack "$s" >"$dir/$verb-$s.log" 2>&1 || rc=$?
      echo "$rc" >"$dir/$verb-$s.exit"
    ) &
    pids+=($!)
  done
  for i in "${pids[@]}"; do wait "$i" || true; done
}

round() { # N
  local n=$1 dir="$work/round-$1" i t0 sampler failed=0
  mkdir -p "$dir"
  for i in $(seq 1 "$n"); do
    devo_configure "bench-stacks-$i" "$work/kubeconfig" "$context" "$registry_user" "$registry_password"
  done
  for i in 1 2 3; do
    sample_memory "$dir/baseline.tsv"
    sleep 2
  done
  (while :; do
    sample_memory "$dir/memory.tsv" || true
    sleep 3
  done) &
  sampler=$!
  # The step runs in a subshell of its own: a failed step stops its sampler on the way out, the
  # script's teardown stops one left by an interrupted run.
  echo "$sampler" >"$work/sampler.pid"
  # shellcheck disable=SC2064 # the pid now: $sampler is local, gone when the trap runs
  trap "kill $sampler 2>/dev/null || true" EXIT
  t0=$(date +%s%3N)
  echo "$t0" >"$dir/start"
  say "bench:stacks: $n stack(s) up at once"
  in_parallel "$dir" up "$n"
  echo "$(($(date +%s%3N) - t0))" >"$dir/wall-ms"
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  rm -f "$work/sampler.pid"
  say "bench:stacks: $n stack(s): ups took $(($(cat "$dir/wall-ms") / 1000))s"
  for i in $(seq 1 "$n"); do
    [ "$(cat "$dir/up-bench-stacks-$i.exit")" -eq 0 ] || { tail -n 30 "$dir/up-bench-stacks-$i.log"; failed=1; }
  done
  # The next round starts from the idle cluster.
  in_parallel "$dir" destroy "$n"
  for i in $(seq 1 "$n"); do
    [ "$(cat "$dir/destroy-bench-stacks-$i.exit")" -eq 0 ] || { tail -n 20 "$dir/destroy-bench-stacks-$i.log"; failed=1; }
  done
  [ "$failed" -eq 0 ] || die "round of $n: an up or a destroy failed"
}

verdict() {
  node -r ts-node/register/transpile-only scripts/bench-stacks.ts \
    --work "$work" --counts "${counts[*]}" --out "$result"
}

for n in "${counts[@]}"; do
  e2e_step "$n devo stack(s) at once on one cluster: all green, then destroyed" round "$n"
done
e2e_step "verdict: every stack of every round green, time and peak memory per stack count" verdict
e2e_steps_verdict
