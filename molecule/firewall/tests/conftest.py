# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for the firewall scenario: real packets between the test containers.

Commands run inside the containers through the docker backend (a management path that bypasses
the network, used only to start probes and read state); every verdict comes from real TCP
connections over the scenario network, or from SSH connections of the controller itself.
"""
from __future__ import annotations

import os
import subprocess
import time

import pytest
import testinfra

TARGET = "fw-target"
CLIENT_OK = "fw-client-ok"
CLIENT_BAD = "fw-client-bad"
TARGET_V4 = "10.213.71.10"
TARGET_V6 = "fd42:a15e:71::10"
CLIENT_OK_V4 = "10.213.71.11"
CLIENT_OK_V6 = "fd42:a15e:71::11"
CLIENT_BAD_V4 = "10.213.71.12"
CLIENT_BAD_V6 = "fd42:a15e:71::12"
PROBE_TIMEOUT = 2

PROJECT = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
EPHEMERAL = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "")
SCENARIO = os.environ.get("MOLECULE_SCENARIO_DIRECTORY", os.path.dirname(os.path.dirname(__file__)))


def docker_host(name):
    return testinfra.get_host("docker://" + name)


@pytest.fixture(scope="session")
def target():
    return docker_host(TARGET)


@pytest.fixture(scope="session")
def client_ok():
    return docker_host(CLIENT_OK)


@pytest.fixture(scope="session")
def client_bad():
    return docker_host(CLIENT_BAD)


def url(address, port):
    return "http://[%s]:%d/" % (address, port) if ":" in address else "http://%s:%d/" % (address, port)


def http_ok(host, address, port, netns=None):
    """True if an HTTP GET from ``host`` (optionally inside a network namespace) succeeds."""
    prefix = "ip netns exec %s " % netns if netns else ""
    cmd = host.run(prefix + "curl -s -f -o /dev/null -m %s %s", str(PROBE_TIMEOUT), url(address, port))
    return cmd.rc == 0


def ssh_banner(host, address, port=22):
    """True if ``host`` receives an SSH banner from ``address`` (TCP handshake and data both pass)."""
    script = "exec 3<>/dev/tcp/%s/%d && head -c 8 <&3" % (address, port)
    cmd = host.run("timeout %s bash -c %s", str(PROBE_TIMEOUT + 1), script)
    return cmd.rc == 0 and cmd.stdout.startswith("SSH-2.0")


def controller_ssh(command="true", timeout=10):
    """Run ``command`` on the target over a NEW SSH connection from the controller (this machine)."""
    argv = [
        "ssh", "-i", os.path.join(EPHEMERAL, "id_fwops"),
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
        "-o", "BatchMode=yes", "-o", "ConnectTimeout=%d" % timeout, "-o", "ControlMaster=no",
        "fwops@" + TARGET_V4, command,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout + 20, check=False)


def ansible_playbook(playbook, *extra):
    """Run a playbook against the scenario inventory the way an operator would; return (proc, seconds)."""
    env = dict(os.environ)
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(PROJECT, ".cache", "collections"))
    env.setdefault("ANSIBLE_ROLES_PATH", os.path.join(PROJECT, "roles"))
    env["ANSIBLE_PIPELINING"] = "True"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_NOCOLOR"] = "1"
    if EPHEMERAL and os.path.exists(os.path.join(EPHEMERAL, "ansible.cfg")):
        env["ANSIBLE_CONFIG"] = os.path.join(EPHEMERAL, "ansible.cfg")
    inventory = os.environ.get("MOLECULE_INVENTORY_FILE") or os.path.join(EPHEMERAL, "inventory", "ansible_inventory.yml")
    argv = ["ansible-playbook", "-i", os.path.dirname(inventory), "-l", TARGET, playbook] + list(extra)
    start = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)
    return proc, time.monotonic() - start


def emergency(action, *addresses, expect_rc=0):
    extra = ["-e", "firewall_emergency_action=%s" % action, "-e", "firewall_emergency_reason=molecule-test"]
    if addresses:
        extra += ["-e", '{"firewall_emergency_addresses": [%s]}' % ", ".join('"%s"' % a for a in addresses)]
    proc, seconds = ansible_playbook(os.path.join(PROJECT, "playbooks", "emergency_block.yml"), *extra)
    assert proc.returncode == expect_rc, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc, seconds


HOLD_SCRIPT = r'''
import http.client, os, sys, time
path = sys.argv[1]
def write(name, text):
    with open(os.path.join(path, name), "w") as handle:
        handle.write(text)
conn = http.client.HTTPConnection(sys.argv[2], int(sys.argv[3]), timeout=5)
conn.request("GET", "/")
resp = conn.getresponse()
resp.read()
write("state", "connected %d %s" % (resp.status, resp.version))
while not os.path.exists(os.path.join(path, "go")):
    time.sleep(0.1)
conn.sock.settimeout(4)
try:
    conn.request("GET", "/")
    resp = conn.getresponse()
    resp.read()
    write("result", "answered %d" % resp.status)
except OSError as exc:
    write("result", "failed %s" % type(exc).__name__)
'''


class HeldConnection:
    """An established HTTP/1.1 keep-alive connection from a client to the target, held open.

    ``start()`` opens it and proves it works; ``second_request()`` sends another request on the
    SAME connection and reports whether it is answered (it is not when the firewall drops the
    established flow).
    """

    def __init__(self, host, address, port, tag):
        self.host, self.address, self.port = host, address, port
        self.dir = "/tmp/fwtest-hold-%s" % tag
        self.unit = "fwtest-hold-%s" % tag

    def start(self):
        self.host.run("rm -rf %s && mkdir -p %s" % (self.dir, self.dir))
        self.host.run("cat > %s/hold.py <<'EOF'\n%s\nEOF" % (self.dir, HOLD_SCRIPT))
        started = self.host.run("systemd-run --unit=%s --collect python3 %s/hold.py %s %s %s",
                                self.unit, self.dir, self.dir, self.address, str(self.port))
        assert started.rc == 0, started.stderr
        for _attempt in range(50):
            state = self.host.run("cat %s/state" % self.dir)
            if state.rc == 0 and state.stdout.startswith("connected 200"):
                return
            time.sleep(0.1)
        pytest.fail("could not establish the held connection to %s:%d" % (self.address, self.port))

    def second_request(self):
        self.host.run("touch %s/go" % self.dir)
        for _attempt in range(80):
            result = self.host.run("cat %s/result" % self.dir)
            if result.rc == 0 and result.stdout:
                return result.stdout.strip()
            time.sleep(0.1)
        return "no result"
