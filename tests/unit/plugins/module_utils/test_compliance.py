# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for plugins/module_utils/compliance.py (report building for compliance_report)."""

from __future__ import annotations

import itertools
import json
import os
import re
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.aisec.gpu_host.plugins.module_utils import compliance as c

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

RUN = {
    "playbook": "/srv/site.yml",
    "playbooks": ["/srv/site.yml"],
    "check_mode": True,
    "diff_mode": False,
    "started": "2026-01-01T00:00:00Z",
    "finished": "2026-01-01T00:00:05Z",
    "duration_s": 5.0,
    "limit": None,
    "tags": [],
    "skip_tags": [],
    "ansible_version": "2.19.14",
    "collection_version": "0.1.0",
    "output_dir": "/tmp/out",
    "output_dir_source": "option",
}


def add(collector, host="h1", tags=("AISEC-NET-01",), outcome="ok", task_id="t1", name="task", **kwargs):
    return collector.add_result(host=host, tags=list(tags), outcome=outcome, task_id=task_id, name=name, **kwargs)


def sample_collector():
    """Two hosts covering every status, a handler, a loop, no_log and an unreachable host."""
    col = c.ComplianceCollector({"AISEC-NET-01": "Firewall", "AISEC-LOG-01": "Logging <central>"})
    # h1: NET-01 drift (pass + drift), LOG-01 n/a, ACCESS-03 failed (ignored, no_log), DATA-02 fixed
    add(col, "h1", ("AISEC-NET-01", "firewall"), "ok", "t1", "probe", role="firewall", action="ansible.builtin.stat",
        check_mode=True, duration=0.5)
    add(col, "h1", ("AISEC-NET-01",), "ok", "t2", "rules", role="firewall", action="ansible.builtin.template",
        changed=True, check_mode=True, diff=True, duration=1.25)
    add(col, "h1", ("AISEC-LOG-01",), "skipped", "t3", "ship logs")
    add(col, "h1", ("AISEC-ACCESS-03",), "failed", "t4", "sudoers", ignored=True, no_log=True,
        message="password=hunter2")
    add(col, "h1", ("AISEC-DATA-02",), "ok", "t5", "perms", changed=True, check_mode=False, items=3)
    add(col, "h1", ("AISEC-DATA-02",), "ok", "t6", "reload", handler=True)
    # h2: unreachable on NET-01
    add(col, "h2", ("AISEC-NET-01",), "unreachable", "t1", "probe", message="ssh: connection refused")
    return col


# ------------------------------------------------------------------------------ classification


@pytest.mark.parametrize(
    "tags, expected",
    [
        (None, []),
        ([], []),
        ("AISEC-NET-01", ["AISEC-NET-01"]),
        (["firewall", "AISEC-NET-02", "AISEC-NET-01", "AISEC-NET-01"], ["AISEC-NET-01", "AISEC-NET-02"]),
        ([" AISEC-BASE-01 ", 7, None, "always"], ["AISEC-BASE-01"]),
        (("AISEC-NET-1", "AISEC-NET-001", "aisec-net-01", "XAISEC-NET-01", "AISEC-NET-01x", "AISEC-N3T-01"), []),
        ({"AISEC-HARDEN-02", "AISEC-ORG-07"}, ["AISEC-HARDEN-02", "AISEC-ORG-07"]),
    ],
)
def test_control_ids(tags, expected):
    assert c.control_ids(tags) == expected


@pytest.mark.parametrize(
    "outcome, changed, check_mode, expected",
    [
        ("ok", False, False, c.PASS),
        ("ok", False, True, c.PASS),
        ("ok", True, True, c.DRIFT),
        ("ok", True, False, c.FIXED),
        ("failed", False, False, c.FAILED),
        ("failed", True, True, c.FAILED),
        ("unreachable", False, False, c.FAILED),
        ("skipped", False, True, c.NOT_APPLICABLE),
    ],
)
def test_task_status(outcome, changed, check_mode, expected):
    assert c.task_status(outcome, changed, check_mode) == expected


