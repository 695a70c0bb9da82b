# shellcheck shell=bash
# Sourced after env.sh: selects (creating if needed) a stack in the file backend, with the
# passphrase handled — local stacks use a fixed one, other stacks need PULUMI_CONFIG_PASSPHRASE.
select_stack() {
  local stack="$1"
  mkdir -p "${PULUMI_BACKEND_URL#file://}"
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    case "$stack" in
      local | local-*) export PULUMI_CONFIG_PASSPHRASE="$INCEPTION_LOCAL_PASSPHRASE" ;;
      *) die "stack $stack keeps secrets (kubeconfig, registry credentials): set PULUMI_CONFIG_PASSPHRASE" ;;
    esac
  fi
  pulumi stack select --create --stack "$stack" >/dev/null
}

# e2e_local_teardown NAME STACK CLUSTER WORK — the EXIT trap of the local e2e scripts: `down` of
# the throw-away stack, a failure if its kind cluster survived it, then "NAME: PASSED/FAILED" and
# exit with the run's verdict (the status the script was exiting with, or 1).
e2e_local_teardown() {
  local rc=$? name=$1 stack=$2 cluster=$3 work=$4
  say "$name: tearing down ($stack)"
  scripts/down.sh "$stack" >"$work/down.log" 2>&1 || { tail -n 30 "$work/down.log"; rc=1; }
  if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
    echo "$name FAILED: kind cluster $cluster still exists after down" >&2
    rc=1
  fi
  [ "$rc" -eq 0 ] && say "$name: PASSED" || say "$name: FAILED (logs in $work)"
  exit "$rc"
}

# e2e steps: each check of an e2e script runs as `e2e_step "NAME" FUNCTION`, in a subshell with
# errexit of its own, so that a failed step is recorded and the independent steps after it still
# run (one failure must not hide the rest). Every step ends with one line "e2e step PASSED: NAME"
# or "e2e step FAILED: NAME" (scripts/test.sh counts and names them); e2e_steps_verdict ends the
# script's checks with the list of failed steps.
e2e_failed_steps=()
e2e_step() {
  local name=$1 rc t0
  shift
  t0=$(date +%s)
  say "e2e step: $name"
  # Not in an `if`: errexit is ignored inside a condition, and the step relies on it.
  set +e
  (
    set -e
    "$@"
  )
  rc=$?
  set -e
  if [ "$rc" -eq 0 ]; then
    say "e2e step PASSED: $name ($(($(date +%s) - t0))s)"
  else
    e2e_failed_steps+=("$name")
    say "e2e step FAILED: $name ($(($(date +%s) - t0))s)"
  fi
  return 0
}

# e2e_steps_verdict: exit 1 naming every failed step, or return when all passed.
e2e_steps_verdict() {
  [ "${#e2e_failed_steps[@]}" -eq 0 ] && return 0
  local s
  for s in "${e2e_failed_steps[@]}"; do echo "[inception] failed e2e step: $s" >&2; done
  exit 1
}
