# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AISEC-NET-02/03/05: egress allow list (host and container), coexistence with Docker's tables,
persistence for boot."""
from __future__ import annotations

from conftest import CLIENT_BAD_V4, CLIENT_BAD_V6, CLIENT_OK_V4, CLIENT_OK_V6, http_ok


def test_host_egress_to_allowed_destination_works(target):
    assert http_ok(target, CLIENT_OK_V4, 8080)
    assert http_ok(target, CLIENT_OK_V6, 8080)


def test_host_egress_outside_allow_list_is_dropped(target):
    assert not http_ok(target, CLIENT_BAD_V4, 8080)
    assert not http_ok(target, CLIENT_BAD_V6, 8080)


def test_container_egress_follows_the_same_allow_list(target):
    """From a real network namespace behind a bridge (the forward path, like a Docker container)."""
    assert http_ok(target, CLIENT_OK_V4, 8080, netns="ctr1")
    assert not http_ok(target, CLIENT_BAD_V4, 8080, netns="ctr1")


def test_loopback_is_open(target):
    assert http_ok(target, "127.0.0.1", 8000)


def test_docker_tables_survive(target):
    tables = target.check_output("nft list tables").splitlines()
    assert "table ip nat" in tables and "table ip filter" in tables and "table inet aisec" in tables
    assert "DOCKER-USER" in target.check_output("nft list table ip filter")


def test_forwarding_untouched(target):
    assert target.check_output("cat /proc/sys/net/ipv4/ip_forward") == "1"


def test_boot_configuration_has_no_flush_and_loads(target):
    conf = target.file("/etc/nftables.conf").content_string
    assert "flush ruleset" not in "\n".join(l for l in conf.splitlines() if not l.lstrip().startswith("#"))
    assert 'include "/etc/nftables.d/aisec.nft"' in conf
    assert target.run("nft -c -f /etc/nftables.conf").rc == 0
    assert target.service("nftables").is_enabled
    assert target.file("/etc/systemd/system/nftables.service.d/50-aisec-no-flush.conf").contains("^ExecStop=$")


def test_boot_files_match_the_live_table(target):
    """Loading the boot files into a scratch namespace gives exactly the live table."""
    live = target.check_output("nft -s list table inet aisec")
    boot = target.check_output("unshare --net sh -c 'nft -f /etc/nftables.conf && nft -s list table inet aisec'")
    assert live == boot


def test_no_rollback_pending(target):
    assert target.run("systemctl is-active aisec-firewall-rollback.timer").stdout.strip() != "active"
    assert not target.file("/run/aisec-firewall/rolled-back").exists