def test_task_status_rejects_unknown_outcome():
    with pytest.raises(c.ComplianceError, match="unknown task outcome 'rescued'"):
        c.task_status("rescued")


def test_worst_status_order_is_total():
    order = [c.NOT_APPLICABLE, c.PASS, c.FIXED, c.DRIFT, c.FAILED]
    assert c.worst_status([]) == c.NOT_APPLICABLE
    for left, right in itertools.product(order, repeat=2):
        assert c.worst_status([left, right]) == order[max(order.index(left), order.index(right))]
    assert c.worst_status(iter([c.PASS, c.FIXED, c.PASS])) == c.FIXED


def test_worst_status_rejects_unknown():
    with pytest.raises(c.ComplianceError, match="unknown status 'ok'"):
        c.worst_status([c.PASS, "ok"])


@pytest.mark.parametrize(
    "action, expected",
    [
        ("include_role", True),
        ("ansible.builtin.import_tasks", True),
        ("ansible.legacy.include_tasks", True),
        ("meta", True),
        ("ansible.builtin.include_vars", False),
        ("ansible.builtin.copy", False),
        (None, False),
    ],
)
def test_is_structural_action(action, expected):
    assert c.is_structural_action(action) is expected


@pytest.mark.parametrize(
    "message, no_log, expected",
    [
        (None, False, None),
        (None, True, c.NO_LOG_MESSAGE),
        ("secret=1", True, c.NO_LOG_MESSAGE),
        ("  plain  ", False, "plain"),
        ("bell\x07 and\x00 nul", False, "bell and nul"),
        ({"b": 1, "a": [2]}, False, '{"a": [2], "b": 1}'),
        (42, False, "42"),
    ],
)
def test_sanitize_message(message, no_log, expected):
    assert c.sanitize_message(message, no_log) == expected


def test_sanitize_message_truncates():
    text = c.sanitize_message("x" * 5000)
    assert len(text) == c.MAX_MESSAGE_LENGTH and text.endswith("...")
    assert c.sanitize_message("abcdef", limit=5) == "ab..."


# ------------------------------------------------------------------------------ metadata


def test_parse_control_descriptions_sample():
    text = "\n".join([
        "# Controls",
        "| Control id | Guidance | CPG |",
        "|---|---|---|",
        "| AISEC-NET-01 | Protect the **boundary** with `nftables` | 2.F |",
        "| `AISEC-NET-02` | Egress allow list | 2.F |",
        "| AISEC-NET-01 | duplicate row ignored | |",
        "| AISEC-BAD-1 | not an id | |",
        "AISEC-LOG-01 | no leading pipe |",
        "| text | AISEC-LOG-02 | id not in first column |",
    ])
    assert c.parse_control_descriptions(text) == {
        "AISEC-NET-01": "Protect the boundary with nftables",
        "AISEC-NET-02": "Egress allow list",
    }
    assert c.parse_control_descriptions(None) == {}
    assert c.parse_control_descriptions("") == {}


def test_parse_control_descriptions_real_file():
    path = os.path.join(ROOT, "docs", "controls.md")
    if not os.path.exists(path):
        pytest.skip("docs/controls.md is not present in this checkout")
    with open(path, encoding="utf-8") as handle:
        descriptions = c.parse_control_descriptions(handle.read())
    assert len(descriptions) >= 20
    assert all(c.CONTROL_ID_RE.match(k) for k in descriptions)
    assert all(v and "|" not in v for v in descriptions.values())
    assert descriptions.get("AISEC-NET-01", "").startswith("Protect the boundary")


@pytest.mark.parametrize(
    "text, expected",
    [
        ('{"collection_info": {"namespace": "aisec", "version": "1.2.3"}}', "1.2.3"),
        ('{"collection_info": {"version": ""}}', None),
        ('{"collection_info": []}', None),
        ("[1, 2]", None),
        ("not json", None),
        (None, None),
    ],
)
def test_collection_version_from_manifest(text, expected):
    assert c.collection_version_from_manifest(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("---\nnamespace: aisec\nversion: 0.1.0\n", "0.1.0"),
        ("version: '2.0.0-rc.1'  # quoted\n", "2.0.0-rc.1"),
        ('version: "3.1.4"\n', "3.1.4"),
        ("dependencies:\n  version: 9.9.9\n", None),
        ("", None),
        (None, None),
    ],
)
def test_collection_version_from_galaxy(text, expected):
    assert c.collection_version_from_galaxy(text) == expected


