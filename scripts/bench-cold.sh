#!/usr/bin/env bash
# npm run bench:cold: Step 14's start-up times on a throw-away local stack (bench-cold, kind
# cluster inception-bench-cold, host ports 19092/17070: never the `local` stack nor its ports;
# not together with bench:shards, which maps the same ports). Two `up`s, each as a user runs it
# (scripts/up.sh, the default config: the BAI profile, the executor, the project's suite):
#   cold   the cluster absent, the toolchain built: everything from `kind create` to the verdict;
#   edit   then one line appended to a file of the executor's sources (restored on exit): the
#          image rebuilt and pushed, the Deployment rolled, the suite run again, to the verdict.
# Each up's wall time, its timeline (Pulumi's engine events) and its suite run's time go to $work;
# the output ends with one JSON line (limits: cold 120 s, edit 45 s, from Step 14). Tears the
# stack and its cluster down. Needs the toolchain. About 2 ½ min here.
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
cd "$INCEPTION_ROOT"
scripts/toolchain.sh --check || die "the toolchain cache $INCEPTION_TOOLCHAIN is incomplete: run 'npm run toolchain'"

stack="bench-cold"
cluster="inception-bench-cold"
work="$INCEPTION_ROOT/.inception/bench-cold"
edited="services/executor/src/main.ts"
rm -rf "$work" && mkdir -p "$work"
result="$work/result.json"
echo '{"pass":false,"problems":["the bench stopped before its verdict (see the log above)"]}' >"$result"
cp "$edited" "$work/edited.orig"

select_stack "$stack" local
pulumi config set --stack "$stack" inception:stage local
local_stack_defaults "$stack" "$cluster" 19092 17070

restore() { cp "$work/edited.orig" "$edited"; }
finish() {
  local rc=$?
  restore
  set +e
  (exit "$rc") # e2e_local_teardown reads the status the script was exiting with
  e2e_local_teardown bench:cold "$stack" "$cluster" "$work" "$result"
}
trap finish EXIT
trap "exit 130" INT TERM

# A cold start: neither the stack's objects nor its cluster (left by an interrupted run).
scripts/down.sh "$stack" >"$work/down-before.log" 2>&1 || true
if kind get clusters 2>/dev/null | grep -qx "$cluster"; then kind delete cluster --name "$cluster" >/dev/null; fi
# The toolchain's own check is part of every up; run it once first so that a rebuilt own tool
# (a changed toolchain/go source) is not counted as start-up time.
scripts/toolchain.sh >"$work/toolchain.log" 2>&1

# timed_up LABEL: one up; its wall time in ms to $work/LABEL.ms, exit status to $work/LABEL.exit,
# Pulumi's engine events to $work/LABEL.events.
timed_up() {
  local t0 rc=0
  t0=$(date +%s%3N)
  # --event-log is one of the flags Pulumi shows with PULUMI_DEBUG_COMMANDS only.
  PULUMI_DEBUG_COMMANDS=true scripts/up.sh "$stack" --event-log "$work/$1.events" >"$work/$1.log" 2>&1 || rc=$?
  echo $(($(date +%s%3N) - t0)) >"$work/$1.ms"
  echo "$rc" >"$work/$1.exit"
  say "bench:cold: $1 up: exit $rc in $(($(cat "$work/$1.ms") / 1000)) s; its steps of 2 s or more (from the program's start):"
  timeline "$work/$1.events" | tee "$work/$1.timeline" | sed 's/^/    /'
}

# timeline EVENTS: each resource step of 2 s or more, as "START-END s NAME" in seconds from the
# engine's first event (whole seconds: the events' resolution), in the order they started.
timeline() {
  jq -rs '(.[0].timestamp) as $t0
    | [.[] | select(.resourcePreEvent or .resOutputsEvent)
        | { urn: (.resourcePreEvent.metadata.urn // .resOutputsEvent.metadata.urn),
            pre: (.resourcePreEvent != null), t: (.timestamp - $t0) }]
    | group_by(.urn)
    | map({ name: (.[0].urn | split("::") | last),
            start: ([.[] | select(.pre) | .t] | min), end: ([.[] | select(.pre | not) | .t] | max) })
    | map(select(.start != null and .end != null and .end - .start >= 2))
    | sort_by(.start) | .[] | "\(.start)-\(.end) s \(.name)"' "$1" 2>/dev/null || echo "(no engine events in $1)"
}

# suite_ms: how long the last up's suite run took (its run folder, the newest: run.json's
# durationMs, from the hook's start to the verdict), -1 when there is none.
suite_ms() {
  local run
  # Run folders are named after their start time.
  run=$(find "$INCEPTION_ROOT/artifacts/$stack" -mindepth 1 -maxdepth 1 -type d -name '2*' | sort | tail -n 1)
  jq '.durationMs // -1' "$run/run.json" 2>/dev/null || echo -1
}

timed_up cold
[ "$(cat "$work/cold.exit")" -eq 0 ] || die "the cold up failed (see $work/cold.log)"
cold_suite=$(suite_ms)
printf '\n// bench:cold edit %s\n' "$(date +%s%N)" >>"$edited"
timed_up edit
restore
[ "$(cat "$work/edit.exit")" -eq 0 ] || die "the edited up failed (see $work/edit.log)"
grep -q "executor.*publish.*\(created\|updated\|replaced\)" "$work/edit.log" ||
  die "the edited up did not publish the executor's image again (see $work/edit.log)"
edit_suite=$(suite_ms)
say "bench:cold: the suite runs (hook start to verdict): cold $((cold_suite / 1000)) s, edit $((edit_suite / 1000)) s"

cold=$(cat "$work/cold.ms") edit=$(cat "$work/edit.ms")
problems=()
[ "$cold" -le 120000 ] || problems+=("\"cold up took $((cold / 1000)) s (limit 120 s)\"")
[ "$edit" -le 45000 ] || problems+=("\"edit to verdict took $((edit / 1000)) s (limit 45 s)\"")
pass=true
[ "${#problems[@]}" -eq 0 ] || pass=false
printf '{"coldUpMs":%d,"editToVerdictMs":%d,"suiteMs":{"cold":%d,"edit":%d},"limits":{"coldUpMs":120000,"editToVerdictMs":45000},"problems":[%s],"pass":%s,"machine":"%s cores, load %s","date":"%s"}\n' \
  "$cold" "$edit" "$cold_suite" "$edit_suite" "$(IFS=,; echo "${problems[*]}")" "$pass" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)" \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$result"
[ "$pass" = true ] || { say "bench:cold: over a limit: ${problems[*]}"; exit 1; }
