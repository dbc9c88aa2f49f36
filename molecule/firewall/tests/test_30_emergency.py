# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AISEC-NET-04: playbooks/emergency_block.yml, run as an operator would (ansible-playbook over SSH).

Runs last (file order): each test restores the normal state before it ends.
"""
from __future__ import annotations

import os

from conftest import (CLIENT_OK_V4, SCENARIO, TARGET_V4, HeldConnection, ansible_playbook,
                      controller_ssh, emergency, http_ok, ssh_banner)


def test_lockdown_cuts_inbound_but_keeps_the_admin_path(target, client_ok, client_bad):
    held = HeldConnection(client_ok, TARGET_V4, 8000, "lockdown")
    held.start()
    seconds = emergency("lockdown")[1]
    print("lockdown playbook: %.1f s" % seconds)
    try:
        # an inbound connection established before the lockdown is cut at once
        assert held.second_request().startswith("failed")
        assert not http_ok(client_ok, TARGET_V4, 8000)
        assert not http_ok(client_ok, TARGET_V4, 18080)
        assert not http_ok(client_bad, TARGET_V4, 9100)
        # the admin path stays: a listed admin client and the controller still reach SSH
        assert ssh_banner(client_ok, TARGET_V4)
        assert controller_ssh().returncode == 0
        # the host's own and its containers' allowed egress keeps working (log shipping etc.)
        assert http_ok(target, CLIENT_OK_V4, 8080)
        assert http_ok(target, CLIENT_OK_V4, 8080, netns="ctr1")
    finally:
        emergency("release")
    assert http_ok(client_ok, TARGET_V4, 8000)
    assert http_ok(client_bad, TARGET_V4, 9100)


def test_refuses_to_block_the_controller():
    proc = emergency("block", "10.213.71.0/24", expect_rc=2)[0]
    assert "would cut off the controller itself" in proc.stdout + proc.stderr


def test_blocklist_drops_a_client_at_once_and_survives_the_role(target, client_ok):
    held = HeldConnection(client_ok, TARGET_V4, 8000, "block")
    held.start()
    seconds = emergency("block", CLIENT_OK_V4)[1]
    print("block playbook: %.1f s" % seconds)
    try:
        # the established connection of the listed client is dropped at once, new ones fail
        assert held.second_request().startswith("failed")
        assert not http_ok(client_ok, TARGET_V4, 8000)
        assert not ssh_banner(client_ok, TARGET_V4)
        # the block is persistent: the boot files carry it, and a later run of the role keeps it
        # with nothing to change (the role compares against ruleset + emergency state)
        assert target.run("grep -q '%s' /etc/nftables.d/aisec-emergency.nft" % CLIENT_OK_V4).rc == 0
        proc = ansible_playbook(os.path.join(SCENARIO, "converge.yml"))[0]
        assert proc.returncode == 0, proc.stdout[-4000:]
        assert "changed=0" in proc.stdout.split("PLAY RECAP", 1)[1], proc.stdout[-3000:]
        assert not http_ok(client_ok, TARGET_V4, 8000)
        assert controller_ssh().returncode == 0
    finally:
        emergency("unblock", CLIENT_OK_V4)
    assert http_ok(client_ok, TARGET_V4, 8000)
    assert ssh_banner(client_ok, TARGET_V4)
    state = target.file("/etc/aisec/firewall/emergency.json").content_string
    assert '"action": "unblock"' in state and '"reason": "molecule-test"' in state


def test_ipv4_mapped_block_entry_blocks_the_ipv4_peer(target, client_ok):
    """Issue #13 finding 5: ::ffff:a.b.c.d on the block list used to land in the IPv6 set and block nothing."""
    mapped = "::ffff:" + CLIENT_OK_V4
    emergency("block", mapped)
    try:
        assert not http_ok(client_ok, TARGET_V4, 8000)
        blocked = target.check_output("nft list set inet aisec blocklist_v4")
        assert CLIENT_OK_V4 in blocked
        assert mapped not in target.check_output("nft list set inet aisec blocklist_v6")
        assert controller_ssh().returncode == 0
    finally:
        emergency("unblock", CLIENT_OK_V4)
    assert http_ok(client_ok, TARGET_V4, 8000)


def test_full_lockdown_also_cuts_what_the_host_opened(target, client_ok, client_bad):
    """Issue #13 finding 6: the inbound lockdown keeps connections the host opened (a reverse shell or beacon keeps
    talking); the full lockdown also closes egress and drops established outbound flows, except the admin path."""
    beacon = HeldConnection(target, CLIENT_OK_V4, 8080, "beacon")
    beacon.start()  # allowed egress, established before the lockdown
    inbound = HeldConnection(client_ok, TARGET_V4, 8000, "full")
    inbound.start()
    seconds = emergency("full_lockdown")[1]
    print("full lockdown playbook: %.1f s" % seconds)
    try:
        assert beacon.second_request().startswith("failed")
        assert inbound.second_request().startswith("failed")
        assert not http_ok(target, CLIENT_OK_V4, 8080)
        assert not http_ok(target, CLIENT_OK_V4, 8080, netns="ctr1")
        assert not http_ok(client_bad, TARGET_V4, 9100)
        # the admin path stays, in both directions
        assert ssh_banner(client_ok, TARGET_V4)
        assert controller_ssh().returncode == 0
        state = target.file("/etc/aisec/firewall/emergency.json").content_string
        assert '"lockdown": "full"' in state
    finally:
        emergency("release")
    assert http_ok(target, CLIENT_OK_V4, 8080)
    assert http_ok(client_ok, TARGET_V4, 8000)