@pytest.mark.parametrize(
    "option, environ, expected, source",
    [
        ("/abs/reports", {"AWX_ISOLATED_DATA_DIR": "/pdd/artifacts/1"}, "/abs/reports", "option"),
        ("rel/reports", {}, "/work/rel/reports", "option"),
        ("rel/../reports/", {}, "/work/reports", "option"),
        (None, {"AWX_ISOLATED_DATA_DIR": "/pdd/artifacts/42"}, "/pdd/artifacts/42/compliance-report", "ansible-runner"),
        ("", {"AWX_ISOLATED_DATA_DIR": ""}, "/work/compliance-report", "default"),
        (None, {}, "/work/compliance-report", "default"),
        (None, None, "/work/compliance-report", "default"),
    ],
)
def test_resolve_output_dir(option, environ, expected, source):
    assert c.resolve_output_dir(option, environ, "/work") == (expected, source)


def test_resolve_output_dir_expands_user(monkeypatch):
    monkeypatch.setenv("HOME", "/home/auditor")
    assert c.resolve_output_dir("~/audit", {}, "/work") == ("/home/auditor/audit", "option")


# ------------------------------------------------------------------------------ collector


def test_collector_records_per_host_and_control():
    col = sample_collector()
    data = col.host_data()
    assert list(data) == ["h1", "h2"]
    h1 = data["h1"]["controls"]
    assert {k: v["status"] for k, v in h1.items()} == {
        "AISEC-ACCESS-03": c.FAILED,
        "AISEC-DATA-02": c.FIXED,
        "AISEC-LOG-01": c.NOT_APPLICABLE,
        "AISEC-NET-01": c.DRIFT,
    }
    assert data["h1"]["status"] == c.FAILED
    assert h1["AISEC-NET-01"]["description"] == "Firewall"
    assert h1["AISEC-DATA-02"]["description"] is None
    assert h1["AISEC-NET-01"]["counts"] == dict(c.empty_counts(), **{c.PASS: 1, c.DRIFT: 1})
    assert h1["AISEC-NET-01"]["duration_s"] == 1.75
    drift_task = h1["AISEC-NET-01"]["tasks"][1]
    assert drift_task["diff"] is True and drift_task["role"] == "firewall" and drift_task["message"] is None
    assert h1["AISEC-DATA-02"]["tasks"][0]["items"] == 3
    assert h1["AISEC-DATA-02"]["tasks"][1]["handler"] is True
    failed = h1["AISEC-ACCESS-03"]
    assert failed["ignored_failures"] == 1
    assert failed["tasks"][0]["ignored_errors"] is True
    assert failed["tasks"][0]["message"] == c.NO_LOG_MESSAGE
    assert "hunter2" not in json.dumps(data)
    h2 = data["h2"]
    assert h2["unreachable"] is True and h2["status"] == c.FAILED
    assert h2["controls"]["AISEC-NET-01"]["unreachable"] is True
    assert h2["controls"]["AISEC-NET-01"]["tasks"][0]["message"] == "ssh: connection refused"


def test_collector_untagged_tasks_count_but_do_not_create_controls():
    col = c.ComplianceCollector()
    assert add(col, tags=("common", "always"), outcome="ok", changed=True) == c.FIXED
    add(col, tags=(), outcome="skipped", task_id="t2")
    data = col.host_data()["h1"]
    assert data["controls"] == {}
    assert data["untagged_tasks"][c.FIXED] == 1 and data["untagged_tasks"][c.NOT_APPLICABLE] == 1
    assert data["status"] == c.NOT_APPLICABLE
    add(col, tags=(), outcome="failed", task_id="t3")
    assert col.host_data()["h1"]["status"] == c.FAILED


