#!/bin/sh
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Read-only drift probe of aisec.gpu_host.firewall (AISEC-NET-05).
# Usage: sh -c "$(cat ruleset_diff.sh)" ruleset_diff FAMILY TABLE EMERGENCY_FILE < desired.nft
#
# Prints a unified diff between the live table and the desired ruleset (stdin plus the emergency
# include), both in the canonical form of "nft -s list table" (stateless: no counters). The desired
# ruleset is loaded into a throwaway network namespace, so nothing on the host changes.
# Exit status: 0 in sync, 1 drift, 2 error.
set -u
family=$1 table=$2 emergency=$3
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT
{ cat; if [ -r "$emergency" ]; then cat "$emergency"; fi; } > "$tmp/desired.nft" || exit 2
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
