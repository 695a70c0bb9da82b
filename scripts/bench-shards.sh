#!/usr/bin/env bash
# npm run bench:shards: Step 14's sharding measurement on a throw-away local stack (bench-shards,
# kind cluster inception-bench-shards, host ports 19092/17070: it never touches the `local` stack
# nor its ports). The shard suite (tests/fixtures/shard-suite: 8 files of 5 tests that each wait
# 5 s) runs with suite.shards 1, then 4, then 4 with SHARD_SUITE_FAIL=part-3 (suite.env: the Job's
# pods get it). scripts/bench-shards.ts then checks the run folders: wall time ratio ≤ 0.4, 40
# JUnit cases, the red run fails naming its shard. Each part is a step (scripts/lib.sh e2e_step).
# Always tears the stack and its cluster down; the output ends with one JSON line. Needs the
# toolchain. About 10 min here.
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
cd "$INCEPTION_ROOT"
scripts/toolchain.sh --check || die "the toolchain cache $INCEPTION_TOOLCHAIN is incomplete: run 'npm run toolchain'"

stack="bench-shards"
cluster="inception-bench-shards"
work="$INCEPTION_ROOT/.inception/bench-shards"
rm -rf "$work" && mkdir -p "$work"
result="$work/result.json"
# Replaced by the acceptance step: a run stopped before it still ends with a JSON line.
echo '{"pass":false,"problems":["the bench stopped before its acceptance step (see the log above)"]}' >"$result"

select_stack "$stack" local
pulumi config set --stack "$stack" inception:stage local
local_stack_defaults "$stack" "$cluster" 19092 17070
pulumi config set --stack "$stack" --path inception:suite.dir tests/fixtures/shard-suite

trap 'e2e_local_teardown bench:shards "$stack" "$cluster" "$work" "$result"' EXIT
trap "exit 130" INT TERM

# The run folder an `up` printed (its last "inception: artifacts: <dir>" line).
run_dir_of() { sed -n 's/.*inception: artifacts: \(\/[^ ]*\).*/\1/p' "$1" | tail -n 1; }

# suite_up LABEL SHARDS [FAILING_PART]: one `up`; its log, exit status and run folder in $work.
suite_up() {
  local label=$1 log="$work/up-$1.log" rc=0
  pulumi config set --stack "$stack" --path inception:suite.shards "$2"
  if [ -n "${3:-}" ]; then
    pulumi config set --stack "$stack" --path inception:suite.env.SHARD_SUITE_FAIL "$3"
  else
    pulumi config rm --stack "$stack" --path inception:suite.env.SHARD_SUITE_FAIL >/dev/null 2>&1 || true
  fi
  scripts/up.sh "$stack" 2>&1 | tee "$log" || rc=$?
  echo "$rc" >"$work/up-$label.exit"
  run_dir_of "$log" >"$work/run-$label"
  say "bench:shards: up $label exited $rc; run folder $(cat "$work/run-$label")"
}

green() { # LABEL SHARDS
  suite_up "$1" "$2"
  [ "$(cat "$work/up-$1.exit")" -eq 0 ] || die "the up with shards $2 failed"
}

red() {
  suite_up red 4 part-3
  [ "$(cat "$work/up-red.exit")" -ne 0 ] || die "the up passed although part-3 failed"
  [ -s "$work/run-red" ] || die "the red up printed no run folder"
}

acceptance() {
  local f
  for f in shards-1 shards-4 red; do [ -f "$work/run-$f" ] || : >"$work/run-$f"; done
  node -r ts-node/register/transpile-only scripts/bench-shards.ts \
    --one "$(cat "$work/run-shards-1")" --four "$(cat "$work/run-shards-4")" --red "$(cat "$work/run-red")" \
    --red-log "$work/up-red.log" --red-exit "$(cat "$work/up-red.exit" 2>/dev/null || true)" --out "$result"
}

e2e_step "up with shards 1: the shard suite green" green shards-1 1
# The later ups stand on the first (cluster, mock infra); without it only the verdict is left.
if [ "${#e2e_failed_steps[@]}" -eq 0 ]; then
  e2e_step "up with shards 4: the shard suite green" green shards-4 4
  e2e_step "up with shards 4 and part-3 failing: red" red
fi
e2e_step "acceptance: wall ratio ≤ 0.4, 40 JUnit cases, the red run names its shard" acceptance
e2e_steps_verdict
