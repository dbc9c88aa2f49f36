# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AISEC-NET-05: after a lock-out attempt the host restored its previous ruleset by itself."""
from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
import testinfra

EPHEMERAL = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "")
TARGET_V4 = "10.213.72.10"


@pytest.fixture(scope="module")
def target():
    return testinfra.get_host("docker://fwrb-target")


@pytest.fixture(scope="module")
def result():
    with open(os.path.join(EPHEMERAL, "rollback-result.json"), encoding="utf-8") as handle:
        return json.load(handle)


def test_controller_reaches_the_host_over_a_new_ssh_connection():
    proc = subprocess.run(
        ["ssh", "-i", os.path.join(EPHEMERAL, "id_fwops"), "-o", "StrictHostKeyChecking=no",
         "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "BatchMode=yes",
         "-o", "ConnectTimeout=10", "-o", "ControlMaster=no", "fwops@" + TARGET_V4, "echo reachable"],
        capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0 and proc.stdout.strip() == "reachable", proc.stderr


def test_previous_ruleset_restored_exactly(target, result):
    assert result["restored_identical"] is True
    admin = target.check_output("nft list set inet aisec admin_v4")
    assert "10.213.72.1" in admin and "10.213.72.99" not in admin


def test_rollback_ran_within_the_timer(result):
    # the role reports how long after the apply the host rolled back
    seconds = int(re.search(r"previous ruleset (\d+) s after the apply", result["message"]).group(1))
    print("rollback %d s after the apply (timer %d s); failure reported %.1f s after the role started"
          % (seconds, result["rollback_timeout"], result["seconds_until_failure_reported"]))
    # the timer is armed just before the load, so it fires at most rollback_timeout s after it
    assert result["rollback_timeout"] - 5 <= seconds <= result["rollback_timeout"] + 2


def test_failed_ruleset_was_not_persisted(target):
    assert not target.file("/etc/nftables.d/aisec.nft").contains("10.213.72.99")
    boot = target.check_output("unshare --net sh -c 'nft -f /etc/nftables.conf && nft -s list table inet aisec'")
    assert boot == target.check_output("nft -s list table inet aisec")


def test_no_rollback_timer_left(target):
    assert target.run("systemctl is-active aisec-firewall-rollback.timer").stdout.strip() != "active"
