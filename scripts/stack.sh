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
