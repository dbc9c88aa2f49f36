# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for the aisec.gpu_host.compliance_report callback.

The helpers are tested in-process; the callback itself is exercised end to end by running
ansible-playbook (and ansible-runner) on tests/integration/compliance_report/ against two local
hosts: check mode on a fresh directory (drift), normal mode (fixed), a re-run (pass).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
import yaml

from ansible_collections.aisec.gpu_host.plugins.callback import compliance_report as cb
from ansible_collections.aisec.gpu_host.plugins.module_utils import compliance as c
from png_check import png_size_and_colours as _png_size_and_colours

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
FIXTURE = os.path.join(ROOT, "tests", "integration", "compliance_report")
PLAYBOOK = os.path.join(FIXTURE, "playbook.yml")
INVENTORY = os.path.join(FIXTURE, "hosts.yml")
ARTIFACTS = os.path.join(ROOT, "tests", "output", "artifacts")
VENV_BIN = os.path.dirname(sys.executable)
ANSIBLE_PLAYBOOK = os.path.join(VENV_BIN, "ansible-playbook")
CALLBACK = "aisec.gpu_host.compliance_report"
SECRET = "do-not-write-me"  # compliance_fixture_secret in the fixture playbook, only used under no_log
HOSTS = ["gpu-node-1", "gpu-node-2"]

needs_ansible = pytest.mark.skipif(not os.path.exists(ANSIBLE_PLAYBOOK), reason="ansible-playbook not next to the test python")


# ------------------------------------------------------------------------------ plugin docs and helpers


def test_documentation_is_valid_yaml():
    doc = yaml.safe_load(cb.DOCUMENTATION)
    assert doc["name"] == "compliance_report" and doc["type"] == "aggregate"
    assert set(doc["options"]) == {"output_dir", "formats", "summary"}
    assert doc["options"]["output_dir"]["env"] == [{"name": "AISEC_COMPLIANCE_DIR"}]
    assert doc["options"]["output_dir"]["ini"] == [{"section": "aisec_compliance", "key": "output_dir"}]
    assert doc["options"]["formats"]["default"] == ["json", "junit", "html"]
    examples = yaml.safe_load(cb.EXAMPLES)
    assert examples[0]["tasks"][1]["ansible.builtin.assert"]["that"]
    assert cb.CallbackModule.CALLBACK_TYPE == "aggregate"
    assert cb.CallbackModule.CALLBACK_NEEDS_ENABLED is True


def test_collection_version(tmp_path):
    assert cb.collection_version(str(tmp_path)) is None
    (tmp_path / "galaxy.yml").write_text("namespace: aisec\nversion: 0.4.2\n", encoding="utf-8")
    assert cb.collection_version(str(tmp_path)) == "0.4.2"
    (tmp_path / "MANIFEST.json").write_text('{"collection_info": {"version": "1.0.0"}}', encoding="utf-8")
    assert cb.collection_version(str(tmp_path)) == "1.0.0"
    (tmp_path / "MANIFEST.json").write_bytes(b"\xff\xfe broken")
    assert cb.collection_version(str(tmp_path)) == "0.4.2"
    galaxy = os.path.join(ROOT, "galaxy.yml")
    if os.path.exists(galaxy):
        with open(galaxy, encoding="utf-8") as handle:
            assert cb.collection_version() == c.collection_version_from_galaxy(handle.read())


def test_control_descriptions_tolerates_absence(tmp_path):
    assert cb.control_descriptions(str(tmp_path)) == {}
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "controls.md").write_text("| AISEC-NET-01 | Firewall | 2.F |\n", encoding="utf-8")
    assert cb.control_descriptions(str(tmp_path)) == {"AISEC-NET-01": "Firewall"}


def test_write_atomic(tmp_path):
    path = cb.write_atomic(str(tmp_path), "report.json", "one")
    assert open(path, encoding="utf-8").read() == "one"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    cb.write_atomic(str(tmp_path), "report.json", "two")
    assert open(path, encoding="utf-8").read() == "two"
    assert sorted(os.listdir(tmp_path)) == ["report.json"]  # no temporary files left
    with pytest.raises(OSError):
        cb.write_atomic(str(tmp_path / "missing"), "report.json", "x")


