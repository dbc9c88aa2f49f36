#!/bin/sh
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Read-only drift probe of aisec.gpu_host.firewall (AISEC-NET-05).
# Usage: sh -c "$(cat ruleset_diff.sh)" ruleset_diff FAMILY TABLE EMERGENCY_FILE [MAIN_FILE UNIT] < desired.nft
#
# Prints a unified diff between the live table and the desired ruleset (stdin plus the emergency
# include), both in the canonical form of "nft -s list table" (stateless: no counters). The desired
# ruleset is loaded into a throwaway network namespace, so nothing on the host changes.
# With MAIN_FILE and UNIT the first line of the output is a JSON object with the rest of the state
# the role decides on, read at the same moment:
#   {"persisted": "same|differs|absent", "emergency": "present|absent",
#    "enabled": "<systemctl is-enabled UNIT>", "active": "<systemctl is-active UNIT>"}
# (persisted: whether MAIN_FILE holds exactly the desired ruleset), and the diff follows.
# Exit status: 0 in sync, 1 drift, 2 error.
set -u
family=$1 table=$2 emergency=$3 main=${4:-} unit=${5:-}
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/ruleset.nft" || exit 2
if [ -r "$emergency" ]; then
  { cat "$tmp/ruleset.nft"; echo; cat "$emergency"; } > "$tmp/desired.nft" || exit 2
  present=present
else
  cp "$tmp/ruleset.nft" "$tmp/desired.nft" || exit 2
  present=absent
fi
if [ -n "$unit" ]; then
  if [ ! -e "$main" ]; then
    persisted=absent
  elif cmp -s "$tmp/ruleset.nft" "$main"; then
    persisted=same
  else
    persisted=differs
  fi
  enabled=$(systemctl is-enabled "$unit" 2>/dev/null) || :
  active=$(systemctl is-active "$unit" 2>/dev/null) || :
  printf '{"persisted": "%s", "emergency": "%s", "enabled": "%s", "active": "%s"}\n' \
    "$persisted" "$present" "$(echo "${enabled:-unknown}" | tr -cd 'a-z-')" "$(echo "${active:-unknown}" | tr -cd 'a-z-')"
fi
if ! nft -s list table "$family" "$table" > "$tmp/live" 2>/dev/null; then
  : > "$tmp/live"
fi
if ! unshare --net -- sh -c 'nft -f "$1" && nft -s list table "$2" "$3"' sh \
    "$tmp/desired.nft" "$family" "$table" > "$tmp/desired" 2> "$tmp/err"; then
  echo "cannot load the desired ruleset into a scratch network namespace:" >&2
  cat "$tmp/err" >&2
  exit 2
fi
diff -u --label "live: $family $table" --label "desired: $family $table" "$tmp/live" "$tmp/desired"
rc=$?
[ "$rc" -le 1 ] || exit 2
exit "$rc"
