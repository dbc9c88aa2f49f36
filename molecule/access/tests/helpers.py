# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers shared by the access scenarios: docker-backed hosts, SSH from the client container,
TOTP codes (RFC 6238, computed here) and ansible-playbook runs over SSH from the controller."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shlex
import struct
import subprocess
import sys
import tempfile
import time

import testinfra

PROJECT_DIR = os.environ.get("MOLECULE_PROJECT_DIRECTORY") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def totp(secret: str, offset: int = 0, now: float | None = None) -> str:
    """RFC 6238 code (SHA-1, 30 s, 6 digits) for the time step ``offset`` steps from now."""
    key = base64.b32decode(secret)
    counter = int((now if now is not None else time.time()) // 30) + offset
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    pos = digest[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", digest[pos:pos + 4])[0] & 0x7FFFFFFF) % 1000000)


class Ssh:
    """Runs ssh on the client container against the target."""

    def __init__(self, client, target_ip: str):
        self.client = client
        self.target_ip = target_ip

    def __call__(self, user: str, command: str = "true", key: str | None = None, answer: str | None = None,
                 options: tuple[str, ...] = (), verbose: bool = False):
        opts = ["-o", "BatchMode=yes" if answer is None else "BatchMode=no",
                "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                "-o", "ConnectTimeout=10", "-o", "IdentitiesOnly=yes", "-o", "LogLevel=ERROR"]
        if verbose:
            opts[-1] = "LogLevel=VERBOSE"
        if key:
            opts += ["-i", "/root/keys/" + key]
        else:
            opts += ["-o", "PubkeyAuthentication=no"]
        opts += list(options)
        env = ""
        if answer is not None:
            env = ("SSH_ASKPASS=/usr/local/bin/test-askpass SSH_ASKPASS_REQUIRE=force DISPLAY=:0 "
                   "TEST_ANSWER=%s " % shlex.quote(answer))
        cmd = "%sssh %s %s@%s %s </dev/null" % (
            env, " ".join(shlex.quote(o) for o in opts), user, self.target_ip, shlex.quote(command))
        return self.client.run(cmd)


def docker_host(name: str):
    return testinfra.get_host("docker://" + name)


def run_playbook(scenario_dir: str, extra_vars: dict, timeout: int = 400, tags: str | None = None):
    """Run ``scenario_dir``/converge.yml with the scenario's inventory (over SSH where its host_vars
    say so), extra variables and optionally ``--tags``; returns the CompletedProcess."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(PROJECT_DIR, "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(PROJECT_DIR, ".cache", "collections"),
        "ANSIBLE_ROLES_PATH": os.path.join(PROJECT_DIR, "roles"),
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "json",
    })
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(extra_vars, handle)
        path = handle.name
    try:
        proc = subprocess.run(
            [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", inventory,
             os.path.join(scenario_dir, "converge.yml"), "-e", "@" + path] + (["--tags", tags] if tags else []),
            env=env, cwd=scenario_dir, capture_output=True, text=True, timeout=timeout, check=False)
    finally:
        os.unlink(path)
    return proc
