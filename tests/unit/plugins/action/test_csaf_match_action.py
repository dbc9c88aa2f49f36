# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the csaf_match action plugin: file helpers in process, the module through ``ansible localhost``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ansible_collections.aisec.gpu_host.plugins.action import csaf_match as action

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
FIXTURES = os.path.join(ROOT, "tests", "unit", "fixtures", "nvidia")
ANSIBLE = os.path.join(os.path.dirname(sys.executable), "ansible")


# ---------------------------------------------------------------------------
# Helpers, in process
# ---------------------------------------------------------------------------


def test_collect_files(tmp_path):
    (tmp_path / "2024" / "5551").mkdir(parents=True)
    (tmp_path / "2024" / "5551" / "5551.json").write_text("{}")
    (tmp_path / "2024" / "5551" / "5551.json.sha256").write_text("x")
    (tmp_path / "2024" / "5551" / "5551.md").write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.json").write_text("{}")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "B.JSON").write_text("{}")
    os.symlink(str(tmp_path / "other"), str(tmp_path / "linked"))
    single = tmp_path / "other" / "B.JSON"
    files, problems = action.collect_files([str(tmp_path), str(single), str(tmp_path / "missing")])
    assert [os.path.relpath(f, str(tmp_path)) for f in files] == [os.path.join("2024", "5551", "5551.json"),
                                                                  os.path.join("other", "B.JSON")]
    assert problems == ["documents: %s is neither a file nor a directory" % (tmp_path / "missing")]


def test_load_documents(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"document": {"title": "x"}}))
    cve = tmp_path / "CVE-2024-0001.json"
    cve.write_text(json.dumps({"dataType": "CVE_RECORD"}))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"document": {"title": "x" * 200}}))
    docs, rejected, skipped = action.load_documents([str(good), str(cve), str(bad), str(big), str(tmp_path / "gone.json")],
                                                    max_size=150)
    assert [d[0] for d in docs] == [str(good)]
    assert skipped == 1
    assert [r["source"] for r in rejected] == [str(bad), str(big), str(tmp_path / "gone.json")]
    assert all(r["reasons"] for r in rejected)
    assert rejected[-1]["reasons"][0].startswith("cannot read")


def test_numeric_versions():
    assert action.numeric_versions([{"name": "x", "version": 1.1}, {"name": "y", "version": "1.10"}, "z"]) == [
        "components[0].version 1.1 is a number, not a string: quote it in YAML (1.10 would otherwise become 1.1)"]
    assert action.numeric_versions([{"version": True}]) == []
    assert action.numeric_versions("x") == []


def test_parse_inline_list():
    assert action.parse_inline_list('[{"name": "dynamo", "version": "0.4.0"}]') == [{"name": "dynamo", "version": "0.4.0"}]
    assert action.parse_inline_list("[{name: dynamo, version: '0.4.0'}]") == [{"name": "dynamo", "version": "0.4.0"}]
    assert action.parse_inline_list([{"name": "x"}]) == [{"name": "x"}]
    assert action.parse_inline_list("name=x") == "name=x"
    with pytest.raises(Exception, match="cannot parse"):
        action.parse_inline_list("[{name: [}")


# ---------------------------------------------------------------------------
# ansible localhost -m aisec.gpu_host.csaf_match
# ---------------------------------------------------------------------------


def ansible_adhoc(args, tmp_path, check=False, cwd=None):
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
    cmd = [ANSIBLE, "localhost", "-m", "aisec.gpu_host.csaf_match", "-a", args,
           "-e", "ansible_python_interpreter=%s" % sys.executable]
    if check:
        cmd.append("--check")
    proc = subprocess.run(cmd, cwd=cwd or str(tmp_path), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120, check=False)
    try:
        out = json.loads(proc.stdout)
    except ValueError:
        raise AssertionError("no JSON from ansible (rc %d): %s %s" % (proc.returncode, proc.stdout, proc.stderr))
    return proc.returncode, out["plays"][0]["tasks"][0]["hosts"]["localhost"]


def test_adhoc_match_in_check_mode(tmp_path):
    args = json.dumps({
        "documents": [FIXTURES],
        "components": [
            {"name": "nvidia_driver", "family": "datacenter", "version": "535.161.08"},
            {"name": "nvidia_container_toolkit", "version": "1.17.8"},
        ],
    })
    rc, res = ansible_adhoc(args, tmp_path, check=True)
    assert rc == 0, res
    assert res["changed"] is False and not res.get("failed")
    docs = res["documents"]
    assert (docs["files"], docs["loaded"], docs["skipped"]) == (38, 19, 19)
    assert docs["rejected"] == []  # 5817's date-only timestamp: accepted as a known publisher defect
    dc = res["summary"]["nvidia_driver:datacenter"]
    assert dc["required_version"] == "535.309.01"
    assert dc["findings"][0] == "5551"
    first = [f for f in res["findings"] if f["tracking_id"] == "5551"][0]
    assert first["fixed_version"] == "535.183.01"
    assert first["url"] == "https://nvidia.custhelp.com/app/answers/detail/a_id/5551"
    assert res["summary"]["nvidia_container_toolkit"]["findings"] == ["5850"]
    assert "5659" in res["summary"]["nvidia_container_toolkit"]["not_affected"]
    assert res["not_understood"][0]["text"] == "GB300 0.8 dev drop"
    assert res["msg"].startswith("9 finding(s) for 2 component(s) from 19 CSAF document(s)")


