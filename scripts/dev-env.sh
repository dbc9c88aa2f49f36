#!/usr/bin/env bash
# Create (or refresh) the pinned development virtualenv and the collection symlink tree.
# Idempotent: re-running only installs what changed in requirements-dev.lock.
. "$(dirname "$0")/lib.sh"

PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; assert sys.version_info >= (3, 11), "Python >= 3.11 required"' \
  || die "Python 3.11 or newer is needed (ansible-core 2.19)"

stamp="$AISEC_VENV/.aisec-lock.sha256"
want="$(cat "$AISEC_ROOT/requirements-dev.lock" "$AISEC_ROOT/requirements.txt" | sha256sum | cut -c1-64)"
if [ ! -x "$AISEC_VENV/bin/python" ]; then
  log "creating virtualenv $AISEC_VENV"
  "$PYTHON" -m venv "$AISEC_VENV"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing pinned tooling (requirements-dev.lock)"
  "$AISEC_VENV/bin/python" -m pip install --quiet --upgrade pip
  "$AISEC_VENV/bin/python" -m pip install --quiet -r "$AISEC_ROOT/requirements-dev.lock" -r "$AISEC_ROOT/requirements.txt"
  echo "$want" >"$stamp"
fi

# The oldest ansible-core the collection claims (meta/runtime.yml), for the collection install test.
OLDEST="$AISEC_ROOT/.venv-oldest"
want_oldest="$(sha256sum <"$AISEC_ROOT/requirements-oldest.txt" | cut -c1-64)"
if [ "$(cat "$OLDEST/.aisec-lock.sha256" 2>/dev/null)" != "$want_oldest" ]; then
  log "creating $OLDEST (requirements-oldest.txt)"
  "$PYTHON" -m venv "$OLDEST"
  "$OLDEST/bin/python" -m pip install --quiet -r "$AISEC_ROOT/requirements-oldest.txt"
  echo "$want_oldest" >"$OLDEST/.aisec-lock.sha256"
fi

# ansible_collections/aisec/gpu_host -> checkout, so "aisec.gpu_host" resolves without installing.
mkdir -p "$AISEC_COLLECTIONS/ansible_collections/aisec"
ln -sfn "$AISEC_ROOT" "$AISEC_COLLECTIONS/ansible_collections/aisec/gpu_host"
log "virtualenv ready: . scripts/lib.sh && aisec_activate  (or: source $AISEC_VENV/bin/activate)"
