#!/usr/bin/env bash
# npm run e2e:devo: the devo stage verified on this machine. A kind cluster created here, outside
# any stack, plays the shared CI cluster; scripts/registry.sh's registry (with a password) plays
# the CI registry, and the cluster's nodes pull from it. Then:
#   1. wrong context, unreachable API server, a registry refusing the login: each fails with its
#      own message, and the wrong-password stack converges once the password is right;
#   2. two devo stacks `up` at the same time on that cluster: both suites green, outputs and
#      artifacts as on local, and no object declared by both;
#   3. destroying one leaves the other running; destroying both leaves the cluster.
# Always removes the cluster, the registry and the stacks, even on failure.
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"
# shellcheck source=lib-devo.sh
. "$INCEPTION_ROOT/scripts/lib-devo.sh"
cd "$INCEPTION_ROOT"
scripts/toolchain.sh --check || die "the toolchain cache $INCEPTION_TOOLCHAIN is incomplete: run 'npm run toolchain'"

cluster="inception-devo"
context="kind-$cluster"
stacks=(devo-e2e-a devo-e2e-b)
work="$INCEPTION_ROOT/.inception/e2e-devo"
rm -rf "$work" && mkdir -p "$work"
# Secrets of these throw-away stacks and of the registry: fresh per run.
export PULUMI_CONFIG_PASSPHRASE="inception-e2e-devo"
# Stage devo refuses state inside the checkout (it would not outlive a CI clone): a lasting path.
export PULUMI_BACKEND_URL="file://$INCEPTION_CACHE/e2e-devo-state"
mkdir -p "$INCEPTION_CACHE/e2e-devo-state"
registry_user="inception"
registry_password="$(head -c 18 /dev/urandom | base64 | tr -dc 'a-zA-Z0-9')"

teardown() {
  local rc=$?
  say "e2e:devo: tearing down"
  for s in "${stacks[@]}"; do
    if pulumi stack ls --json 2>/dev/null | grep -q "\"name\": \"$s\""; then
      pulumi destroy --yes --skip-preview --stack "$s" >>"$work/teardown.log" 2>&1 || rc=1
      pulumi stack rm --yes --force --stack "$s" >>"$work/teardown.log" 2>&1 || true
    fi
  done
  devo_cluster_down "$cluster" >>"$work/teardown.log"
  if [ "$rc" -eq 0 ]; then say "e2e:devo: PASSED"; else say "e2e:devo: FAILED (logs in $work)"; fi
  exit "$rc"
}
trap teardown EXIT
trap "exit 130" INT TERM

devo_cluster_up "$cluster" "$work" "$registry_user" "$registry_password"

configure() { # STACK KUBECONFIG PASSWORD
  devo_configure "$1" "$2" "$context" "$registry_user" "$3"
}
up() { # STACK LOG
  pulumi up --yes --skip-preview --stack "$1" >"$2" 2>&1
}
namespaces() { kubectl --kubeconfig "$work/kubeconfig" get namespaces -o name | sort; }
namespaces >"$work/namespaces-before"

wrong_context_refused() {
  cp "$work/kubeconfig" "$work/kubeconfig-other"
  kubectl --kubeconfig "$work/kubeconfig-other" config set-context laptop --cluster "$context" --user "$context" >/dev/null
  kubectl --kubeconfig "$work/kubeconfig-other" config use-context laptop >/dev/null
  configure devo-e2e-a "$work/kubeconfig-other" "$registry_password"
  if up devo-e2e-a "$work/up-wrong-context.log"; then die "up passed on the wrong context"; fi
  grep -q "refusing to deploy (run: kubectl config use-context $context)" "$work/up-wrong-context.log" ||
    { tail -n 20 "$work/up-wrong-context.log"; die "the wrong-context failure does not say so"; }
}

