# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of scenario "access_totp" (helpers shared with scenario "access")."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                "access", "tests"))
from helpers import Ssh, docker_host, run_playbook  # noqa: E402  pylint: disable=wrong-import-position

SCENARIO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_IP = "10.213.87.10"


@pytest.fixture(scope="session")
def target():
    return docker_host("access-totp-target")


@pytest.fixture(scope="session")
def client():
    return docker_host("access-totp-client")


@pytest.fixture(scope="session")
def ssh(client):
    return Ssh(client, TARGET_IP)


@pytest.fixture(scope="session")
def run_role():
    return lambda extra_vars=None, tags=None: run_playbook(SCENARIO_DIR, extra_vars or {}, tags=tags)
