#!/usr/bin/env bash
# inception's `docker` front (installed as $INCEPTION_TOOLCHAIN/bin/docker by scripts/node-image.sh,
# ahead of the real docker on PATH). See docs/node-image.md.
#
# Why: kind starts its nodes with `docker run --privileged`. Docker 20.10 asks the kernel for every
# capability it knows when privileged, and on hosts whose capability bounding set lacks one
# (here CAP_SYS_RESOURCE) runc fails with "unable to apply caps: operation not permitted"
# (moby#42906, fixed in later Docker by moby#42933). On such hosts, and only there, this front rewrites
# `--privileged` in `docker run|create` into what the node needs from it (and drops it from
# `docker exec`, whose processes then get the container's own capabilities):
#   every capability of the bounding set that Docker 20.10 knows, seccomp/apparmor/systempaths
#   unconfined, access to all devices (cgroup rule) plus /dev/kmsg and /dev/fuse.
# The node image's entrypoint (inception-entrypoint) then makes /sys and the cgroup mounts writable,
# which --privileged would have done.
# Everything else, and every call where privileged containers work, goes straight to the real docker.
# Whether they work is probed once per docker engine and boot, and cached.
set -euo pipefail

self="$(readlink -f "${BASH_SOURCE[0]}")"
real=""
IFS=: read -r -a _path <<<"${PATH:-/usr/local/bin:/usr/bin:/bin}"
for d in "${_path[@]}"; do
  [ -n "$d" ] && [ -x "$d/docker" ] || continue
  [ "$(readlink -f "$d/docker")" = "$self" ] && continue
  real="$d/docker"
  break
done
[ -n "$real" ] || { echo "docker (inception front): no real docker found on PATH" >&2; exit 127; }

# Fast path: only `run`/`create`/`exec` (also as `container ...`) with --privileged are considered.
sub="${1:-}"
[ "$sub" = container ] && sub="${2:-}"
case "$sub" in run | create | exec) ;; *) exec "$real" "$@" ;; esac
privileged=""
for a in "$@"; do
  case "$a" in --) break ;; --privileged | --privileged=true) privileged=1; break ;; esac
done
[ -n "$privileged" ] || exec "$real" "$@"

# Does `--privileged` work on this engine? Probed with an empty image and a missing entrypoint: the
# capability error comes before the exec error, so the message tells which one it was.
cache_dir="${INCEPTION_CACHE:-$HOME/.cache/inception}/docker-front"
engine="$("$real" version -f '{{.Server.Version}}' 2>/dev/null || echo unknown)"
key="$engine-$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo noboot)"
verdict="$(cat "$cache_dir/privileged-$key" 2>/dev/null || true)"
if [ -z "$verdict" ]; then
  mkdir -p "$cache_dir"
  probe_image="inception/privileged-probe:empty"
  if ! "$real" image inspect "$probe_image" >/dev/null 2>&1; then
    tar -cf - -T /dev/null | "$real" import - "$probe_image" >/dev/null
  fi
  err="$("$real" run --rm --privileged --network none --entrypoint /inception-probe "$probe_image" 2>&1 || true)"
  case "$err" in
    *"apply caps"*) verdict=rewrite ;;
    *inception-probe*) verdict=native ;;  # got as far as the (missing) entrypoint: privileged works
    *) exec "$real" "$@" ;;               # engine trouble: no verdict, let the real call report it
  esac
  echo "$verdict" >"$cache_dir/privileged-$key"
fi
[ "$verdict" = rewrite ] || exec "$real" "$@"

# Capabilities Docker 20.10 accepts by name (0-37; it rejects BPF, PERFMON and CHECKPOINT_RESTORE),
# kept when the host's bounding set has them.
names=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP LINUX_IMMUTABLE
  NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE SYS_RAWIO SYS_CHROOT
  SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG MKNOD LEASE
  AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG WAKE_ALARM BLOCK_SUSPEND AUDIT_READ)
bnd=$((16#$(awk '/^CapBnd:/ { print $2 }' /proc/self/status)))
repl=()
# `docker exec --privileged` fails the same way; without the flag the process gets the container's own
# capability set, which for a node started through this front is the set above.
if [ "$sub" != exec ]; then
  for i in "${!names[@]}"; do
    (((bnd >> i) & 1)) && repl+=(--cap-add "${names[$i]}")
  done
  repl+=(--security-opt seccomp=unconfined --security-opt apparmor=unconfined --security-opt systempaths=unconfined
    --device-cgroup-rule 'a *:* rwm' --device /dev/kmsg --label io.inception.docker-front=privileged-rewritten)
  [ -e /dev/fuse ] && repl+=(--device /dev/fuse)
fi

args=()
done_opts=""
for a in "$@"; do
  if [ -z "$done_opts" ]; then
    case "$a" in
      --privileged | --privileged=true) args+=("${repl[@]}"); continue ;;
      --) done_opts=1 ;;
    esac
  fi
  args+=("$a")
done
exec "$real" "${args[@]}"