def test_collector_multiple_controls_on_one_task():
    col = c.ComplianceCollector()
    add(col, tags=("AISEC-NET-01", "AISEC-NET-02", "firewall"), outcome="ok", changed=True)
    controls = col.host_data()["h1"]["controls"]
    assert sorted(controls) == ["AISEC-NET-01", "AISEC-NET-02"]
    assert all(v["status"] == c.FIXED for v in controls.values())


@pytest.mark.parametrize("check_mode,changed_status", [(True, c.DRIFT), (False, c.FIXED)])
def test_collector_changed_controls_narrow_a_multi_control_task(check_mode, changed_status):
    col = c.ComplianceCollector()
    tags = ("AISEC-NET-01", "AISEC-NET-04", "AISEC-NET-05", "firewall")
    status = add(col, tags=tags, outcome="ok", changed=True, diff=True, check_mode=check_mode,
                 changed_controls=["AISEC-NET-05", "AISEC-XYZ-01", "not-a-control", 7])
    assert status == changed_status
    controls = col.host_data()["h1"]["controls"]
    assert {k: v["status"] for k, v in controls.items()} == {
        "AISEC-NET-01": c.PASS, "AISEC-NET-04": c.PASS, "AISEC-NET-05": changed_status}
    assert controls["AISEC-NET-01"]["tasks"][0]["changed"] is False
    assert controls["AISEC-NET-01"]["tasks"][0]["diff"] is False
    assert controls["AISEC-NET-05"]["tasks"][0]["changed"] is True


def test_collector_changed_controls_only_narrow_changed_ok_results():
    col = c.ComplianceCollector()
    tags = ("AISEC-NET-01", "AISEC-NET-05")
    # An empty list: the module changed nothing any control owns (every control passes).
    add(col, tags=tags, outcome="ok", changed=True, changed_controls=[], task_id="a")
    # None (not reported): the whole task counts for every control.
    add(col, tags=tags, outcome="ok", changed=True, changed_controls=None, task_id="b", check_mode=True)
    add(col, tags=("AISEC-LOG-01", "AISEC-LOG-02"), outcome="failed", changed_controls=["AISEC-LOG-01"], task_id="c")
    controls = col.host_data()["h1"]["controls"]
    assert [t["status"] for t in controls["AISEC-NET-01"]["tasks"]] == [c.PASS, c.DRIFT]
    assert controls["AISEC-LOG-02"]["status"] == c.FAILED


def test_collector_ignores_ok_of_structural_tasks_but_not_skips():
    col = c.ComplianceCollector()
    assert add(col, tags=("AISEC-LOG-01",), outcome="ok", action="ansible.builtin.include_role") is None
    assert "h1" not in col.hosts
    add(col, tags=("AISEC-LOG-01",), outcome="skipped", task_id="inc", action="ansible.builtin.include_role")
    add(col, tags=("AISEC-LOG-02",), outcome="failed", task_id="inc2", action="include_tasks", message="no file")
    controls = col.host_data()["h1"]["controls"]
    assert controls["AISEC-LOG-01"]["status"] == c.NOT_APPLICABLE
    assert controls["AISEC-LOG-02"]["status"] == c.FAILED


def test_collector_merges_repeated_task():
    col = c.ComplianceCollector()
    add(col, outcome="ok", duration=1.0, items=2)
    add(col, outcome="failed", duration=0.5, items=1, message="boom")
    add(col, outcome="ok", changed=True, diff=True, duration=None)
    task = col.host_data()["h1"]["controls"]["AISEC-NET-01"]["tasks"]
    assert len(task) == 1
    task = task[0]
    assert task["status"] == c.FAILED and task["runs"] == 3 and task["items"] == 3
    assert task["changed"] is True and task["diff"] is True
    assert task["message"] == "boom" and task["duration_s"] == 1.5


def test_collector_flags_and_default_messages():
    col = c.ComplianceCollector()
    add(col, outcome="ok", task_id="a", ignored=True)
    add(col, outcome="failed", task_id="b")
    add(col, outcome="unreachable", task_id="c")
    tasks = col.host_data()["h1"]["controls"]["AISEC-NET-01"]["tasks"]
    assert tasks[0]["ignored_errors"] is False  # only failures are flagged
    assert tasks[1]["message"] == "task failed"
    assert tasks[2]["message"] == "host unreachable" and tasks[2]["unreachable"] is True


