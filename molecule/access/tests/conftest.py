# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures of scenario "access": the target, the SSH client and over-SSH role runs."""
from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from helpers import Ssh, docker_host, run_playbook  # noqa: E402  pylint: disable=wrong-import-position

SCENARIO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_IP = "10.213.86.10"


@pytest.fixture(scope="session")
def target():
    return docker_host("access-target")


@pytest.fixture(scope="session")
def client():
    return docker_host("access-client")


@pytest.fixture(scope="session")
def ssh(client):
    return Ssh(client, TARGET_IP)


@pytest.fixture(scope="session")
def run_role():
    return lambda extra_vars, tags=None: run_playbook(SCENARIO_DIR, extra_vars, tags=tags)