@pytest.mark.parametrize(
    "result, expected",
    [
        ({"msg": "boom"}, "boom"),
        ({}, None),
        ({"msg": "One or more items failed", "results": [{"failed": False, "msg": "fine"}, {"failed": True, "msg": "item 2 broke"}]},
         "One or more items failed (first failed item: item 2 broke)"),
        ({"results": [{"failed": True, "msg": "only item"}]}, "only item"),
        ({"msg": "One or more items failed", "results": [{"failed": True, "censored": "hidden"}]}, "One or more items failed"),
        ({"msg": "x", "results": "not a list"}, "x"),
    ],
)
def test_failure_message(result, expected):
    assert cb._failure_message(result) == expected  # pylint: disable=protected-access


# ------------------------------------------------------------------------------ end to end


def ansible_env(tmp, **extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AISEC_COMPLIANCE_", "ANSIBLE_")) and k != "AWX_ISOLATED_DATA_DIR"}
    env.update({
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".cache", "collections"),
        "ANSIBLE_CALLBACKS_ENABLED": CALLBACK,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCAL_TEMP": os.path.join(str(tmp), "ansible-local"),
        "ANSIBLE_REMOTE_TEMP": os.path.join(str(tmp), "ansible-remote"),
        "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", ""),
    })
    env.update(extra)
    return env


def run_playbook(tmp, root, *args, cwd=FIXTURE, env=None, check_rc=True):
    cmd = [ANSIBLE_PLAYBOOK, "-i", INVENTORY, PLAYBOOK, "-e", "compliance_fixture_root=" + str(root)] + list(args)
    proc = subprocess.run(cmd, cwd=str(cwd), env=env or ansible_env(tmp), capture_output=True, text=True, timeout=300, check=False)
    output = proc.stdout + proc.stderr
    if check_rc:
        assert proc.returncode == 0, output
    return proc.returncode, output


def load_reports(directory):
    with open(os.path.join(directory, "report.json"), encoding="utf-8") as handle:
        report = json.load(handle)
    with open(os.path.join(directory, "junit.xml"), encoding="utf-8") as handle:
        junit = handle.read()
    with open(os.path.join(directory, "report.html"), encoding="utf-8") as handle:
        page = handle.read()
    return {"dir": str(directory), "report": report, "junit": junit, "html": page}


@pytest.fixture(name="runs", scope="module")
def fixture_runs(tmp_path_factory):
    """Check mode on a fresh directory, then normal mode, then a re-run from another directory."""
    if not os.path.exists(ANSIBLE_PLAYBOOK):
        pytest.skip("ansible-playbook not next to the test python")
    tmp = tmp_path_factory.mktemp("compliance_runs")
    root = tmp / "fixture-root"
    root.mkdir()
    results = {}
    for name, args, extra in (
        ("check", ["--check", "--diff"], {"AISEC_COMPLIANCE_DIR": str(tmp / "check")}),
        ("apply", [], {"AISEC_COMPLIANCE_DIR": str(tmp / "apply")}),
        ("rerun", [], {}),
    ):
        cwd = tmp / "cwd" if name == "rerun" else FIXTURE
        os.makedirs(str(cwd), exist_ok=True)
        _rc, output = run_playbook(tmp, root, *args, cwd=cwd, env=ansible_env(tmp, **extra))
        out_dir = extra.get("AISEC_COMPLIANCE_DIR") or str(tmp / "cwd" / "compliance-report")
        results[name] = dict(load_reports(out_dir), output=output, root=str(root))
    return results


def statuses(report, host):
    return {control: entry["status"] for control, entry in report["hosts"][host]["controls"].items()}


EXPECTED = {
    "check": {"AISEC-ACCESS-03": c.DRIFT, "AISEC-NET-01": c.PASS, "AISEC-LOG-01": c.NOT_APPLICABLE, "AISEC-DETECT-01": c.FAILED},
    "apply": {"AISEC-ACCESS-03": c.FIXED, "AISEC-NET-01": c.PASS, "AISEC-LOG-01": c.NOT_APPLICABLE, "AISEC-DETECT-01": c.FAILED},
    "rerun": {"AISEC-ACCESS-03": c.PASS, "AISEC-NET-01": c.PASS, "AISEC-LOG-01": c.NOT_APPLICABLE, "AISEC-DETECT-01": c.FAILED},
}


