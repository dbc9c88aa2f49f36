#!/usr/bin/env bash
# Install the system packages the demo and the tests need on a Debian/Ubuntu machine (run as root):
# Docker (docker.io), debootstrap, git, rsync, python3-venv, gnupg, oathtool, dpkg-dev and chromium (headless
# screenshots of the HTML compliance report) and nftables (the ruleset unit tests load the rendered rules into a
# scratch network namespace) for the tests.
# Starts dockerd when no init system manages it. Safe to re-run.
. "$(dirname "$0")/lib.sh"
need=()
# dockerd, not docker: a machine may have a docker client (e.g. a static binary in /usr/local/bin)
# and no daemon; the daemon comes with docker.io.
for pair in dockerd:docker.io debootstrap:debootstrap git:git rsync:rsync ssh:openssh-client gpg:gnupg \
            oathtool:oathtool chromium:chromium dpkg-scanpackages:dpkg-dev nft:nftables; do
  command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
done
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if [ "${#need[@]}" -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing packages: ${need[*]} (run as root or install them)"
  command -v apt-get >/dev/null || die "missing packages: ${need[*]} (no apt-get: install them by hand)"
  log "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
ensure_docker
