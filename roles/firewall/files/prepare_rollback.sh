#!/bin/sh
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Safe-apply step 1 of aisec.gpu_host.firewall (AISEC-NET-05).
# Usage: sh -c "$(cat prepare_rollback.sh)" prepare_rollback FAMILY TABLE ROLLBACK_FILE MARKER UNIT
#
# Saves the live table as a ruleset that restores it exactly (delete-and-recreate; "table absent"
# when there is none), checks that ruleset with "nft -c", and clears a stale rollback timer or
# marker left by an interrupted earlier run.
set -eu
family=$1 table=$2 rollback=$3 marker=$4 unit=$5
umask 077
mkdir -p "$(dirname "$rollback")"
{
  printf '# previous state of table %s %s, saved %s\n' "$family" "$table" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf 'table %s %s {}\ndelete table %s %s\n' "$family" "$table" "$family" "$table"
  nft -s list table "$family" "$table" 2>/dev/null || echo "# (table was absent)"
} > "$rollback.tmp"
nft -c -f "$rollback.tmp"
mv -f "$rollback.tmp" "$rollback"
systemctl stop "$unit.timer" 2>/dev/null || true
systemctl reset-failed "$unit.service" "$unit.timer" 2>/dev/null || true
rm -f "$marker"