@pytest.mark.parametrize("name", ["check", "apply", "rerun"])
def test_control_statuses(runs, name):
    report = runs[name]["report"]
    assert sorted(report["hosts"]) == HOSTS
    for host in HOSTS:
        assert statuses(report, host) == EXPECTED[name]
        assert report["hosts"][host]["status"] == c.FAILED  # the ignored failure still fails the host
        assert report["hosts"][host]["stats"]["ignored"] == 2
    totals = report["totals"]
    assert totals["hosts"] == 2 and totals["control_ids"] == 4
    assert totals["ignored_failures"] == 4 and totals["unreachable_hosts"] == 0
    assert totals["compliant"] is False
    for status in c.STATUSES:
        assert totals["controls"][status] == 2 * list(EXPECTED[name].values()).count(status)


@pytest.mark.parametrize("name", ["check", "apply", "rerun"])
def test_report_schema_and_junit_consistency(runs, name):
    jsonschema = pytest.importorskip("jsonschema")
    report = runs[name]["report"]
    jsonschema.Draft202012Validator(c.REPORT_SCHEMA).validate(report)
    root = ET.fromstring(runs[name]["junit"].encode("utf-8"))
    expected = c.junit_counts(report)
    for key in ("tests", "failures", "errors", "skipped"):
        assert int(root.get(key)) == expected[key], key
    assert [s.get("name") for s in root.findall("testsuite")] == HOSTS
    for suite in root.findall("testsuite"):
        cases = {case.get("name"): case for case in suite.findall("testcase")}
        assert set(cases) == set(EXPECTED[name])
        for control, status in EXPECTED[name].items():
            failure = cases[control].find("failure")
            if status in (c.FAILED, c.DRIFT):
                assert failure is not None and failure.get("type") == status
            else:
                assert failure is None
            assert (cases[control].find("skipped") is not None) is (status == c.NOT_APPLICABLE)


def test_run_metadata(runs):
    check, apply_, rerun = (runs[n]["report"]["run"] for n in ("check", "apply", "rerun"))
    assert check["check_mode"] is True and check["diff_mode"] is True
    assert apply_["check_mode"] is False and apply_["diff_mode"] is False
    assert check["playbook"] == PLAYBOOK and check["playbooks"] == [PLAYBOOK]
    assert check["output_dir_source"] == "option" and check["output_dir"] == runs["check"]["dir"]
    assert rerun["output_dir_source"] == "default" and rerun["output_dir"].endswith(os.sep + "compliance-report")
    assert check["collection_version"] == cb.collection_version()
    for run in (check, apply_, rerun):
        assert run["final"] is True and re.match(r"^[0-9a-f]{32}$", run["id"]) and run["updated"] == run["finished"]
    assert len({check["id"], apply_["id"], rerun["id"]}) == 3
    import ansible.release
    assert check["ansible_version"] == ansible.release.__version__
    assert check["started"] <= check["finished"] and check["duration_s"] > 0


def test_task_details(runs):
    check = runs["check"]["report"]["hosts"]["gpu-node-1"]["controls"]
    access = {t["name"]: t for t in check["AISEC-ACCESS-03"]["tasks"]}
    assert access["Write the fixture policy file"]["status"] == c.DRIFT
    assert access["Write the fixture policy file"]["role"] == "compliance_fixture"  # import_role tags inherited
    assert access["Write the fixture policy file"]["diff"] is True  # --diff given
    assert access["Write the fixture drop-ins"]["items"] == 2  # loop aggregated into the task
    assert access["Reload the fixture policy"]["handler"] is True
    assert all(t["check_mode"] for t in access.values())
    net = check["AISEC-NET-01"]["tasks"]  # include_role with apply: tags
    assert [t["role"] for t in net] == ["compliance_probe", "compliance_probe"]
    assert not [t for t in net if "include_role" in (t["action"] or "")]
    detect = {t["name"]: t for t in check["AISEC-DETECT-01"]["tasks"]}
    hidden = detect["Detect anomalies with hidden output"]
    assert hidden["no_log"] is True and hidden["ignored_errors"] is True and hidden["message"] == c.NO_LOG_MESSAGE
    visible = detect["Detect anomalies with visible output"]
    assert visible["message"] == "fixture detection failure" and visible["ignored_errors"] is True
    assert check["AISEC-LOG-01"]["tasks"][0]["status"] == c.NOT_APPLICABLE
    apply_ = runs["apply"]["report"]["hosts"]["gpu-node-2"]["controls"]["AISEC-ACCESS-03"]["tasks"]
    assert {t["name"]: t["status"] for t in apply_}["Write the fixture drop-ins"] == c.FIXED
    assert not any(t["check_mode"] for t in apply_)
    rerun = runs["rerun"]["report"]["hosts"]["gpu-node-2"]["controls"]["AISEC-ACCESS-03"]["tasks"]
    assert not any(t["handler"] for t in rerun)  # nothing changed, so the handler did not run
    assert len(os.listdir(runs["check"]["root"])) == 6  # files exist after the normal run, 3 per host