unreachable_named() {
  sed 's#server: https://.*#server: https://127.0.0.1:2#' "$work/kubeconfig" >"$work/kubeconfig-dead"
  configure devo-e2e-a "$work/kubeconfig-dead" "$registry_password"
  if up devo-e2e-a "$work/up-unreachable.log"; then die "up passed against an unreachable cluster"; fi
  grep -q "API server https://127.0.0.1:2 is unreachable" "$work/up-unreachable.log" ||
    { tail -n 20 "$work/up-unreachable.log"; die "the unreachable-cluster failure does not say so"; }
  [ "$(namespaces)" = "$(cat "$work/namespaces-before")" ] || die "a refused up left namespaces behind"
}

refused_push_named() {
  configure devo-e2e-a "$work/kubeconfig" "not-the-password"
  if up devo-e2e-a "$work/up-refused.log"; then die "up passed although the registry refused the login"; fi
  grep -q "the registry localhost:5001 refused the login of $registry_user: not authorized" "$work/up-refused.log" ||
    { tail -n 30 "$work/up-refused.log"; die "the refused push does not say so"; }
}

# One step: each part stands on the one before (both up, then a destroyed, then b destroyed).
two_stacks_isolated() {
  configure devo-e2e-a "$work/kubeconfig" "$registry_password"
  configure devo-e2e-b "$work/kubeconfig" "$registry_password"
  local t0 pid_a pid_b rc_a=0 rc_b=0 s
  t0=$(date +%s)
  up devo-e2e-a "$work/up-a.log" &
  pid_a=$!
  up devo-e2e-b "$work/up-b.log" &
  pid_b=$!
  wait "$pid_a" || rc_a=$?
  wait "$pid_b" || rc_b=$?
  say "e2e:devo: both ups took $(($(date +%s) - t0))s (a: exit $rc_a, b: exit $rc_b)"
  [ "$rc_a" -eq 0 ] || { tail -n 40 "$work/up-a.log"; die "up of devo-e2e-a failed"; }
  [ "$rc_b" -eq 0 ] || { tail -n 40 "$work/up-b.log"; die "up of devo-e2e-b failed"; }

  for s in "${stacks[@]}"; do
    pulumi stack output --stack "$s" --json >"$work/outputs-$s.json"
    pulumi stack export --stack "$s" --file "$work/state-$s.json"
    INCEPTION_E2E_STACK="$s" INCEPTION_E2E_OUTPUTS="$work/outputs-$s.json" \
      npx mocha --config tests/.mocharc.e2e.json tests/e2e/run.test.ts
  done
  export INCEPTION_E2E_KUBECONFIG="$work/kubeconfig"
  export INCEPTION_E2E_DEVO_STATES="$work/state-devo-e2e-a.json,$work/state-devo-e2e-b.json"
  INCEPTION_E2E_DEVO_PHASE=both npx mocha --config tests/.mocharc.e2e.json tests/e2e/devo.test.ts

  say "e2e:devo: destroying devo-e2e-a leaves devo-e2e-b running"
  pulumi destroy --yes --skip-preview --stack devo-e2e-a >"$work/destroy-a.log" 2>&1 ||
    { tail -n 30 "$work/destroy-a.log"; die "destroy of devo-e2e-a failed"; }
  INCEPTION_E2E_DEVO_PHASE=a-destroyed npx mocha --config tests/.mocharc.e2e.json tests/e2e/devo.test.ts

  say "e2e:devo: destroying devo-e2e-b too leaves the cluster as it was"
  pulumi destroy --yes --skip-preview --stack devo-e2e-b >"$work/destroy-b.log" 2>&1 ||
    { tail -n 30 "$work/destroy-b.log"; die "destroy of devo-e2e-b failed"; }
  INCEPTION_E2E_DEVO_PHASE=both-destroyed npx mocha --config tests/.mocharc.e2e.json tests/e2e/devo.test.ts
  [ "$(namespaces)" = "$(cat "$work/namespaces-before")" ] || die "destroy left namespaces behind"
}

e2e_step "a kubeconfig whose current context is another: refused before anything is declared" wrong_context_refused
e2e_step "an unreachable API server: named before anything is declared" unreachable_named
e2e_step "the registry refuses the push (wrong password): up fails saying so" refused_push_named
e2e_step "two stacks up at once, isolated; destroy one, then the other" two_stacks_isolated
e2e_steps_verdict
