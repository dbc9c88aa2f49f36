#!/usr/bin/env bash
# The demo: virtualenv, local Debian 12 systemd test-host image, the local host "gpu-node-1" (container
# aisec-gpu-node-1), then playbooks/site.yml against inventories/local with the per-control report.
# Extra arguments go to ansible-playbook (e.g. --check --diff).
. "$(dirname "$0")/lib.sh"
bash "$AISEC_ROOT/scripts/bootstrap-host.sh"
bash "$AISEC_ROOT/scripts/dev-env.sh"
aisec_activate
image="$(bash "$AISEC_ROOT/scripts/build-image.sh")"
name=aisec-gpu-node-1
current="$(docker inspect -f '{{.Config.Image}}' "$name" 2>/dev/null || true)"
if [ "$current" != "$image" ]; then
  [ -z "$current" ] || { log "replacing $name ($current -> $image)"; docker rm -f "$name" >/dev/null; }
  log "starting local host gpu-node-1 (container $name from $image)"
  docker run -d --name "$name" --hostname gpu-node-1 \
    --cap-add SYS_ADMIN --cap-add NET_ADMIN --cap-add AUDIT_CONTROL --cap-add AUDIT_READ \
    --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
    --tmpfs /run --tmpfs /run/lock --tmpfs /tmp -v /sys/fs/cgroup:/sys/fs/cgroup:rw --cgroupns=host \
    "$image" /lib/systemd/systemd >/dev/null
elif [ "$(docker inspect -f '{{.State.Running}}' "$name")" != true ]; then
  docker start "$name" >/dev/null
fi
for _ in $(seq 1 30); do
  state="$(docker exec "$name" systemctl is-system-running 2>/dev/null || true)"
  case "$state" in running|degraded) break ;; esac
  sleep 1
done
log "gpu-node-1 is up (systemd: ${state:-unknown})"
export AISEC_COMPLIANCE_DIR="${AISEC_COMPLIANCE_DIR:-$AISEC_ROOT/artifacts/demo}"
log "running playbooks/site.yml (report: $AISEC_COMPLIANCE_DIR)"
ansible-playbook -i "$AISEC_ROOT/inventories/local/hosts.yml" "$AISEC_ROOT/playbooks/site.yml" "$@"