@pytest.mark.parametrize("host", ["", None, 3])
def test_collector_rejects_bad_host(host):
    with pytest.raises(c.ComplianceError, match="host must be a non-empty string"):
        add(c.ComplianceCollector(), host=host)


def test_collector_host_stats():
    col = c.ComplianceCollector()
    col.set_host_stats("h9", {"ok": 3, "changed": 1, "failures": 0, "bogus": "x"})
    col.set_host_stats("h8", None)
    data = col.host_data()
    assert data["h9"]["stats"] == {"ok": 3, "changed": 1, "failures": 0}
    assert data["h9"]["controls"] == {} and data["h9"]["status"] == c.NOT_APPLICABLE
    assert data["h8"]["stats"] == {}


# ------------------------------------------------------------------------------ report


@pytest.fixture(name="report")
def fixture_report():
    return c.build_report(sample_collector(), RUN)


def test_report_matches_schema(report):
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(c.REPORT_SCHEMA)
    jsonschema.Draft202012Validator(c.REPORT_SCHEMA).validate(json.loads(c.render_json(report)))


def test_schema_rejects_bad_reports(report):
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(c.REPORT_SCHEMA)
    bad = json.loads(c.render_json(report))
    bad["hosts"]["h1"]["controls"]["AISEC-NET-01"]["status"] = "ok"
    assert not validator.is_valid(bad)
    bad = json.loads(c.render_json(report))
    bad["summary"]["not-a-control"] = bad["summary"]["AISEC-NET-01"]
    assert not validator.is_valid(bad)
    bad = json.loads(c.render_json(report))
    bad["hosts"]["h1"]["controls"]["AISEC-NET-01"]["tasks"][0]["result"] = {"stdout": "payload"}
    assert not validator.is_valid(bad)


def test_report_totals_and_summary(report):
    totals = report["totals"]
    assert totals["hosts"] == 2
    assert totals["control_ids"] == 4
    assert totals["controls"] == {c.PASS: 0, c.DRIFT: 1, c.FIXED: 1, c.FAILED: 2, c.NOT_APPLICABLE: 1}
    assert totals["tasks"] == {c.PASS: 2, c.DRIFT: 1, c.FIXED: 1, c.FAILED: 2, c.NOT_APPLICABLE: 1}
    assert totals["hosts_by_status"][c.FAILED] == 2
    assert totals["ignored_failures"] == 1
    assert totals["unreachable_hosts"] == 1
    assert totals["compliant"] is False
    assert list(report["summary"]) == sorted(report["summary"])
    net = report["summary"]["AISEC-NET-01"]
    assert net[c.DRIFT] == 1 and net[c.FAILED] == 1 and net["hosts"] == 2 and net["description"] == "Firewall"
    # summary and totals agree
    for status in c.STATUSES:
        assert sum(row[status] for row in report["summary"].values()) == totals["controls"][status]
    assert report["schema_version"] == c.SCHEMA_VERSION and report["run"] == RUN


def test_report_compliant_when_only_pass_fixed_na():
    col = c.ComplianceCollector()
    add(col, outcome="ok", changed=True)
    add(col, tags=("AISEC-LOG-01",), outcome="skipped", task_id="t2")
    assert c.build_report(col, RUN)["totals"]["compliant"] is True
    add(col, host="h2", outcome="ok", changed=True, check_mode=True)
    assert c.build_report(col, RUN)["totals"]["compliant"] is False


def test_report_empty_run():
    report = c.build_report(c.ComplianceCollector(), RUN)
    assert report["hosts"] == {} and report["summary"] == {}
    assert report["totals"]["compliant"] is True
    ET.fromstring(c.render_junit(report).encode("utf-8"))
    assert "No task carried a control id tag" in c.render_html(report)
    assert c.render_summary_table(report).splitlines()[-1].split("|")[0].strip() == "total"


