# shellcheck shell=bash
# The devo stage played on this machine, shared by scripts/e2e-devo.sh and scripts/bench-stacks.sh:
# a kind cluster created outside any stack plays the shared CI cluster, scripts/registry.sh's
# registry (with a password) plays the CI registry, and each stack is configured as a CI pipeline
# would configure its own. Sourced after scripts/env.sh, never run. Run from $INCEPTION_ROOT.

# devo_cluster_up CLUSTER WORK USER PASSWORD: starts the registry (localhost:5001) with
# USER:PASSWORD, then (re)creates the kind cluster CLUSTER (a control plane and one bai-worker)
# whose nodes pull localhost:5001/… from it with those credentials, the way CI nodes pull from a
# private registry (no pull secret in the stacks). Writes WORK/kubeconfig; logs in WORK. The kind
# config holds the registry password: it lives in a temporary file only until kind has read it.
devo_cluster_up() {
  local cluster=$1 work=$2 user=$3 password=$4 t0 config rc=0
  say "devo: the registry (localhost:5001, with a password)"
  INCEPTION_REGISTRY_AUTH="$user:$password" scripts/registry.sh start >"$work/registry.log" 2>&1 ||
    { cat "$work/registry.log"; die "the registry did not start"; }

  say "devo: the shared cluster $cluster, created outside any stack"
  kind delete cluster --name "$cluster" >/dev/null 2>&1 || true
  config=$(mktemp)
  cat >"$config" <<EOF
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
  - role: worker
    labels: { node.type: bai-worker }
containerdConfigPatches:
  - |-
$(scripts/registry.sh --print-containerd-patch | sed 's/^/    /')
    [plugins."io.containerd.grpc.v1.cri".registry.configs."inception-registry:5000".auth]
      username = "$user"
      password = "$password"
EOF
  t0=$(date +%s)
  kind create cluster --name "$cluster" --config "$config" --image "$(scripts/node-image.sh --print)" \
    --kubeconfig "$work/kubeconfig" --wait 180s >"$work/kind.log" 2>&1 || rc=$?
  rm -f "$config"
  [ "$rc" -eq 0 ] || { tail -n 20 "$work/kind.log"; die "kind create cluster failed"; }
  say "devo: cluster up in $(($(date +%s) - t0))s"
}

# devo_cluster_down CLUSTER: deletes the kind cluster and the registry (output on stdout, for the
# caller's teardown log; never fails: it runs in teardowns).
devo_cluster_down() {
  kind delete cluster --name "$1" 2>&1 || true
  scripts/registry.sh stop 2>&1 || true
}

# devo_configure STACK KUBECONFIG CONTEXT USER PASSWORD: selects STACK and gives it a devo stage's
# settings from scratch (settings an earlier run left are removed): the cluster's kubeconfig and
# context, the registry and its login (the password as a secret).
devo_configure() {
  local s=$1 key
  select_stack "$s"
  for key in inception:suite inception:services inception:mockInfra inception:images inception:cluster \
    inception:s3SecretKey inception:adoptNamespace; do
    pulumi config rm --stack "$s" "$key" >/dev/null 2>&1 || true
  done
  pulumi config set --stack "$s" inception:stage devo
  pulumi config set --stack "$s" --path inception:cluster.kubeconfig "$2"
  pulumi config set --stack "$s" --path inception:cluster.context "$3"
  pulumi config set --stack "$s" --path inception:images.registry localhost:5001
  pulumi config set --stack "$s" --path inception:images.username "$4"
  pulumi config set --stack "$s" --path --secret inception:images.password "$5"
}