def test_no_secret_and_no_payload_written(runs):
    for name, run in runs.items():
        # Only what this callback prints: ansible-core 2.19 itself shows a failing task's msg in its
        # "[ERROR]: Task failed: Action failed: ..." line even under no_log.
        summary = run["output"].split("AISEC COMPLIANCE", 1)[1]
        for key, text in (("junit", run["junit"]), ("html", run["html"]), ("summary", summary)):
            assert SECRET not in text, (name, key)
        assert SECRET not in json.dumps(run["report"]), name
        assert "Defaults use_pty" not in run["junit"] + run["html"] + json.dumps(run["report"])  # no diff content


def test_summary_printed(runs):
    output = runs["check"]["output"]
    assert "AISEC COMPLIANCE (check mode, hosts per status)" in output
    table = c.render_summary_table(runs["check"]["report"])
    assert table in output
    assert "report: " + os.path.join(runs["check"]["dir"], "report.json") in output
    assert "compliant: no, drift: 2, failed: 2 (ignored failures: 4)" in output
    assert "gpu-node-1: drift: AISEC-ACCESS-03; failed: AISEC-DETECT-01\n" in output
    assert "gpu-node-2: failed: AISEC-DETECT-01\n" in runs["apply"]["output"]
    assert "Traceback" not in output and "callback plugin" not in output


