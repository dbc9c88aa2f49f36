# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the aisec.gpu_host.csaf_sync action plugin: argument handling, error reporting, check mode,
and one real ansible-playbook run plus ansible-doc rendering."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from unittest.mock import MagicMock

import pytest

from ansible_collections.aisec.gpu_host.plugins.action import csaf_sync as action_mod
from ansible_collections.aisec.gpu_host.plugins.action.csaf_sync import ActionModule

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "provider"))
import csaf_test_kit as kit  # noqa: E402  pylint: disable=wrong-import-position

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
VENV_BIN = os.path.join(ROOT, ".venv", "bin")


def make_tree(root):
    """A two-document NVIDIA-style source; 5586 carries the CRLF .sha256 defect."""
    for num, crlf in (("5586", True), ("5614", False)):
        raw = kit.dump(kit.make_doc(num, initial="2024-10-22T00:00:00.000Z"))
        folder = root / "2024" / num
        folder.mkdir(parents=True)
        (folder / (num + ".json")).write_bytes(raw)
        (folder / (num + ".json.sha256")).write_text(kit.sha(raw.replace(b"\n", b"\r\n") if crlf else raw))


def make_action(args, basedir, check_mode=False):
    task = MagicMock()
    task.args = args
    task.async_val = 0
    task.check_mode = check_mode
    task.action = "aisec.gpu_host.csaf_sync"
    connection = MagicMock()
    connection._shell.tmpdir = None
    play_context = MagicMock()
    play_context.check_mode = check_mode
    loader = MagicMock()
    loader.get_basedir.return_value = str(basedir)
    return ActionModule(task, connection, play_context, loader, templar=None, shared_loader_obj=None)


def test_runs_on_controller_without_connection():
    assert ActionModule._requires_connection is False


def test_local_sync_relative_paths_and_warnings(tmp_path):
    make_tree(tmp_path / "src")
    action = make_action({"source": "./src", "dest": "mirror", "accept_crlf_hash": True}, tmp_path)
    result = action.run(task_vars={})
    assert not result.get("failed"), result
    assert result["changed"] and result["counts"]["new"] == 2
    assert result["dest"] == str(tmp_path / "mirror")
    assert any("CRLF" in w for w in result["warnings"]) and result["warnings"] == result["sync_warnings"]
    assert (tmp_path / "mirror" / "2024" / "5586.json").exists()
    again = make_action({"source": "./src", "dest": "mirror", "accept_crlf_hash": True}, tmp_path).run(task_vars={})
    assert not again["changed"] and again["counts"]["unchanged"] == 2


def test_check_mode_is_passed_through(tmp_path):
    make_tree(tmp_path / "src")
    result = make_action({"source": str(tmp_path / "src"), "dest": str(tmp_path / "m")}, tmp_path, check_mode=True).run(task_vars={})
    assert result["check_mode"] and result["changed"] and "Check mode" in result["msg"]
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("args,msg", [
    ({"dest": "/tmp/x"}, "missing required arguments: source"),
    ({"source": "example.com", "dest": "/tmp/x", "bogus": 1}, "Unsupported parameters"),
    ({"source": "example.com", "dest": "/tmp/x", "workers": "many"}, "workers"),
    ({"source": "example.com", "dest": "/tmp/x", "tree_mode": "hard"}, "tree_mode"),
    ({"source": "http://example.com/.well-known/csaf/provider-metadata.json", "dest": "/tmp/x"}, "only https"),
    ({"source": "example.com", "dest": "/tmp/x", "trusted_fingerprints": ["1234ABCD"]}, "key ids are not accepted"),
])
def test_argument_errors_fail_cleanly(tmp_path, args, msg):
    result = make_action(args, tmp_path).run(task_vars={})
    assert result["failed"] and msg in result["msg"] and result["msg"].startswith("csaf_sync: ")
    assert "exception" not in result


