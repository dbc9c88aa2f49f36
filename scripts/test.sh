#!/usr/bin/env bash
# The whole test suite (the README's test command):
#   scripts/test.sh            lint + sanity + unit tests + every Molecule scenario
#   scripts/test.sh fast       lint + sanity + unit tests (no containers)
#   scripts/test.sh molecule [SCENARIO...]   Molecule scenarios only
# Sets up the virtualenv and, for Molecule, the Docker daemon and the local test-host image.
. "$(dirname "$0")/lib.sh"
mode="${1:-all}"; shift || true
cd "$AISEC_ROOT"
bash scripts/dev-env.sh
aisec_activate
results=()
step() {  # step NAME COMMAND... : run, time and record a step; abort on failure.
  local name="$1"; shift
  local t0=$SECONDS
  log "$name"
  if "$@"; then results+=("PASS  $(printf '%-28s' "$name") $((SECONDS - t0))s")
  else
    results+=("FAIL  $(printf '%-28s' "$name") $((SECONDS - t0))s")
    printf '%s\n' "${results[@]}"; die "$name failed"
  fi
}
run_pytest() {
  local rc=0
  python -m pytest -q tests/unit tests/integration/patching "$@" || rc=$?
  [ "$rc" = 5 ] && { log "pytest collected no tests"; rc=0; }   # exit 5 = no tests collected
  return "$rc"
}
run_molecule() {
  bash scripts/bootstrap-host.sh
  AISEC_TEST_IMAGE="$(bash scripts/build-image.sh)"; export AISEC_TEST_IMAGE
  local scenarios=("$@")
  if [ "${#scenarios[@]}" -eq 0 ]; then
    mapfile -t scenarios < <(find molecule -mindepth 2 -maxdepth 2 -name molecule.yml -printf '%h\n' | xargs -n1 basename | sort)
  fi
  local s
  for s in "${scenarios[@]}"; do
    step "molecule $s" molecule test -s "$s"
  done
  # Whole-collection audit -> drift -> remediate cycle through ansible-runner on a local container host.
  if [ "$#" -eq 0 ]; then
    step "drift audit (ansible-runner)" run_pytest_path tests/integration/drift
    # The collection as users install it: build, install into an empty project, run roles by FQCN (also with the
    # oldest ansible-core the collection claims).
    step "collection install" run_pytest_path tests/integration/galaxy
  fi
}
run_pytest_path() {
  local rc=0
  python -m pytest -q "$@" || rc=$?
  [ "$rc" = 5 ] && { log "pytest collected no tests in $*"; rc=0; }
  return "$rc"
}
case "$mode" in
  fast|all)
    step yamllint yamllint -s .
    step "ansible-lint (production)" ansible-lint --offline -q
    step "ansible-test sanity" bash scripts/sanity.sh
    step "pytest unit" run_pytest
    [ "$mode" = all ] && run_molecule
    ;;
  molecule) run_molecule "$@" ;;
  unit) step "pytest unit" run_pytest "$@" ;;
  *) die "usage: $0 [all|fast|unit|molecule [SCENARIO...]]" ;;
esac
printf '%s\n' "${results[@]}"
log "all steps passed (${SECONDS}s)"