@needs_ansible
def test_options_formats_summary_tags_limit(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    env = ansible_env(tmp_path, AISEC_COMPLIANCE_DIR=str(tmp_path / "out"), AISEC_COMPLIANCE_FORMATS="junit",
                      AISEC_COMPLIANCE_SUMMARY="false")
    _rc, output = run_playbook(tmp_path, root, "--tags", "AISEC-NET-01", "--limit", "gpu-node-1", env=env)
    assert os.listdir(str(tmp_path / "out")) == ["junit.xml"]
    assert "AISEC COMPLIANCE" not in output
    suites = ET.parse(str(tmp_path / "out" / "junit.xml")).getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["gpu-node-1"]
    assert [case.get("name") for case in suites[0].findall("testcase")] == ["AISEC-NET-01"]


@needs_ansible
def test_invalid_format_is_reported(tmp_path):
    env = ansible_env(tmp_path, AISEC_COMPLIANCE_DIR=str(tmp_path / "out"), AISEC_COMPLIANCE_FORMATS="json,pdf")
    _rc, output = run_playbook(tmp_path, tmp_path, "--tags", "AISEC-NET-01", "--limit", "gpu-node-1", env=env, check_rc=False)
    # ansible-core validates the choices before the plugin runs: it warns, names the bad value and
    # the valid ones, and runs the play without the callback.
    assert "Failed to load callback plugin '%s'" % CALLBACK in output
    assert "'pdf'" in output and "json, junit, html" in output
    assert "Traceback" not in output
    assert not os.path.exists(str(tmp_path / "out"))


@needs_ansible
def test_unwritable_output_dir_reports_error(tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x", encoding="utf-8")
    env = ansible_env(tmp_path, AISEC_COMPLIANCE_DIR=str(blocker / "out"))
    rc, output = run_playbook(tmp_path, tmp_path, "--tags", "AISEC-NET-01", env=env, check_rc=False)
    assert rc == 0  # the report never changes the result of the run
    assert "aisec.gpu_host.compliance_report: could not write the report to %s" % (blocker / "out") in output
    assert "Traceback" not in output


@needs_ansible
@pytest.mark.skipif(shutil.which("ssh") is None, reason="needs an ssh client to produce an unreachable host")
def test_unreachable_host(tmp_path):
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  hosts:\n"
        "    gpu-node-1:\n      ansible_connection: local\n"
        "      ansible_python_interpreter: '{{ ansible_playbook_python }}'\n"
        "    dead-node:\n      ansible_connection: ssh\n      ansible_host: 127.0.0.1\n      ansible_port: 9\n"
        "      ansible_ssh_common_args: -o ConnectTimeout=5 -o StrictHostKeyChecking=no\n",
        encoding="utf-8")
    env = ansible_env(tmp_path, AISEC_COMPLIANCE_DIR=str(tmp_path / "out"))
    cmd = [ANSIBLE_PLAYBOOK, "-i", str(inventory), PLAYBOOK, "-e", "compliance_fixture_root=%s" % tmp_path,
           "--tags", "AISEC-NET-01"]
    proc = subprocess.run(cmd, cwd=FIXTURE, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 4, proc.stdout + proc.stderr  # ansible-playbook's exit status for unreachable hosts
    reports = load_reports(str(tmp_path / "out"))
    report = reports["report"]
    dead = report["hosts"]["dead-node"]
    assert dead["unreachable"] is True and dead["status"] == c.FAILED
    assert dead["controls"]["AISEC-NET-01"]["status"] == c.FAILED
    assert dead["controls"]["AISEC-NET-01"]["tasks"][0]["unreachable"] is True
    assert report["hosts"]["gpu-node-1"]["status"] == c.PASS
    assert report["totals"]["unreachable_hosts"] == 1
    root = ET.fromstring(reports["junit"].encode("utf-8"))
    assert int(root.get("errors")) == 1 and int(root.get("tests")) == c.junit_counts(report)["tests"] == 3
    assert root.find("testsuite[@name='dead-node']/testcase[@name='unreachable']/error") is not None


@needs_ansible
def test_ansible_runner_artifacts(tmp_path, monkeypatch):
    ansible_runner = pytest.importorskip("ansible_runner")
    for key in list(os.environ):
        if key.startswith(("AISEC_COMPLIANCE_", "ANSIBLE_")) or key == "AWX_ISOLATED_DATA_DIR":
            monkeypatch.delenv(key)
    root = tmp_path / "root"
    root.mkdir()
    private = tmp_path / "private"
    private.mkdir()
    envvars = {k: v for k, v in ansible_env(tmp_path).items() if k.startswith("ANSIBLE_") or k == "PATH"}
    runner = ansible_runner.run(
        private_data_dir=str(private),
        project_dir=FIXTURE,
        playbook="playbook.yml",
        inventory=INVENTORY,
        extravars={"compliance_fixture_root": str(root)},
        envvars=envvars,
        ident="compliance",
        quiet=True,
        timeout=300,
    )
    stdout = runner.stdout.read()
    assert runner.rc == 0 and runner.status == "successful", stdout
    artifact_dir = runner.config.artifact_dir
    assert artifact_dir == str(private / "artifacts" / "compliance")
    reports = load_reports(os.path.join(artifact_dir, "compliance-report"))
    run = reports["report"]["run"]
    assert run["output_dir_source"] == "ansible-runner"
    assert run["output_dir"] == os.path.join(artifact_dir, "compliance-report")
    for host in HOSTS:
        assert statuses(reports["report"], host) == EXPECTED["apply"]
    assert "AISEC COMPLIANCE (normal mode, hosts per status)" in stdout
    assert SECRET not in json.dumps(reports["report"]) + reports["junit"] + reports["html"]
    assert not os.path.exists(os.path.join(FIXTURE, "compliance-report"))


SNAPSHOT_SCRIPT = r"""
import json, os, sys
from ansible.plugins.loader import init_plugin_loader, callback_loader
init_plugin_loader([sys.argv[1]])
cb = callback_loader.get("aisec.gpu_host.compliance_report")
cb.set_options(direct={"output_dir": sys.argv[2], "formats": sys.argv[3].split(",")})
class Playbook:
    _file_name = "/srv/audit.yml"
os.environ["AISEC_COMPLIANCE_SNAPSHOT"] = "/stale/report.json"
cb.v2_playbook_on_start(Playbook())
out = {"run_id": os.environ.get("AISEC_COMPLIANCE_RUN_ID"), "snapshot": os.environ.get("AISEC_COMPLIANCE_SNAPSHOT"),
       "files_before_play": sorted(os.listdir(sys.argv[2])) if os.path.isdir(sys.argv[2]) else None}
cb.v2_playbook_on_play_start(None)
out["files_after_play"] = sorted(os.listdir(sys.argv[2])) if os.path.isdir(sys.argv[2]) else None
print(json.dumps(out))
"""


def run_snapshot_script(tmp_path, formats):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AISEC_COMPLIANCE_", "ANSIBLE_"))}
    proc = subprocess.run([sys.executable, "-c", SNAPSHOT_SCRIPT, os.path.join(ROOT, ".cache", "collections"),
                           str(tmp_path / "out"), formats], env=env, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_run_start_exports_run_id_and_snapshot_path(tmp_path):
    result = run_snapshot_script(tmp_path, "json,html")
    assert re.match(r"^[0-9a-f]{32}$", result["run_id"])
    assert result["snapshot"] == str(tmp_path / "out" / "report.json")
    assert result["files_before_play"] is None and result["files_after_play"] == ["report.json"]  # JSON only
    with open(str(tmp_path / "out" / "report.json"), encoding="utf-8") as handle:
        snapshot = json.load(handle)
    assert snapshot["run"]["id"] == result["run_id"] and snapshot["run"]["final"] is False
    assert snapshot["run"]["finished"] is None and snapshot["run"]["updated"]
    assert snapshot["hosts"] == {} and snapshot["run"]["playbook"] == "/srv/audit.yml"


def test_no_snapshot_without_json_format(tmp_path):
    result = run_snapshot_script(tmp_path, "junit")
    assert result["snapshot"] is None  # the stale value inherited from the environment is removed
    assert result["files_after_play"] is None


# ------------------------------------------------------------------------------ HTML in a browser


def test_html_renders_in_headless_chromium(runs, tmp_path):
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium); the HTML screenshot check needs it")
    os.makedirs(ARTIFACTS, exist_ok=True)
    for name in ("check", "apply"):
        png = os.path.join(ARTIFACTS, "compliance_report_%s.png" % name)
        if os.path.exists(png):
            os.unlink(png)
        proc = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--hide-scrollbars", "--user-data-dir=%s" % (tmp_path / ("profile-" + name)),
             "--window-size=1280,1800", "--screenshot=%s" % png,
             "file://" + os.path.join(runs[name]["dir"], "report.html")],
            capture_output=True, text=True, timeout=120, check=False,
        )
        assert os.path.exists(png), proc.stdout + proc.stderr
        width, height, colours = _png_size_and_colours(png)
        assert (width, height) == (1280, 1800)
        assert colours > 20, "screenshot looks blank"


def test_adhoc_commands_write_no_report_and_print_nothing(tmp_path):
    """The ansible CLI (ad-hoc) is no compliance run: stdout stays the stdout callback's alone."""
    import json as _json
    import subprocess as _subprocess
    import sys as _sys

    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
    ansible = os.path.join(os.path.dirname(_sys.executable), "ansible")
    if not os.path.exists(ansible):
        pytest.skip("ansible CLI not installed next to the test interpreter")
    env = dict(
        os.environ,
        ANSIBLE_CONFIG=os.path.join(root, "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=os.path.join(root, ".cache", "collections"),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json",
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_CALLBACKS_ENABLED="aisec.gpu_host.compliance_report",
        AISEC_COMPLIANCE_DIR=str(tmp_path / "reports"),
    )
    proc = _subprocess.run(
        [ansible, "localhost", "-m", "ansible.builtin.ping", "-e", "ansible_python_interpreter=%s" % _sys.executable],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    _json.loads(proc.stdout)  # nothing but the json callback's document
    assert not (tmp_path / "reports").exists()