def test_sync_error_and_internal_error(tmp_path, monkeypatch):
    result = make_action({"source": str(tmp_path / "absent"), "dest": str(tmp_path / "m")}, tmp_path).run(task_vars={})
    assert result["failed"] and "does not exist" in result["msg"] and "exception" not in result

    def boom(_options):
        raise RuntimeError("kaput")

    monkeypatch.setattr(action_mod, "run_sync", boom)
    result = make_action({"source": str(tmp_path / "src"), "dest": str(tmp_path / "m")}, tmp_path).run(task_vars={})
    assert result["failed"] and "internal error (RuntimeError: kaput)" in result["msg"]
    assert "Traceback" in result["exception"] and "Traceback" not in result["msg"]


# --- real Ansible ---------------------------------------------------------------------------------
def _ansible_env():
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = os.path.join(ROOT, "ansible.cfg")
    env["ANSIBLE_COLLECTIONS_PATH"] = os.path.join(ROOT, ".cache", "collections")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["PATH"] = VENV_BIN + os.pathsep + env.get("PATH", "")
    return env


@pytest.mark.skipif(not os.path.exists(os.path.join(VENV_BIN, "ansible-playbook")), reason="no project venv")
def test_playbook_run_once_on_controller(tmp_path):
    make_tree(tmp_path / "src")
    (tmp_path / "inventory.ini").write_text(
        "[gpu]\nnode1 ansible_host=192.0.2.1\nnode2 ansible_host=192.0.2.2\n")  # unreachable: never contacted
    playbook = tmp_path / "play.yml"
    playbook.write_text("""---
- name: Sync CSAF
  hosts: gpu
  gather_facts: false
  tasks:
    - name: Plan in check mode
      aisec.gpu_host.csaf_sync:
        source: ./src
        dest: ./mirror
      check_mode: true
      run_once: true
      register: plan
    - name: Sync
      aisec.gpu_host.csaf_sync:
        source: ./src
        dest: ./mirror
        accept_crlf_hash: true
      run_once: true
      register: synced
    - name: Write results
      ansible.builtin.copy:
        content: "{{ {'plan': plan, 'synced': synced} | to_json }}"
        dest: ./results.json
        mode: "0644"
      delegate_to: localhost
      run_once: true
""")
    proc = subprocess.run(
        [os.path.join(VENV_BIN, "ansible-playbook"), "-i", "inventory.ini", "play.yml",
         "-e", "ansible_python_interpreter=%s" % sys.executable],
        cwd=str(tmp_path), env=_ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120, check=False,
    )
    out = proc.stdout.decode()
    assert proc.returncode == 0, out
    assert "[WARNING]" in out and "CRLF" in out
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["plan"]["check_mode"] is True and results["plan"]["counts"]["new"] == 2
    assert results["synced"]["counts"]["new"] == 2 and results["synced"]["changed"] is True
    assert any("CRLF" in w for w in results["synced"]["sync_warnings"])
    assert (tmp_path / "mirror" / "2024" / "5614.json").exists()


@pytest.mark.skipif(not os.path.exists(os.path.join(VENV_BIN, "ansible-doc")), reason="no project venv")
def test_ansible_doc_renders():
    proc = subprocess.run(
        [os.path.join(VENV_BIN, "ansible-doc"), "--json", "aisec.gpu_host.csaf_sync"],
        env=_ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    doc = json.loads(proc.stdout.decode())["aisec.gpu_host.csaf_sync"]
    options = doc["doc"]["options"]
    from ansible_collections.aisec.gpu_host.plugins.module_utils.csaf_sync import ARGUMENT_SPEC
    assert set(options) == set(ARGUMENT_SPEC)
    for name, spec in ARGUMENT_SPEC.items():
        assert options[name]["type"] == spec["type"], name
        assert options[name].get("default") == spec.get("default"), name
    assert doc["examples"] and doc["return"]["counts"]
