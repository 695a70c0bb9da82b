#!/usr/bin/env bash
# npm test: every tier that can run on this machine, each announced; a tier that cannot run says
# so in one loud line. Ends with one summary line "tests: N passed, N failed".
#   unit       mocha + pulumi mocks, and the toolchain's own Go tools (go test)
#   component  the harness against a real Kafka broker on this host (Maven Central jars, Java)
#   e2e        the real stack — only when the toolchain cache is complete: scripts/e2e.sh --full
#              (local), scripts/e2e-example.sh (the fetcher example), scripts/e2e-devo.sh (devo),
#              scripts/e2e-faults.sh (Step 11's faults)
set -uo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
cd "$INCEPTION_ROOT" || exit

passed=0 failed=0 status=0
# What failed, and for an e2e step its last words (its "e2e step why:" lines, scripts/lib.sh).
failed_names=()
declare -A failed_why=()
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# count FILE PASS_RE FAIL_RE: adds the tier's counts to the totals.
count_mocha() {
  local p f
  p=$(grep -oE '^ *[0-9]+ passing' "$1" | grep -oE '[0-9]+' | tail -n 1)
  f=$(grep -oE '^ *[0-9]+ failing' "$1" | grep -oE '[0-9]+' | tail -n 1)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
}

say "tier unit: mocha (tests/unit)"
npx mocha --config tests/.mocharc.unit.json 2>&1 | tee "$out/unit.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || { status=1; failed_names+=("tier unit (mocha)"); }
count_mocha "$out/unit.log"
grep -qE '[0-9]+ passing' "$out/unit.log" || { echo "unit tier ran no test" >&2; status=1; failed=$((failed + 1)); }

# The report's browser check needs Debian's chromium: installed here when missing (as root), or
# its test fails naming the command.
scripts/chromium.sh || echo "!!!!! chromium could not be installed: the report's browser test will fail !!!!!"

say "tier component: mocha (tests/component) against a real Kafka broker started on this host"
npx mocha --config tests/.mocharc.component.json 2>&1 | tee "$out/component.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || { status=1; failed_names+=("tier component (mocha)"); }
count_mocha "$out/component.log"
grep -qE '[0-9]+ passing' "$out/component.log" || { echo "component tier ran no test" >&2; status=1; failed=$((failed + 1)); }

if [ -f toolchain/go/go.mod ]; then
  say "tier unit: go test (toolchain/go)"
  (cd toolchain/go && go test -v -count=1 ./... 2>&1) | tee "$out/go.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || { status=1; failed_names+=("tier unit (go test)"); }
  passed=$((passed + $(grep -cE '^\s*--- PASS' "$out/go.log")))
  failed=$((failed + $(grep -cE '^\s*--- FAIL' "$out/go.log")))
fi

if [ -x scripts/e2e.sh ]; then
  # A new session or CI starts with no Docker engine: start it (never builds anything).
  scripts/toolchain.sh --start-services >/dev/null 2>&1 || true
  if scripts/toolchain.sh --check; then
    # One after another: each local tier's kind cluster maps the same host ports.
    # Each e2e step counts as one test; a script that failed outside its steps (set-up, teardown)
    # counts as one failure of its own. Every failure is named in the summary.
    for e2e in "e2e.sh --full" e2e-example.sh e2e-devo.sh e2e-faults.sh; do
      say "tier e2e: scripts/$e2e"
      # shellcheck disable=SC2086 # "e2e.sh --full" is a script and its argument
      scripts/$e2e 2>&1 | tee "$out/e2e.log"
      rc=${PIPESTATUS[0]}
      p=$(grep -c '\] e2e step PASSED: ' "$out/e2e.log")
      f=$(grep -c '\] e2e step FAILED: ' "$out/e2e.log")
      passed=$((passed + p)); failed=$((failed + f))
      while IFS= read -r name; do
        failed_names+=("scripts/$e2e: $name")
        failed_why["scripts/$e2e: $name"]=$(e2e_step_why "$name" "$out/e2e.log")
      done < <(sed -n 's/.*\] e2e step FAILED: \(.*\) ([0-9]*s)$/\1/p' "$out/e2e.log")
      if [ "$rc" -ne 0 ]; then
        status=1
        if [ "$f" -eq 0 ]; then failed=$((failed + 1)); failed_names+=("scripts/$e2e (outside its steps: see its log)"); fi
      elif [ "$p" -eq 0 ]; then
        passed=$((passed + 1))
      fi
    done
  else
    echo "!!!!! E2E TIER NOT RUN: the toolchain cache $INCEPTION_TOOLCHAIN is incomplete (run 'npm run toolchain' first; a cold build takes over an hour, so tests never start one) !!!!!"
  fi
else
  echo "!!!!! E2E TIER NOT RUN: scripts/e2e.sh does not exist yet !!!!!"
fi

for name in "${failed_names[@]}"; do
  echo "FAILED: $name"
  [ -z "${failed_why[$name]:-}" ] || printf '%s\n' "${failed_why[$name]}"
done
echo "tests: $passed passed, $failed failed"
exit "$status"
