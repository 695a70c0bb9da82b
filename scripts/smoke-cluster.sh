#!/usr/bin/env bash
# npm run smoke:cluster: proves the kind node image (scripts/node-image.sh) end to end with STOCK kind:
# a 3-node cluster (1 control plane, 2 workers) comes up Ready with CoreDNS, kube-proxy and the CNI
# running; pods on both workers talk across nodes; DNS resolves; a NodePort answers on the host through
# an extraPortMapping; a locally built image loaded with `kind load docker-image` runs as a Pod
# (imagePullPolicy: Never) and as a Job; a PVC binds on the default StorageClass; `kind delete cluster`
# leaves nothing behind; and the host's global sysctls are what they were. Exits non-zero on the first
# failure; prints timings.
#
#   SMOKE_CLUSTER=inception-smoke   cluster name
#   SMOKE_HOST_PORT=30080           host port (127.0.0.1) mapped to the NodePort
#   SMOKE_KEEP=1                    keep the cluster (and its kubeconfig) after the run
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "$0")/env.sh"

CLUSTER="${SMOKE_CLUSTER:-inception-smoke}"
HOST_PORT="${SMOKE_HOST_PORT:-30080}"
NODE_PORT=30080
SMOKE_IMAGE="inception/smoke:1"
NODE_IMAGE="$("$INCEPTION_ROOT/scripts/node-image.sh" --print)"
WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/inception-smoke.XXXXXX")"
export KUBECONFIG="$WORKDIR/kubeconfig"
TIMINGS=()

# step NAME: starts a timed step; done_step records its time.
step() { _step="$1"; _t0=$(date +%s.%N); say "── $1"; }
done_step() {
  local dt
  dt=$(awk -v a="$_t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  TIMINGS+=("$(printf '%-60s %6ss' "$_step" "$dt")")
  say "   ok ($dt s)${1:+ — $1}"
}
fail() { say "FAILED: $_step: $*"; exit 1; }
k() { kubectl --request-timeout=30s "$@"; }

# poll TIMEOUT CMD...: runs CMD until it succeeds or TIMEOUT seconds pass.
poll() {
  local timeout="$1" end
  shift
  end=$(($(date +%s) + timeout))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 1
  done
}

# Global sysctls a node could change (kubelet, kube-proxy, systemd would, given the chance).
sysctl_snapshot() {
  local s
  for s in vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops \
    kernel.keys.root_maxkeys kernel.keys.root_maxbytes fs.file-max fs.nr_open \
    fs.inotify.max_user_watches fs.inotify.max_user_instances kernel.pid_max kernel.sysrq \
    kernel.core_pattern net.netfilter.nf_conntrack_max net.nf_conntrack_max vm.max_map_count; do
    printf '%s=%s\n' "$s" "$(cat "/proc/sys/${s//.//}" 2>/dev/null || echo n/a)"
  done
}


cleanup() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -f "$KUBECONFIG" ] && [ -z "${_deleted:-}" ]; then
    say "diagnostics (cluster $CLUSTER):"
    k get nodes -o wide 2>&1 | sed 's/^/  /' || true
    k get pods -A -o wide 2>&1 | sed 's/^/  /' || true
    k get events -A --sort-by=.lastTimestamp 2>&1 | tail -n 25 | sed 's/^/  /' || true
    kind export logs "$WORKDIR/logs" --name "$CLUSTER" >/dev/null 2>&1 && say "node logs: $WORKDIR/logs" || true
  fi
  if [ -z "${SMOKE_KEEP:-}" ] && [ -z "${_deleted:-}" ]; then
    kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true
  fi
  [ -n "${SMOKE_KEEP:-}" ] && say "kept cluster $CLUSTER; KUBECONFIG=$KUBECONFIG"
  exit "$rc"
}
trap cleanup EXIT

# ── prerequisites ──────────────────────────────────────────────────────────────────────────────
step "prerequisites"
for t in kind kubectl docker; do command -v "$t" >/dev/null || fail "$t not on PATH (run npm run toolchain)"; done
docker info >/dev/null 2>&1 || fail "docker does not answer"
"$INCEPTION_ROOT/scripts/node-image.sh" --check || fail "node image $NODE_IMAGE missing or stale: run scripts/node-image.sh"
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  say "   deleting a leftover cluster $CLUSTER"
  kind delete cluster --name "$CLUSTER" >/dev/null
fi
SYSCTL_BEFORE="$(sysctl_snapshot)"
KIND_NET_BEFORE="$(docker network ls -q --filter name='^kind$')"
done_step "$(kind version), $(command -v docker)"

step "build $SMOKE_IMAGE on inception/base:bookworm"
docker build -q -t "$SMOKE_IMAGE" "$INCEPTION_ROOT/toolchain/node/smoke" >"$WORKDIR/smoke-build.log" 2>&1 ||
  { cat "$WORKDIR/smoke-build.log"; fail "docker build"; }
done_step

