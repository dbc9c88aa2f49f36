# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AISEC-NET-01: inbound allow lists, proven with real connections from allowed and denied clients."""
from __future__ import annotations

import pytest

from conftest import (CLIENT_BAD, CLIENT_OK, TARGET_V4, TARGET_V6, controller_ssh, docker_host,
                      http_ok, ssh_banner)

# (client, address of the target, port, expected): port 22 is probed for an SSH banner,
# the others with an HTTP GET. 8000 = inference on the host, 9100 = metrics,
# 18080 = port published by the fake container (DNAT to ctr1:8080, forward path).
MATRIX = [
    (CLIENT_OK, TARGET_V4, 22, True),
    (CLIENT_OK, TARGET_V6, 22, True),
    (CLIENT_OK, TARGET_V4, 8000, True),
    (CLIENT_OK, TARGET_V6, 8000, True),
    (CLIENT_OK, TARGET_V4, 9100, False),
    (CLIENT_OK, TARGET_V4, 18080, True),
    (CLIENT_BAD, TARGET_V4, 22, False),
    (CLIENT_BAD, TARGET_V6, 22, False),
    (CLIENT_BAD, TARGET_V4, 8000, False),
    (CLIENT_BAD, TARGET_V6, 8000, False),
    (CLIENT_BAD, TARGET_V4, 9100, True),
    (CLIENT_BAD, TARGET_V6, 9100, True),
    (CLIENT_BAD, TARGET_V4, 18080, False),
]


@pytest.mark.parametrize("client,address,port,expected", MATRIX,
                         ids=["%s->%s:%d=%s" % (c, a, p, "open" if e else "closed") for c, a, p, e in MATRIX])
def test_inbound_allow_lists(client, address, port, expected):
    host = docker_host(client)
    reached = ssh_banner(host, address, port) if port == 22 else http_ok(host, address, port)
    assert reached is expected


def test_controller_opens_new_ssh_connections():
    result = controller_ssh("sudo -n nft list table inet aisec >/dev/null && echo ok")
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_denied_packets_are_counted(target):
    """The denied connections above were dropped by our chains (their drop counters moved)."""
    for chain in ("input", "container_in"):
        listing = target.check_output("nft list chain inet aisec %s" % chain)
        if chain == "input":
            # input drops by policy after the log rule; the log rule's limit has no counter, so
            # check the rule set instead: the last statement must be the rate-limited log.
            assert 'log prefix "aisec-fw-in-drop: "' in listing
            continue
        drops = [line for line in listing.splitlines() if line.strip().endswith("drop") and "counter packets" in line]
        assert drops and int(drops[-1].split("counter packets", 1)[1].split()[0]) > 0, listing
