# shellcheck shell=bash
# Shared helpers for the developer scripts. Source it; do not execute it.
set -euo pipefail
AISEC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
AISEC_VENV="${AISEC_VENV:-$AISEC_ROOT/.venv}"
AISEC_COLLECTIONS="$AISEC_ROOT/.cache/collections"
export AISEC_ROOT AISEC_VENV

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31mERROR:\033[0m %s\n' "$*" >&2; exit 1; }

# Activate the virtualenv and make the checkout importable as aisec.gpu_host.
aisec_activate() {
  [ -x "$AISEC_VENV/bin/ansible-playbook" ] || die "no virtualenv at $AISEC_VENV: run scripts/dev-env.sh first"
  # shellcheck disable=SC1091
  . "$AISEC_VENV/bin/activate"
  export ANSIBLE_CONFIG="$AISEC_ROOT/ansible.cfg"
  export ANSIBLE_COLLECTIONS_PATH="$AISEC_COLLECTIONS"
  export MOLECULE_GLOB="molecule/*/molecule.yml"
}

# Start dockerd when no daemon answers and no init system manages it.
ensure_docker() {
  command -v docker >/dev/null || die "docker is not installed (apt-get install docker.io)"
  if docker info >/dev/null 2>&1; then return 0; fi
  if ! command -v dockerd >/dev/null && ! { command -v systemctl >/dev/null && [ -d /run/systemd/system ]; }; then
    die "docker client found ($(command -v docker)) but no Docker daemon: install one (as root: apt-get install docker.io, or run scripts/bootstrap-host.sh) and re-run"
  fi
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl start docker || true
  else
    log "starting dockerd in the background (log: /var/log/aisec-dockerd.log)"
    nohup dockerd >/var/log/aisec-dockerd.log 2>&1 &
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && return 0; sleep 1; done
  die "docker daemon did not come up"
}