# ── cluster ───────────────────────────────────────────────────────────────────────────────────
cat >"$WORKDIR/kind.yaml" <<EOF
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
  extraPortMappings:
  - containerPort: $NODE_PORT
    hostPort: $HOST_PORT
    listenAddress: 127.0.0.1
    protocol: TCP
- role: worker
- role: worker
EOF
step "kind create cluster (3 nodes, $NODE_IMAGE)"
kind create cluster --name "$CLUSTER" --image "$NODE_IMAGE" --config "$WORKDIR/kind.yaml" \
  --kubeconfig "$KUBECONFIG" >"$WORKDIR/create.log" 2>&1 || { cat "$WORKDIR/create.log"; fail "kind create cluster"; }
# What the cluster owns on the docker host, to check after `kind delete cluster` (other users' containers
# on this host are none of this test's business).
NODE_CONTAINERS="$(docker ps -aq --no-trunc --filter "label=io.x-k8s.kind.cluster=$CLUSTER")"
NODE_VOLUMES="$(for c in $NODE_CONTAINERS; do
  docker inspect -f '{{range .Mounts}}{{if eq .Type "volume"}}{{println .Name}}{{end}}{{end}}' "$c"; done | grep . || true)"
[ "$(echo "$NODE_CONTAINERS" | grep -c .)" -eq 3 ] || fail "expected 3 node containers"
done_step "$(echo "$NODE_VOLUMES" | grep -c .) node volumes"

step "all nodes Ready"
k wait --for=condition=Ready nodes --all --timeout=180s >/dev/null || fail "nodes not Ready"
n=$(k get nodes --no-headers | wc -l)
[ "$n" -eq 3 ] || fail "expected 3 nodes, got $n"
done_step "$(k get nodes --no-headers | awk '{print $1 "=" $2}' | tr '\n' ' ')"

step "kube-system: CoreDNS, kube-proxy, CNI running"
k -n kube-system rollout status deployment/coredns --timeout=180s >/dev/null || fail "coredns not available"
k -n kube-system rollout status daemonset/kube-proxy --timeout=120s >/dev/null || fail "kube-proxy not rolled out"
k -n kube-system rollout status daemonset/kindnet --timeout=120s >/dev/null || fail "CNI (kindnet) not rolled out"
# shellcheck disable=SC2016 # awk's $3, expanded by neither shell
poll 60 bash -c '! kubectl -n kube-system get pods --no-headers | awk "\$3 != \"Running\"" | grep -q .' ||
  fail "kube-system pods not all Running: $(k -n kube-system get pods --no-headers | awk '$3 != "Running"')"
done_step "$(k -n kube-system get pods --no-headers | wc -l) pods Running"

step "kind load docker-image $SMOKE_IMAGE"
kind load docker-image "$SMOKE_IMAGE" --name "$CLUSTER" >"$WORKDIR/load.log" 2>&1 || { cat "$WORKDIR/load.log"; fail "kind load"; }
done_step

# ── workloads ─────────────────────────────────────────────────────────────────────────────────
step "a web pod on each worker"
for w in worker worker2; do
  cat <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: web-$w
  labels: { app: smoke-web }
spec:
  nodeSelector: { kubernetes.io/hostname: $CLUSTER-$w }
  containers:
  - name: web
    image: $SMOKE_IMAGE
    imagePullPolicy: Never
    command: ["sh", "-c", "mkdir -p /www && echo web-$w >/www/index.html && exec busybox httpd -f -p 8080 -h /www"]
    ports: [{ containerPort: 8080 }]
    readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 }
---
EOF
done >"$WORKDIR/web.yaml"
cat >>"$WORKDIR/web.yaml" <<EOF
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector: { app: smoke-web }
  ports: [{ port: 8080, targetPort: 8080, nodePort: $NODE_PORT }]
EOF
k apply -f "$WORKDIR/web.yaml" >/dev/null
k wait --for=condition=Ready pod/web-worker pod/web-worker2 --timeout=120s >/dev/null || fail "web pods not Ready"
ip1=$(k get pod web-worker -o jsonpath='{.status.podIP}')
ip2=$(k get pod web-worker2 -o jsonpath='{.status.podIP}')
done_step "web-worker $ip1, web-worker2 $ip2"

step "pod-to-pod traffic across nodes"
got=$(k exec web-worker -- timeout 10 busybox wget -q -O - "http://$ip2:8080/") || fail "web-worker → $ip2 failed"
[ "$got" = web-worker2 ] || fail "web-worker → $ip2 answered '$got'"
got=$(k exec web-worker2 -- timeout 10 busybox wget -q -O - "http://$ip1:8080/") || fail "web-worker2 → $ip1 failed"
[ "$got" = web-worker ] || fail "web-worker2 → $ip1 answered '$got'"
done_step "both directions"

step "DNS: kubernetes.default.svc.cluster.local"
svc_ip=$(k get svc kubernetes -o jsonpath='{.spec.clusterIP}')
dns=$(k exec web-worker -- getent hosts kubernetes.default.svc.cluster.local | awk '{print $1}') || fail "lookup failed"
[ "$dns" = "$svc_ip" ] || fail "resolved to '$dns', expected $svc_ip"
got=$(k exec web-worker2 -- timeout 10 busybox wget -q -O - "http://web.default.svc.cluster.local:8080/") ||
  fail "service name did not answer"