def test_build_report_rejects_bad_run():
    with pytest.raises(c.ComplianceError, match="run metadata must be a mapping"):
        c.build_report(c.ComplianceCollector(), None)


def test_render_json_round_trip(report):
    text = c.render_json(report)
    assert text.endswith("\n")
    assert json.loads(text) == json.loads(json.dumps(report))


# ------------------------------------------------------------------------------ junit


def test_junit_counts_match_json(report):
    root = ET.fromstring(c.render_junit(report).encode("utf-8"))
    expected = c.junit_counts(report)
    assert root.tag == "testsuites"
    for key in ("tests", "failures", "errors", "skipped"):
        assert int(root.get(key)) == expected[key]
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == expected["tests"]
    assert len(root.findall("./testsuite/testcase/failure")) == expected["failures"]
    assert len(root.findall("./testsuite/testcase/skipped")) == expected["skipped"]
    assert len(root.findall("./testsuite/testcase/error")) == expected["errors"]
    for suite in root.findall("testsuite"):
        host = report["hosts"][suite.get("name")]
        statuses = [v["status"] for v in host["controls"].values()]
        assert int(suite.get("failures")) == statuses.count(c.FAILED) + statuses.count(c.DRIFT)
        assert int(suite.get("skipped")) == statuses.count(c.NOT_APPLICABLE)
        assert int(suite.get("tests")) == len(suite.findall("testcase"))


def test_junit_failure_types(report):
    root = ET.fromstring(c.render_junit(report).encode("utf-8"))
    h1 = {case.get("name"): case for case in root.find("testsuite[@name='h1']")}
    assert h1["AISEC-NET-01"].find("failure").get("type") == "drift"
    assert "rules" in h1["AISEC-NET-01"].find("failure").get("message")
    assert h1["AISEC-ACCESS-03"].find("failure").get("type") == "failed"
    assert h1["AISEC-LOG-01"].find("skipped") is not None
    assert h1["AISEC-DATA-02"].find("failure") is None and h1["AISEC-DATA-02"].find("skipped") is None
    assert "check_mode: false" in h1["AISEC-DATA-02"].find("system-out").text  # differs from the run's mode
    assert "hunter2" not in c.render_junit(report)
    h2 = {case.get("name"): case for case in root.find("testsuite[@name='h2']")}
    assert h2["unreachable"].find("error").get("type") == "unreachable"
    assert h2["AISEC-NET-01"].get("classname") == "h2"


def test_junit_escapes_and_strips_invalid_characters():
    col = c.ComplianceCollector()
    add(col, host='web&"1"<x>', name="bad \x01 name <&>", outcome="failed", message='quote " <tag> \x1b[31m')
    text = c.render_junit(c.build_report(col, RUN))
    root = ET.fromstring(text.encode("utf-8"))
    suite = root.find("testsuite")
    assert suite.get("name") == 'web&"1"<x>'
    failure = suite.find("testcase/failure")
    assert failure.get("message") == '1 task(s) failed: quote " <tag> [31m'
    assert "bad  name <&>" in failure.text


# ------------------------------------------------------------------------------ html


def test_html_is_self_contained_and_escaped(report):
    col = sample_collector()
    add(col, host="h3<script>", name="<script>alert(1)</script>", outcome="failed",
        message='<img src=x onerror="alert(1)">')
    page = c.render_html(c.build_report(col, RUN))
    assert page.startswith("<!DOCTYPE html>")
    tags = re.findall(r"<\s*([a-zA-Z0-9!]+)([^>]*)>", page)
    names = {name.lower() for name, _attrs in tags}
    assert not names & {"script", "img", "link", "iframe", "object", "embed", "base", "form"}, names
    assert not [attrs for _name, attrs in tags if re.search(r"\b(src|href|on[a-z]+)\s*=", attrs, re.I)]
    lowered = page.lower()
    for forbidden in ("@import", "url(", "http://", "https://"):
        assert forbidden not in lowered, forbidden
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Logging &lt;central&gt;" in page
    assert "hunter2" not in page
    for status in c.STATUSES:
        assert 'class="badge s-%s"' % status in page
    assert "not compliant" in page


