# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of roles/access/files/access_probe.py and access_checks.py (the target-side scripts)."""
from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
import threading

import pytest
import yaml
from ansible.template import Templar, trust_as_template
from ansible.parsing.dataloader import DataLoader

FILES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "access", "files")
VARS = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles", "access", "vars", "main.yml")


def load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(FILES, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


probe = load("access_probe")
checks = load("access_checks")

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"
OPTIONS = ['" RATE_LIMIT 3 30', '" WINDOW_SIZE 3', '" DISALLOW_REUSE', '" TOTP_AUTH']


def controller_digest(secret, options):
    """The digest tasks/files.yml compares with (vars/main.yml __access_totp_to_write), rendered by Ansible."""
    with open(VARS, encoding="utf-8") as handle:
        text = handle.read()
    # The expression of __access_totp_to_write's "want", evaluated with Ansible's own filters.
    assert "| sort(case_sensitive=true) | join(__access_newline) | hash('sha256')" in text
    newline = yaml.safe_load(text)["__access_newline"]
    assert newline == "\n"
    templar = Templar(loader=DataLoader(), variables={"s": secret, "o": options, "__access_newline": newline})
    return templar.template(trust_as_template(
        "{{ ([s] + o) | sort(case_sensitive=true) | join(__access_newline) | hash('sha256') }}"))


def test_totp_digest_matches_the_controller_and_ignores_module_state():
    fresh = SECRET + "\n" + "\n".join(OPTIONS) + "\n"
    # What pam_google_authenticator leaves after use: state after RATE_LIMIT and DISALLOW_REUSE, blank lines.
    used = (SECRET + "\n\" RATE_LIMIT 3 30 1700000000 1700000010\n\" WINDOW_SIZE 3\n"
            "\" DISALLOW_REUSE 56666666 56666667\n\" TOTP_AUTH\n\n")
    want = controller_digest(SECRET, OPTIONS)
    assert probe.totp_digest(fresh) == want
    assert probe.totp_digest(used) == want
    assert probe.totp_digest(fresh.replace(SECRET, "A" * 24)) != want
    assert probe.totp_digest(fresh.replace("WINDOW_SIZE 3", "WINDOW_SIZE 17")) != want
    assert probe.totp_digest(None) is None


def test_probe_runs_read_only_and_reports_every_section(tmp_path):
    secrets = tmp_path / "totp"
    secrets.mkdir()
    (secrets / "adm-ann").write_text(SECRET + "\n" + "\n".join(OPTIONS) + "\n")
    (tmp_path / "pam-sudo").write_text("@include aisec-sudo-auth\n@include common-auth\n")
    request = {
        "packages": ["dpkg", "no-such-package-aisec"],
        "shadow_users": ["root", "no-such-user-aisec"],
        "files": [str(tmp_path / "pam-sudo"), str(tmp_path / "missing")],
        "dirs": [str(secrets), str(tmp_path / "nodir")],
        "home_users": ["root", "no-such-user-aisec"],
        "totp_dir": str(secrets),
        "totp_users": ["adm-ann", "adm-bob"],
    }
    before = sorted(os.listdir(tmp_path))
    with open(os.path.join(FILES, "access_probe.py"), encoding="utf-8") as handle:
        script = handle.read()
    proc = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True, check=True,
                          env={"AISEC_ACCESS_PROBE": json.dumps(request), "PATH": os.environ["PATH"]})
    out = json.loads(proc.stdout)
    assert sorted(os.listdir(tmp_path)) == before
    assert out["packages"]["dpkg"] and out["packages"]["no-such-package-aisec"] is None
    assert "root" in out["groups"] and isinstance(out["groups"]["root"]["members"], list)
    assert out["passwd"]["root"]["uid"] == 0 and out["passwd"]["root"]["home"] == "/root"
    assert out["homes"] == {"root": True, "no-such-user-aisec": False}
    assert out["shadow"]["no-such-user-aisec"] is None
    if os.geteuid() == 0:
        root = out["shadow"]["root"]
        assert set(root) == {"locked", "expire", "password_sha256"} and len(root["password_sha256"]) == 64
    assert out["files"][str(tmp_path / "pam-sudo")].startswith("@include aisec-sudo-auth")
    assert out["files"][str(tmp_path / "missing")] is None
    assert out["dirs"] == {str(secrets): ["adm-ann"], str(tmp_path / "nodir"): None}
    assert out["totp"] == {"adm-ann": controller_digest(SECRET, OPTIONS), "adm-bob": None}
    assert SECRET not in proc.stdout  # no secret leaves the host


def test_probe_reports_bad_request_as_json():
    with open(os.path.join(FILES, "access_probe.py"), encoding="utf-8") as handle:
        script = handle.read()
    proc = subprocess.run([sys.executable, "-"], input=script, capture_output=True, text=True, check=False,
                          env={"AISEC_ACCESS_PROBE": "{not json", "PATH": os.environ["PATH"]})
    assert proc.returncode == 1 and "not JSON" in json.loads(proc.stdout)["error"]


@pytest.mark.parametrize("lines,expected", [
    ([], ("127.0.0.1", 22)),
    (["port 22", "listenaddress [::]:22", "listenaddress 0.0.0.0:22"], ("127.0.0.1", 22)),
    (["listenaddress [::]:2222"], ("::1", 2222)),
    (["listenaddress 10.1.2.3:2200", "listenaddress [fd00::1]:2200"], ("10.1.2.3", 2200)),
    (["listenaddress garbage", "listenaddress 10.0.0.1:notaport"], ("127.0.0.1", 22)),
])
def test_listen_address(lines, expected):
    assert checks.listen_address(lines) == expected


def test_banner_waits_for_openssh_and_times_out():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]

    def answer():
        for reply in (b"HTTP/1.1 400 Bad Request\r\n", b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n"):
            conn, _addr = server.accept()
            conn.sendall(reply)
            conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    banner, error = checks.banner("127.0.0.1", port, 10)
    assert banner.startswith("SSH-2.0-OpenSSH") and error is None
    server.close()
    banner, error = checks.banner("127.0.0.1", port, 0.2)
    assert banner is None and error