done_step "kubernetes.default → $dns; web.default answered $got"

step "NodePort from the host (127.0.0.1:$HOST_PORT → $NODE_PORT)"
poll 60 curl -fsS -m 3 "http://127.0.0.1:$HOST_PORT/" || fail "no answer on 127.0.0.1:$HOST_PORT"
got=$(curl -fsS -m 3 "http://127.0.0.1:$HOST_PORT/")
case "$got" in web-worker | web-worker2) ;; *) fail "answered '$got'" ;; esac
done_step "answered $got"

step "Pod (imagePullPolicy: Never) runs to Succeeded"
cat <<EOF | k apply -f - >/dev/null
apiVersion: v1
kind: Pod
metadata: { name: once }
spec:
  restartPolicy: Never
  containers:
  - name: once
    image: $SMOKE_IMAGE
    imagePullPolicy: Never
    command: ["sh", "-c", "echo hello from \$(hostname)"]
EOF
k wait --for=jsonpath='{.status.phase}'=Succeeded pod/once --timeout=90s >/dev/null ||
  fail "pod/once: $(k get pod once -o jsonpath='{.status.phase} {.status.containerStatuses[0].state}')"
done_step "$(k logs once)"

step "Job runs to Complete"
cat <<EOF | k apply -f - >/dev/null
apiVersion: batch/v1
kind: Job
metadata: { name: job }
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: job
        image: $SMOKE_IMAGE
        imagePullPolicy: Never
        command: ["sh", "-c", "getent hosts kubernetes.default.svc.cluster.local && echo job done"]
EOF
k wait --for=condition=Complete job/job --timeout=90s >/dev/null || fail "job did not complete"
done_step "$(k logs job/job | tail -n 1)"

step "PVC on the default StorageClass (local-path-provisioner)"
cat <<EOF | k apply -f - >/dev/null
apiVersion: v1
kind: PersistentVolumeClaim
metadata: { name: data }
spec:
  accessModes: [ReadWriteOnce]
  resources: { requests: { storage: 16Mi } }
---
apiVersion: v1
kind: Pod
metadata: { name: writer }
spec:
  restartPolicy: Never
  containers:
  - name: writer
    image: $SMOKE_IMAGE
    imagePullPolicy: Never
    command: ["sh", "-c", "echo persisted >/data/f && cat /data/f"]
    volumeMounts: [{ name: data, mountPath: /data }]
  volumes: [{ name: data, persistentVolumeClaim: { claimName: data } }]
EOF
k wait --for=jsonpath='{.status.phase}'=Succeeded pod/writer --timeout=120s >/dev/null ||
  fail "pod/writer: $(k get pod writer -o jsonpath='{.status.phase}'), pvc: $(k get pvc data -o jsonpath='{.status.phase}')"
done_step "$(k get pvc data -o jsonpath='{.spec.storageClassName} {.status.phase}'), pod wrote '$(k logs writer)'"

# ── teardown ──────────────────────────────────────────────────────────────────────────────────
step "kind delete cluster"
kind delete cluster --name "$CLUSTER" >"$WORKDIR/delete.log" 2>&1 || { cat "$WORKDIR/delete.log"; fail "kind delete"; }
_deleted=1
done_step

step "nothing left behind; host sysctls unchanged"
left=""
for c in $(docker ps -aq --no-trunc --filter "label=io.x-k8s.kind.cluster=$CLUSTER") $NODE_CONTAINERS; do
  docker inspect "$c" >/dev/null 2>&1 && left="$left container ${c:0:12}"
done
for v in $NODE_VOLUMES; do
  docker volume inspect "$v" >/dev/null 2>&1 && left="$left volume $v"
done
# kind keeps its shared "kind" network for every cluster on purpose; remove it when this run made it.
if [ -z "$KIND_NET_BEFORE" ] && [ -n "$(docker network ls -q --filter name='^kind$')" ]; then
  users="$(docker network inspect -f '{{range .Containers}}{{.Name}} {{end}}' kind)"
  if [ -n "$users" ]; then
    say "   kept kind's shared 'kind' network: other containers use it ($users)"
  else
    docker network rm kind >/dev/null && say "   removed kind's shared 'kind' network (this run created it; kind keeps it by design)"
  fi
fi
[ -z "$left" ] || fail "left behind:$left"
SYSCTL_AFTER="$(sysctl_snapshot)"
[ "$SYSCTL_BEFORE" = "$SYSCTL_AFTER" ] ||
  fail "host sysctls changed: $(diff <(echo "$SYSCTL_BEFORE") <(echo "$SYSCTL_AFTER") | grep '^[<>]' | tr '\n' ' ')"
done_step "no node containers or volumes left; $(echo "$SYSCTL_AFTER" | wc -l) global sysctls as before"

say "smoke:cluster passed"
printf '  %s\n' "${TIMINGS[@]}"
