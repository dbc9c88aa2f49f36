# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the patch_report action plugin: helpers in process, the action through ``ansible localhost``."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest

from ansible.errors import AnsibleActionFail
from ansible.plugins.filter.core import to_nice_json

from ansible_collections.aisec.gpu_host.plugins.action import patch_report as action
from ansible_collections.aisec.gpu_host.plugins.modules import patch_report as module

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
ANSIBLE = os.path.join(os.path.dirname(sys.executable), "ansible")
REPORT = {"host": "gpu-1", "generated": "2025-01-02T03:04:05Z", "status": "compliant", "ümlaut": "é",
          "before": {"findings": []}}


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_argument_spec_matches_the_module_stub():
    assert action.ARGUMENT_SPEC == module.ARGUMENT_SPEC


def test_writes_the_report_like_to_nice_json(tmp_path):
    dest = tmp_path / "a" / "reports"
    paths = action.write_report(REPORT, str(dest), "gpu-1")
    assert paths == [str(dest / "gpu-1.json")]
    assert (dest / "gpu-1.json").read_text(encoding="utf-8") == to_nice_json(REPORT, sort_keys=True) + "\n"
    assert json.loads((dest / "gpu-1.json").read_text(encoding="utf-8")) == REPORT
    assert _mode(dest / "gpu-1.json") == 0o640
    assert _mode(dest) == 0o750 and _mode(tmp_path / "a") == 0o750
    assert sorted(os.listdir(str(dest))) == ["gpu-1.json"]  # no temporary file left


def test_dated_copy_and_rewrite(tmp_path):
    tmp_path.chmod(0o755)
    (tmp_path / "gpu-1.json").write_text("old")
    (tmp_path / "gpu-1.json").chmod(0o666)
    paths = action.write_report(REPORT, str(tmp_path), "gpu-1", dated_copy=True)
    assert paths == [str(tmp_path / "gpu-1.json"), str(tmp_path / "gpu-1-20250102T030405Z.json")]
    assert (tmp_path / "gpu-1.json").read_text(encoding="utf-8") == (tmp_path / "gpu-1-20250102T030405Z.json").read_text(
        encoding="utf-8")
    assert _mode(tmp_path / "gpu-1.json") == 0o640
    assert _mode(tmp_path) == 0o750  # an existing directory gets mode 0750, as ansible.builtin.file did


def test_empty_dest_writes_nothing(tmp_path):
    assert action.write_report(REPORT, "", "gpu-1", dated_copy=True) == []


@pytest.mark.parametrize("dest, name, report, message", [
    ("relative/dir", "gpu-1", REPORT, "absolute"),
    ("/tmp", "a/b", REPORT, "without /"),
    ("/tmp", "..", REPORT, "without /"),
    ("/tmp", "gpu-1", {"generated": ""}, "generated"),
])
def test_refuses_bad_input(dest, name, report, message):
    with pytest.raises(AnsibleActionFail, match=message):
        action.write_report(report, dest, name, dated_copy=True)


def test_a_file_in_the_way_of_the_directory(tmp_path):
    (tmp_path / "reports").write_text("x")
    with pytest.raises((AnsibleActionFail, OSError)):
        action.write_report(REPORT, str(tmp_path / "reports" / "sub"), "gpu-1")


def _adhoc(tmp_path, args, *extra):
    if not os.path.exists(ANSIBLE):
        pytest.skip("ansible is not installed next to the test interpreter")
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".cache", "collections"),
        "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
    })
    cmd = [ANSIBLE, "localhost", "-m", "aisec.gpu_host.patch_report", "-a", json.dumps(args),
           "-e", "ansible_python_interpreter=%s" % sys.executable] + list(extra)
    proc = subprocess.run(cmd, cwd=str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120, check=False)
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("no JSON from ansible (rc %d): %s %s" % (proc.returncode, proc.stdout, proc.stderr))
    return proc.returncode, out["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_action_writes_in_check_mode_and_reports_no_change(tmp_path):
    dest = tmp_path / "reports"
    rc, result = _adhoc(tmp_path, {"report": REPORT, "dest": str(dest), "name": "gpu-1", "dated_copy": True}, "--check")
    assert rc == 0, result
    assert result["changed"] is False
    assert result["paths"] == [str(dest / "gpu-1.json"), str(dest / "gpu-1-20250102T030405Z.json")]
    assert json.loads((dest / "gpu-1.json").read_text(encoding="utf-8")) == REPORT


def test_action_rejects_unknown_arguments(tmp_path):
    rc, result = _adhoc(tmp_path, {"report": REPORT, "name": "gpu-1", "bogus": 1})
    assert rc != 0 and result["failed"] is True
    assert "bogus" in result["msg"], result
