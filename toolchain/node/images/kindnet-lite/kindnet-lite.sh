#!/bin/bash
# kindnet-lite: the CNI daemon of inception's kind nodes, standing in for kind's kindnetd (whose Go
# module, sigs.k8s.io/kind/images/kindnetd, the Go module proxy does not serve here; docs/node-image.md).
# It does kindnetd's basic job for IPv4 clusters whose nodes share one docker network:
#  - this node's pod CIDR (spec.podCIDR) → /etc/cni/net.d/10-kindnet.conflist (ptp + host-local +
#    portmap, the plugins kindnetd configures; Debian's containernetworking-plugins in the node);
#  - every other node's pod CIDR → a route via that node's InternalIP (pod-to-pod across nodes);
#  - traffic from pods to outside the pod network is masqueraded.
# No NetworkPolicy support. Reconciles every KINDNET_LITE_INTERVAL seconds (default 5).
set -o errexit -o nounset -o pipefail
: "${NODE_NAME:?}" "${POD_SUBNET:?}"
interval="${KINDNET_LITE_INTERVAL:-5}"
conf=/etc/cni/net.d/10-kindnet.conflist
chain=KINDNET-LITE-MASQ
log() { echo "$(date -u +%FT%TZ) kindnet-lite: $*"; }

# kind adds CONTROL_PLANE_ENDPOINT (host:port): talk to the API server directly, so the CNI does not
# wait for kube-proxy's service rules. Otherwise kubectl's in-cluster config.
sa=/var/run/secrets/kubernetes.io/serviceaccount
kubectl_args=()
if [ -n "${CONTROL_PLANE_ENDPOINT:-}" ]; then
  kubectl_args=(--server "https://$CONTROL_PLANE_ENDPOINT" --certificate-authority "$sa/ca.crt")
fi
kube() {
  if [ -n "${CONTROL_PLANE_ENDPOINT:-}" ]; then
    kubectl "${kubectl_args[@]}" --token "$(cat "$sa/token")" --request-timeout 10s "$@"
  else
    kubectl --request-timeout 10s "$@"
  fi
}

write_cni() {
  local cidr="$1" mtu tmp
  mtu="$(cat /sys/class/net/eth0/mtu 2>/dev/null || echo 1500)"
  tmp="$(mktemp "$conf.XXXXXX")"
  cat >"$tmp" <<JSON
{
  "cniVersion": "0.3.1",
  "name": "kindnet",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "mtu": $mtu,
      "ipam": {
        "type": "host-local",
        "dataDir": "/run/cni-ipam-state",
        "routes": [{ "dst": "0.0.0.0/0" }],
        "ranges": [[{ "subnet": "$cidr" }]]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
JSON
  if cmp -s "$tmp" "$conf"; then rm -f "$tmp"; else mv "$tmp" "$conf" && chmod 0644 "$conf" && log "wrote $conf for $cidr"; fi
}

ensure_masquerade() {
  iptables -t nat -C POSTROUTING -m comment --comment kindnet-lite -j "$chain" 2>/dev/null && return 0
  iptables -t nat -N "$chain" 2>/dev/null || iptables -t nat -F "$chain"
  iptables -t nat -A "$chain" -d "$POD_SUBNET" -j RETURN
  iptables -t nat -A "$chain" -m addrtype --dst-type LOCAL -j RETURN
  iptables -t nat -A "$chain" -s "$POD_SUBNET" -j MASQUERADE
  iptables -t nat -A POSTROUTING -m comment --comment kindnet-lite -j "$chain"
  log "masquerading traffic from $POD_SUBNET to outside it"
}

log "node $NODE_NAME, pod subnet $POD_SUBNET, API server ${CONTROL_PLANE_ENDPOINT:-in-cluster}"
while true; do
  ensure_masquerade || log "iptables failed"
  if nodes="$(kube get nodes -o jsonpath='{range .items[*]}{.metadata.name}{"|"}{.status.addresses[?(@.type=="InternalIP")].address}{"|"}{.spec.podCIDR}{"\n"}{end}' 2>&1)"; then
    while IFS='|' read -r name ips cidr; do
      [ -n "$name" ] && [ -n "$cidr" ] || continue
      case "$cidr" in *:*) continue ;; esac
      if [ "$name" = "$NODE_NAME" ]; then
        write_cni "$cidr"
        continue
      fi
      ip="$(tr ' ' '\n' <<<"$ips" | grep -m1 -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' || true)"
      [ -n "$ip" ] || continue
      if ! ip route show "$cidr" | grep -q "via $ip "; then
        ip route replace "$cidr" via "$ip" && log "route $cidr via $ip ($name)"
      fi
    done <<<"$nodes"
  else
    log "cannot list nodes: $nodes"
  fi
  sleep "$interval"
done