def test_adhoc_key_value_form_and_relative_path(tmp_path):
    args = ('documents=nvidia components=[{"name":"nvidia_container_toolkit","version":"1.16.1"}] '
            'schema=false')
    rc, res = ansible_adhoc(args, tmp_path, cwd=os.path.dirname(FIXTURES))
    assert rc == 0, res
    assert res["documents"]["loaded"] == 19  # the schema-invalid 5817 passes the mandatory tests
    fixed = {f["tracking_id"]: f["fixed_version"] for f in res["findings"]}
    assert fixed["5582"] == "1.16.2"


def test_adhoc_errors_are_clear(tmp_path):
    rc, res = ansible_adhoc(json.dumps({"documents": [FIXTURES],
                                        "components": [{"name": "nvidia-driver", "version": "535.1"}]}), tmp_path)
    assert rc != 0 and res["failed"] is True
    assert "value of name must be one of: nvidia_driver, nvidia_container_toolkit" in res["msg"]
    rc, res = ansible_adhoc(json.dumps({"documents": [FIXTURES],
                                        "components": [{"name": "nvidia_container_toolkit", "version": 1.10}]}),
                            tmp_path)
    assert rc != 0 and "quote it in YAML" in res["msg"]
    rc, res = ansible_adhoc(json.dumps({"documents": [str(tmp_path / "missing")],
                                        "components": [{"name": "nvidia_driver", "version": "535.1"}]}), tmp_path)
    assert rc != 0 and "neither a file nor a directory" in res["msg"]
    assert "Traceback" not in json.dumps(res)


def test_mirror_rejections(tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "index.json").write_text(json.dumps({"format": "aisec.gpu_host.csaf_sync/1", "rejected": [
        {"source": "2024/5586/5586.json", "tracking_id": "5586", "reasons": ["sha256 mismatch"],
         "components": ["nvidia_driver"], "kept_previous": True},
        {"source": "2024/x/x.json", "reason": "cannot open", "components": None}]}))
    old = tmp_path / "old"
    old.mkdir()
    (old / "index.json").write_text(json.dumps({"format": "aisec.gpu_host.csaf_sync/1", "documents": {}}))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "index.json").write_text("{nope")
    other = tmp_path / "other"
    other.mkdir()
    (other / "index.json").write_text(json.dumps({"format": "something else"}))
    out, warnings = action.mirror_rejections([str(mirror), str(old), str(broken), str(other), str(tmp_path / "x")])
    expected = [("5586", ["nvidia_driver"]), (None, None), (None, None)]
    assert [(r["tracking_id"], r["components"]) for r in out] == expected
    assert "previously verified" in out[0]["reasons"][0] and out[0]["reasons"][0].startswith("rejected by csaf_sync")
    assert "cannot be read" in out[2]["reasons"][0]
    assert len(warnings) == 1 and "older csaf_sync" in warnings[0]


def test_summary_message_names_undecided_components():
    report = {"findings": [], "documents": {"loaded": 2, "rejected": [{"source": "x"}]},
              "outside_vocabulary": {"products": 4, "documents": 1},
              "summary": {"nemo_framework": {"status": "undecided", "undecided": ["5641"],
                                             "undecided_reasons": ["5641: a", "5623: b"]},
                          "cuda_toolkit": {"status": "not_affected", "undecided": []}}}
    msg = action.summary_message(report)
    assert msg.startswith("0 finding(s) for 2 component(s) from 2 CSAF document(s); UNDECIDED")
    assert "nemo_framework: 5641: a (+1 more)" in msg and "1 document(s) could not be used" in msg
    assert "4 product(s) of 1 document(s) outside the component vocabulary" in msg


def test_adhoc_mirror_with_sync_rejections(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "2024").mkdir(parents=True)
    with open(os.path.join(FIXTURES, "2024", "5586", "5586.json"), "rb") as fh:
        (mirror / "2024" / "5586.json").write_bytes(fh.read())
    (mirror / "index.json").write_text(json.dumps({"format": "aisec.gpu_host.csaf_sync/1", "rejected": [
        {"source": "2025/5703/5703.json", "tracking_id": "5703", "reasons": ["sha256 mismatch (CRLF)"],
         "components": ["nvidia_driver"]}]}))
    rc, res = ansible_adhoc(json.dumps({"documents": [str(mirror)], "validate": False, "components": [
        {"name": "nvidia_driver", "family": "datacenter", "version": "535.216.01"},
        {"name": "nvidia_container_toolkit", "version": "1.17.8"}]}), tmp_path)
    assert rc == 0, res
    dc = res["summary"]["nvidia_driver:datacenter"]
    assert dc["status"] == "undecided" and dc["not_affected"] == ["5586"] and dc["undecided"] == ["5703"]
    assert res["summary"]["nvidia_container_toolkit"]["status"] == "not_covered"
    assert "UNDECIDED" in res["msg"] and "nvidia_driver:datacenter: 5703: the document could not be used" in res["msg"]
