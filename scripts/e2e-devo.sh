#!/usr/bin/env bash
# npm run e2e:devo: the devo stage verified on this machine. A kind cluster created here, outside
# any stack, plays the shared CI cluster; scripts/registry.sh's registry (with a password) plays
# the CI registry, and the cluster's nodes pull from it. Then, each check an e2e step (a failed
# step is named and the independent ones after it still run):
#   1. wrong context, unreachable API server, a registry refusing the login: each fails with its
#      own message, and the wrong-password stack converges once the password is right;
#   2. a namespace someone else made first (a ConfigMap in it): `up` refuses it, naming it and the
#      owner label it found (none; then another stack's, with adoptNamespace), and neither that up
#      nor a destroy of the refused stack changes the namespace, its labels or its ConfigMap;
#   3. two devo stacks `up` at the same time on that cluster, both declaring a CRD
#      (mockInfra.crds) and labels on the worker node (cluster.nodeLabels): both suites green,
#      outputs and artifacts as on local, no object declared by both but those cluster-scoped ones;
#   4. a fresh clone of the checkout, with the same durable backend, sees each stack's last run;
#   5. Pod Security: the API server refuses a privileged pod in each stack's namespace, and every
#      pod of the green runs (mocks, service, suite, the executor's Jobs) runs as non-root with ALL
#      capabilities dropped;
#   6. canaries: stack a's S3 secret key, registry password and the secretEnv of its service and
#      suite are unique strings; after its green run and one red run, none is in its run folders,
#      the up logs, `pulumi stack export`, .inception/ or the state backend;
#   7. destroying one stack leaves the other running, its namespace, the CRD and the node labels
#      intact; destroying both leaves the cluster (the CRD and node labels are kept, as on devo).
# Steps 4 to 7 stand on the ups of 3: without them the script stops there.
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
# The stack whose namespace someone else made first (step 2): refused, never deployed.
foreign=devo-e2e-c
work="$INCEPTION_ROOT/.inception/e2e-devo"
rm -rf "$work" && mkdir -p "$work"
# Secrets of these throw-away stacks and of the registry: fresh per run.
export PULUMI_CONFIG_PASSPHRASE="inception-e2e-devo"
# Stage devo refuses state inside the checkout (it would not outlive a CI clone): a lasting path.
export PULUMI_BACKEND_URL="file://$INCEPTION_CACHE/e2e-devo-state"
mkdir -p "$INCEPTION_CACHE/e2e-devo-state"
registry_user="inception"
registry_password="$(head -c 18 /dev/urandom | base64 | tr -dc 'a-zA-Z0-9')"
# Stack a's other secrets are canaries too (step 6): unique per run, so any hit is a leak of this one.
canary() { printf 'canary%s' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"; }
canary_s3=$(canary)
canary_service=$(canary)
canary_suite=$(canary)

# The cluster-scoped objects both stacks declare (step 3): the MPIJob CRD, and on the worker node
# one label both set and one each. On devo, destroy keeps them (docs/devo.md).
crd_file=mock-infra/crds/mpijob.yaml
crd_name=mpijobs.kubeflow.org
node="$cluster-worker"
label_prefix=e2e.inception.dev

teardown() {
  local rc=$?
  say "e2e:devo: tearing down"
  for s in "${stacks[@]}" "$foreign"; do
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
# Both stacks declare the CRD and label the worker node: one label both set, one each.
configure_cluster_scoped() { # STACK
  pulumi config set --stack "$1" --path 'inception:mockInfra.crds[0]' "$crd_file"
  pulumi config set --stack "$1" --path "inception:cluster.nodeLabels[\"$node\"][\"$label_prefix/shared\"]" kept
  pulumi config set --stack "$1" --path "inception:cluster.nodeLabels[\"$node\"][\"$label_prefix/$1\"]" kept
}
# The canaries as STACK's secrets, through stdin (not on a command line).
configure_canaries() { # STACK
  printf '%s' "$canary_s3" | pulumi config set --stack "$1" --secret inception:s3SecretKey
  pulumi config set --stack "$1" --path 'inception:services[0].name' executor
  printf '%s' "$canary_service" |
    pulumi config set --stack "$1" --path --secret 'inception:services[0].secretEnv.E2E_CANARY'
  printf '%s' "$canary_suite" | pulumi config set --stack "$1" --path --secret 'inception:suite.secretEnv.E2E_CANARY'
}
up() { # STACK LOG
  pulumi up --yes --skip-preview --stack "$1" >"$2" 2>&1
}
kube() { kubectl --kubeconfig "$work/kubeconfig" "$@"; }
namespaces() { kube get namespaces -o name | sort; }
namespaces >"$work/namespaces-before"

# What the tests read of the cluster and of what the stacks declare.
export INCEPTION_E2E_KUBECONFIG="$work/kubeconfig"
export INCEPTION_E2E_DEVO_STATES="$work/state-devo-e2e-a.json,$work/state-devo-e2e-b.json"
export INCEPTION_E2E_DEVO_CRDS="$crd_name"
node_labels="{\"$node\":{\"$label_prefix/shared\":\"kept\""
for s in "${stacks[@]}"; do node_labels+=",\"$label_prefix/$s\":\"kept\""; done
export INCEPTION_E2E_DEVO_NODE_LABELS="$node_labels}}"

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

# The namespace of step 2 as the API server has it: uid and resourceVersion change with any write
# (a label, an annotation, a takeover), then its ConfigMap the same way, then every object in it.
foreign_snapshot() { # NAMESPACE
  kube get namespace "$1" -o jsonpath='{.metadata.uid} {.metadata.resourceVersion} {.metadata.labels}{"\n"}'
  kube -n "$1" get configmap their-data -o jsonpath='{.metadata.uid} {.metadata.resourceVersion} {.data}{"\n"}'
  kube -n "$1" get configmaps,secrets,serviceaccounts,services,deployments,statefulsets,jobs,pods,roles,rolebindings,persistentvolumeclaims \
    -o name | sort
}
untouched() { # NAMESPACE BEFORE WHAT
  local after
  after=$(foreign_snapshot "$1")
  [ "$after" = "$2" ] || die "$3 changed the namespace $1 or what is in it; before: $2; after: $after"
}

# Someone else's namespace, made before the stack: up must refuse it and touch nothing of it,
# first without any owner label, then labelled by another stack and with adoptNamespace: true.
foreign_namespace_refused() {
  local ns="inception-$foreign" before
  # The namespace is this script's: gone after the step, so the cluster ends as it began.
  trap 'kube delete namespace "inception-$foreign" --ignore-not-found >/dev/null 2>&1 || true' EXIT
  kube create namespace "$ns" >/dev/null
  kube label namespace "$ns" team=someone-else >/dev/null
  kube -n "$ns" create configmap their-data --from-literal=owner=someone-else >/dev/null
  # What the cluster itself adds to a new namespace is there before the first snapshot.
  kube -n "$ns" wait --for=create serviceaccount/default configmap/kube-root-ca.crt --timeout=60s >/dev/null
  configure "$foreign" "$work/kubeconfig" "$registry_password"

  before=$(foreign_snapshot "$ns")
  if up "$foreign" "$work/up-foreign.log"; then die "up took over the namespace $ns that someone else made"; fi
  grep -qF "inception:namespace is \"$ns\", which exists without this stack's owner label (inception.dev/stack: none found, want inception.$foreign)" \
    "$work/up-foreign.log" || { tail -n 20 "$work/up-foreign.log"; die "the refusal does not name the namespace and the owner label it found"; }
  untouched "$ns" "$before" "the refused up"
  pulumi destroy --yes --skip-preview --stack "$foreign" >"$work/destroy-foreign.log" 2>&1 ||
    { tail -n 20 "$work/destroy-foreign.log"; die "destroy of the refused stack failed"; }
  untouched "$ns" "$before" "destroying the refused stack"

  kube label namespace "$ns" inception.dev/stack=inception.someone-else >/dev/null
  pulumi config set --stack "$foreign" inception:adoptNamespace true
  before=$(foreign_snapshot "$ns")
  if up "$foreign" "$work/up-foreign-owned.log"; then die "up with adoptNamespace took over $ns of another stack"; fi
  grep -qF "inception:namespace is \"$ns\", which exists and belongs to another stack (inception.dev/stack=inception.someone-else; this stack is inception.$foreign)" \
    "$work/up-foreign-owned.log" || { tail -n 20 "$work/up-foreign-owned.log"; die "the refusal does not name the other stack's owner label"; }
  untouched "$ns" "$before" "the refused up with adoptNamespace"
  say "e2e:devo: $ns refused twice (no owner label; another stack's, with adoptNamespace), left as it was"
}

two_stacks_up() {
  local t0 pid_a pid_b rc_a=0 rc_b=0 s
  for s in "${stacks[@]}"; do
    configure "$s" "$work/kubeconfig" "$registry_password"
    configure_cluster_scoped "$s"
  done
  configure_canaries devo-e2e-a
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
  done
}

two_stacks_checked() {
  local s
  for s in "${stacks[@]}"; do
    INCEPTION_E2E_STACK="$s" INCEPTION_E2E_OUTPUTS="$work/outputs-$s.json" \
      npx mocha --config tests/.mocharc.e2e.json tests/e2e/run.test.ts
  done
  INCEPTION_E2E_DEVO_PHASE=both npx mocha --config tests/.mocharc.e2e.json tests/e2e/devo.test.ts
}

# CI's next run starts from a fresh clone: with the same backend and passphrase it must find what
# the last run left (state inside the checkout would be gone with it). No npm ci: outputs only.
fresh_clone_sees_state() {
  local s seen
  # Not local: the EXIT trap (this step's subshell ending) reads it after the function returned.
  clone=$(mktemp -d)
  trap 'rm -rf "$clone"' EXIT
  git clone -q "$INCEPTION_ROOT" "$clone/checkout"
  git -C "$clone/checkout" checkout -q "$(git rev-parse HEAD)"
  for s in "${stacks[@]}"; do
    pulumi stack output --stack "$s" --json >"$work/outputs-checkout-$s.json"
    (cd "$clone/checkout" && pulumi stack output --stack "$s" --json) >"$work/outputs-clone-$s.json" ||
      die "the fresh clone cannot read the outputs of $s"
    # shellcheck disable=SC2016 # JavaScript: its $ is not the shell's
    seen=$(node -e '
      const fs = require("fs");
      const [checkout, clone, stack] = process.argv.slice(1);
      const mine = fs.readFileSync(checkout, "utf8"), theirs = fs.readFileSync(clone, "utf8");
      const o = JSON.parse(theirs);
      if (!o.runId || !o.tests) { console.error(`${stack}: the fresh clone sees no run: ${theirs}`); process.exit(1); }
      if (mine !== theirs) { console.error(`${stack}: the fresh clone sees other outputs than the checkout:\n${theirs}\nvs\n${mine}`); process.exit(1); }
      console.log(`run ${o.runId}, ${o.tests.passed} passed, ${o.tests.failed} failed`);
    ' "$work/outputs-checkout-$s.json" "$work/outputs-clone-$s.json" "$s")
    say "e2e:devo: the fresh clone sees $s's last run: $seen"
  done
}

pod_security_enforced() {
  INCEPTION_E2E_NAMESPACES="inception-devo-e2e-a,inception-devo-e2e-b" \
    npx mocha --config tests/.mocharc.e2e.json tests/e2e/pod-security.test.ts
}

# Stack a ran green with canaries for secrets (configure_canaries); now one red run of it, then the
# search. The cheapest red run: the executor drops its executor event and the suite runs only the
# test that waits for it, which gives up after 10 s (suite.testTimeoutMs bounds every wait) instead of 60 s.
canaries_never_leak() {
  local s=devo-e2e-a
  pulumi config set --stack "$s" --path 'inception:services[0].env.EXECUTOR_FAULT' drop-executor-event
  pulumi config set --stack "$s" --path inception:suite.grep "run a job creates the Job"
  pulumi config set --stack "$s" --path inception:suite.testTimeoutMs 10000
  if up "$s" "$work/up-a-red.log"; then die "the red run of $s passed"; fi
  grep -qE "inception: run [^ ]+ FAILED: [0-9]+ test\(s\) failed" "$work/up-a-red.log" ||
    { tail -n 30 "$work/up-a-red.log"; die "the red run of $s did not fail on its test"; }
  pulumi stack output --stack "$s" --json >"$work/outputs-$s-red.json"
  pulumi stack export --stack "$s" --file "$work/state-$s-red.json"
  INCEPTION_E2E_CANARIES="{\"s3SecretKey\":\"$canary_s3\",\"images.password\":\"$registry_password\",\"services[0].secretEnv.E2E_CANARY\":\"$canary_service\",\"suite.secretEnv.E2E_CANARY\":\"$canary_suite\"}" \
    INCEPTION_E2E_CANARY_NAMESPACE="inception-$s" \
    INCEPTION_E2E_CANARY_OUTPUTS="$work/outputs-$s.json:$work/outputs-$s-red.json" \
    INCEPTION_E2E_CANARY_ROOTS="$INCEPTION_ROOT/.inception:${PULUMI_BACKEND_URL#file://}:$INCEPTION_ROOT/Pulumi.$s.yaml" \
    INCEPTION_E2E_CANARY_FILES="$work/up-a.log:$work/up-a-red.log:$work/state-$s.json:$work/state-$s-red.json" \
    npx mocha --config tests/.mocharc.e2e.json tests/e2e/canary.test.ts
}

# Each part stands on the one before (a destroyed, then b destroyed).
destroy_one_then_the_other() {
  say "e2e:devo: destroying devo-e2e-a leaves devo-e2e-b running, the CRD and the node labels"
  pulumi destroy --yes --skip-preview --stack devo-e2e-a >"$work/destroy-a.log" 2>&1 ||
    { tail -n 30 "$work/destroy-a.log"; die "destroy of devo-e2e-a failed"; }
  INCEPTION_E2E_DEVO_PHASE=a-destroyed npx mocha --config tests/.mocharc.e2e.json tests/e2e/devo.test.ts

  say "e2e:devo: destroying devo-e2e-b too leaves the cluster as it was (with the CRD and node labels)"
  pulumi destroy --yes --skip-preview --stack devo-e2e-b >"$work/destroy-b.log" 2>&1 ||
    { tail -n 30 "$work/destroy-b.log"; die "destroy of devo-e2e-b failed"; }
  INCEPTION_E2E_DEVO_PHASE=both-destroyed npx mocha --config tests/.mocharc.e2e.json tests/e2e/devo.test.ts
  [ "$(namespaces)" = "$(cat "$work/namespaces-before")" ] || die "destroy left namespaces behind"
}

e2e_step "a kubeconfig whose current context is another: refused before anything is declared" wrong_context_refused
e2e_step "an unreachable API server: named before anything is declared" unreachable_named
e2e_step "the registry refuses the push (wrong password): up fails saying so" refused_push_named
e2e_step "a namespace someone else made: up refused naming it and its owner label, nothing of it changed" foreign_namespace_refused
# The ups are what every later step stands on: without them, stop here (teardown destroys).
failed_before_up=${#e2e_failed_steps[@]}
e2e_step "two stacks up at once, with a CRD and node labels both declare" two_stacks_up
[ "${#e2e_failed_steps[@]}" -eq "$failed_before_up" ] || e2e_steps_verdict
e2e_step "both runs green as on local; each stack declares only its own objects and the kept CRD and node labels" two_stacks_checked
e2e_step "a fresh clone with the durable backend sees both stacks' last runs" fresh_clone_sees_state
e2e_step "Pod Security restricted: a privileged pod refused, every pod non-root with ALL capabilities dropped" pod_security_enforced
e2e_step "canaries (S3 key, registry password, secretEnv) in no file, log or state after a green and a red run" canaries_never_leak
e2e_step "destroy one: the other, the CRD and the node labels intact; destroy both: the cluster as it was" destroy_one_then_the_other
e2e_steps_verdict