def test_html_host_sections(report):
    page = c.render_html(report)
    assert page.count('<section id="host-') == 2
    assert "unreachable" in page
    assert re.search(r"<dt>Check mode</dt><dd>yes</dd>", page)


# ------------------------------------------------------------------------------ summary table


def test_summary_table(report):
    lines = c.render_summary_table(report).splitlines()
    assert [cell.strip() for cell in lines[0].split("|")] == ["control id", "pass", "drift", "fixed", "failed", "n/a"]
    rows = {line.split("|")[0].strip(): [int(x) for x in line.split("|")[1:]] for line in lines if "|" in line and "AISEC" in line}
    assert rows["AISEC-NET-01"] == [0, 1, 0, 1, 0]
    assert rows["AISEC-LOG-01"] == [0, 0, 0, 0, 1]
    total = [int(x) for x in lines[-1].split("|")[1:]]
    assert total == [report["totals"]["controls"][s] for s in (c.PASS, c.DRIFT, c.FIXED, c.FAILED, c.NOT_APPLICABLE)]
    assert len({len(line) for line in lines if "|" in line}) == 1  # columns aligned


# --------------------------------------------------------------------------------------------
# Excluded tasks, drift per host, snapshot metadata


@pytest.mark.parametrize(
    "tags, expected",
    [
        (["always", c.EXCLUDE_TAG], True),
        ([" %s " % c.EXCLUDE_TAG], True),
        (c.EXCLUDE_TAG, True),
        (["AISEC-NET-01", "aisec_report_excluded"], False),
        (None, False),
        ([1, None], False),
    ],
)
def test_is_excluded(tags, expected):
    assert c.is_excluded(tags) is expected


def test_collector_ignores_excluded_tasks():
    col = c.ComplianceCollector()
    assert add(col, "h1", ("AISEC-DETECT-01", c.EXCLUDE_TAG), "failed", "gate", "gate") is None
    assert add(col, "localhost", ("always", c.EXCLUDE_TAG), "ok", "gate2", "gate") is None
    assert col.hosts == []
    add(col, "h1", ("AISEC-NET-01",), "ok", "t1")
    data = col.host_data()
    assert list(data) == ["h1"] and list(data["h1"]["controls"]) == ["AISEC-NET-01"]
    assert data["h1"]["status"] == c.PASS


def test_drift_by_host(report):
    assert c.drift_by_host(report) == {
        "h1": {"drift": ["AISEC-NET-01"], "failed": ["AISEC-ACCESS-03"], "unreachable": False},
        "h2": {"drift": [], "failed": ["AISEC-NET-01"], "unreachable": True},
    }
    assert c.render_drift_lines(report) == [
        "h1: drift: AISEC-NET-01; failed: AISEC-ACCESS-03",
        "h2: failed: AISEC-NET-01; unreachable",
    ]


def test_drift_by_host_skips_compliant_hosts_and_names_untagged_failures():
    col = c.ComplianceCollector()
    add(col, "ok-host", ("AISEC-NET-01",), "ok", "t1", changed=True, check_mode=False)  # fixed
    add(col, "bad-host", ("AISEC-NET-01",), "ok", "t1")
    add(col, "bad-host", (), "failed", "t2", "untagged failure")
    report = c.build_report(col, dict(RUN))
    assert c.drift_by_host(report) == {"bad-host": {"drift": [], "failed": [], "unreachable": False}}
    assert c.render_drift_lines(report) == ["bad-host: failed outside any control"]
    assert c.render_drift_lines(c.build_report(c.ComplianceCollector(), dict(RUN))) == []


def test_schema_accepts_snapshot_metadata():
    jsonschema = pytest.importorskip("jsonschema")
    run = dict(RUN, id="0123456789abcdef0123456789abcdef", final=False, finished=None, updated="2026-01-01T00:00:03Z")
    report = c.build_report(sample_collector(), run)
    jsonschema.Draft202012Validator(c.REPORT_SCHEMA).validate(report)
    bad = json.loads(json.dumps(report))
    bad["run"]["final"] = "no"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(c.REPORT_SCHEMA).validate(bad)
