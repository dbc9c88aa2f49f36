#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection under .../ansible_collections/aisec/gpu_host
# (ansible-test must run from inside such a tree). Extra arguments go to ansible-test sanity.
. "$(dirname "$0")/lib.sh"
aisec_activate
work="${AISEC_SANITY_DIR:-${TMPDIR:-/tmp}/aisec-sanity}"  # outside the checkout: ansible-test skips git-ignored paths
dest="$work/ansible_collections/aisec/gpu_host"
rm -rf "$dest"; mkdir -p "$dest"
# Only what git would ship: tracked files plus new files that are not ignored.
(cd "$AISEC_ROOT" && git ls-files -co --exclude-standard -z | rsync -a --from0 --files-from=- ./ "$dest/")

# ansible-test bootstraps pip in each sanity virtualenv with a script from ansible's CI file host. Where that
# host is unreachable, put a stand-in in its cache that bootstraps the bundled pip with ensurepip (ansible-test
# does not check the script's content). Machines with full network access keep the real script.
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
pip_v="$(python - <<'PY'
import re, ansible_test, os
src = open(os.path.join(os.path.dirname(ansible_test.__file__), "_internal", "python_requirements.py")).read()
print(re.search(r"pip=.([0-9.]+).", src).group(1).replace(".", "_"))
PY
)"
for f in "get_pip_${pip_v}.py"; do
  [ -e "$cache/$f" ] && continue
  cat >"$cache/$f" <<'PY'
"""Offline stand-in for get-pip.py (installed by aisec.gpu_host scripts/sanity.sh)."""
import os, subprocess, sys
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade", "--default-pip"])
extra = ["--cert", "/etc/ssl/certs/ca-certificates.crt"] if os.path.exists("/etc/ssl/certs/ca-certificates.crt") else []
if args:
    subprocess.check_call([sys.executable, "-m", "pip", "install"] + args + extra)
PY
done
cd "$dest"
ansible-test sanity --python "$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')" \
  --requirements --local --color no "$@"
