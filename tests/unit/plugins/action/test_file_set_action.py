# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests of the file_set action plugin: argument checks and template rendering through ``ansible-playbook``
with a local connection and a tiny role in a temporary project, plus the end-to-end run (create, second run
without change, --check --diff after a hand edit)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.aisec.gpu_host.plugins.action import file_set as action

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the playbooks set owner root")

TEMPLATES = {
    # a plain template with ansible_managed, a loop and an include from the role's templates/
    # (trim_blocks eats the newline after the include tag, as with ansible.builtin.template)
    "app.conf.j2": "# {{ ansible_managed }}\n{% for p in ports %}\nport={{ p }}\n{% endfor %}\n"
                   "{% include 'part.j2' %}\n\nname={{ name | default('none') }}\n",
    "part.j2": "included={{ inventory_hostname }}\n",
    # no trailing newline / several trailing newlines / Windows line ends stay as they are
    "bare.j2": "value={{ ports | join(',') }}",
    "many.j2": "x\n\n\n",
    "crlf.j2": "a\r\nb\r\n",
    "item.j2": "item={{ item.name }} mode={{ item.mode }}\n",
}


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


@pytest.fixture
def project(tmp_path):
    """A project with roles/demo/{tasks,templates} and an output directory."""
    for name, text in TEMPLATES.items():
        write(str(tmp_path / "roles" / "demo" / "templates" / name), text)
    (tmp_path / "out").mkdir()
    return tmp_path


def playbook(project, tasks, args=(), stdout_json=True):
    """Run a play on localhost that runs the role demo whose tasks/main.yml is ``tasks`` (YAML text)."""
    if not os.path.exists(PLAYBOOK):
        pytest.skip("ansible-playbook is not installed next to the test interpreter")
    write(str(project / "roles" / "demo" / "tasks" / "main.yml"), textwrap.dedent(tasks))
    write(str(project / "play.yml"), textwrap.dedent("""\
        - name: Demo
          hosts: localhost
          gather_facts: false
          vars:
            out: %s
            ports: [80, 443]
          roles: [demo]
        """ % (project / "out")))
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_COLLECTIONS_PATH": os.path.join(ROOT, ".cache", "collections"),
        "ANSIBLE_ROLES_PATH": str(project / "roles"),
        "ANSIBLE_LOCAL_TEMP": str(project / "ansible-tmp"),
        "ANSIBLE_REMOTE_TEMP": str(project / "remote-tmp"),
        "AISEC_COMPLIANCE_DIR": str(project / "compliance"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
    })
    if stdout_json:
        env.update({"ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
    cmd = [PLAYBOOK, "-i", "localhost,", "-e", "ansible_connection=local",
           "-e", "ansible_python_interpreter=%s" % sys.executable, str(project / "play.yml")] + list(args)
    proc = subprocess.run(cmd, cwd=str(project), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=300, check=False)
    if not stdout_json:
        return proc
    try:
        # the compliance_report callback prints its summary after the JSON document
        out = json.JSONDecoder().raw_decode(proc.stdout.lstrip())[0]
    except ValueError:
        raise AssertionError("no JSON from ansible-playbook (rc %d): %s %s" % (proc.returncode, proc.stdout, proc.stderr))
    results = {}
    for task in out["plays"][0]["tasks"]:
        results.setdefault(task["task"]["name"].split(" : ", 1)[-1], []).append(task["hosts"]["localhost"])
    return proc.returncode, results, out["stats"]["localhost"]


def read(path):
    with open(str(path), "rb") as fh:
        return fh.read()


# ---------------------------------------------------------------------------
# In process
# ---------------------------------------------------------------------------


def test_template_vars(tmp_path):
    src = tmp_path / "t.j2"
    src.write_text("x")
    out = action.template_vars("t.j2", str(src), "/etc/t", {})
    assert out["template_path"] == "t.j2" and out["template_fullpath"] == str(src)
    assert out["template_destpath"] == "/etc/t"
    assert "ansible_managed" in out
    assert "ansible_managed" not in action.template_vars("t.j2", str(src), "/etc/t", {"ansible_managed": "mine"})


# ---------------------------------------------------------------------------
# ansible-playbook
# ---------------------------------------------------------------------------

BAD_TASKS = """\
- name: Unknown top-level argument
  aisec.gpu_host.file_set:
    files: [{path: "{{ out }}/a", content: x, mode: "0644"}]
    dest: /x
  ignore_errors: true
- name: Missing files
  aisec.gpu_host.file_set: {}
  ignore_errors: true
- name: Bad entries
  aisec.gpu_host.file_set:
    files:
      - {path: relative, content: x, mode: "0644"}
      - {path: "{{ out }}/b", content: x, mode: 0644}
      - {path: "{{ out }}/c", src: app.conf.j2, content: x, mode: "0644"}
      - {path: "{{ out }}/d", content: x, mode: "0644", validate: "visudo -cf"}
      - {path: "{{ out }}/e", state: file, mode: "0644", exclusive: true, content: x}
      - {path: "{{ out }}/f", content: x, mode: "0644", controls: [NET-5]}
      - {path: "{{ out }}/f", state: absent, colour: red}
  ignore_errors: true
- name: Missing template
  aisec.gpu_host.file_set:
    files: [{path: "{{ out }}/a", src: nope.j2, mode: "0644"}]
  ignore_errors: true
- name: Undefined variable in a template
  aisec.gpu_host.file_set:
    files: [{path: "{{ out }}/a", src: item.j2, mode: "0644"}]
  ignore_errors: true
"""


def test_argument_errors(project):
    rc, res, stats = playbook(project, BAD_TASKS)
    for name, runs in res.items():
        assert runs[0].get("failed") is True, (name, runs)
        assert "Traceback" not in runs[0]["msg"] + str(runs[0].get("exception", "")), runs[0]
    assert "unsupported parameter(s) dest" in res["Unknown top-level argument"][0]["msg"]
    assert "missing required argument 'files'" in res["Missing files"][0]["msg"]
    msg = res["Bad entries"][0]["msg"]
    for expected in ("files[0] (relative): path must be absolute",
                     "files[1] (%s/b): mode must be a quoted octal string" % (project / "out"),
                     "either src or content, not both",
                     "validate must be a command containing %s",
                     "exclusive=true is only valid with state=directory",
                     "'NET-5' not a control id",
                     "unknown key(s) colour",
                     "files[6] (%s/f): path is listed twice (also files[5])" % (project / "out")):
        assert expected in msg, msg
    assert "src nope.j2" in res["Missing template"][0]["msg"]
    assert "files[0]" in res["Undefined variable in a template"][0]["msg"]
    assert os.listdir(str(project / "out")) == []


RENDER_TASKS = """\
- name: Reference files by ansible.builtin.template
  ansible.builtin.template:
    src: "{{ item }}"
    dest: "{{ out }}/ref-{{ item }}"
    mode: "0644"
  loop: [app.conf.j2, bare.j2, many.j2, crlf.j2]
- name: The same by file_set
  aisec.gpu_host.file_set:
    files:
      - {path: "{{ out }}/fs-app.conf.j2", src: app.conf.j2, mode: "0644", controls: [AISEC-NET-01]}
      - {path: "{{ out }}/fs-bare.j2", src: bare.j2, mode: "0644", controls: [AISEC-NET-02]}
      - {path: "{{ out }}/fs-many.j2", src: many.j2, mode: "0644"}
      - {path: "{{ out }}/fs-crlf.j2", src: crlf.j2, mode: "0644"}
      - path: "{{ out }}/fs-vars"
        src: app.conf.j2
        vars: {name: special, ports: [8000]}
        mode: "0600"
      - path: "{{ out }}/fs-item"
        src: item.j2
        vars: {item: {name: svc, mode: "{{ '0640' }}"}}
        mode: "0640"
"""


def test_rendering_matches_builtin_template(project):
    rc, res, stats = playbook(project, RENDER_TASKS)
    assert rc == 0, res
    out = project / "out"
    for name in ("app.conf.j2", "bare.j2", "many.j2", "crlf.j2"):
        assert read(out / ("fs-" + name)) == read(out / ("ref-" + name)), name
    assert read(out / "fs-app.conf.j2") == b"# Ansible managed\nport=80\nport=443\nincluded=localhost\nname=none\n"
    assert read(out / "fs-bare.j2") == b"value=80,443"
    assert read(out / "fs-many.j2") == b"x\n\n\n"
    assert read(out / "fs-crlf.j2") == b"a\r\nb\r\n"
    assert read(out / "fs-vars") == b"# Ansible managed\nport=8000\nincluded=localhost\nname=special\n"
    assert read(out / "fs-item") == b"item=svc mode=0640\n"
    result = res["The same by file_set"][0]
    assert result["changed"] is True
    assert result["changed_controls"] == ["AISEC-NET-01", "AISEC-NET-02"]
    assert [f["changes"] for f in result["files"]] == [["created"]] * 6


E2E_TASKS = """\
- name: Managed files
  aisec.gpu_host.file_set:
    files:
      - path: "{{ out }}/conf.d"
        state: directory
        owner: root
        group: root
        mode: "0750"
        exclusive: true
        controls: [AISEC-ACCESS-01]
      - path: "{{ out }}/conf.d/app.conf"
        src: app.conf.j2
        owner: root
        group: root
        mode: "0640"
        validate: "grep -q ^port= %s"
        controls: [AISEC-ACCESS-02]
      - path: "{{ out }}/conf.d/static"
        content: "static\\n"
        mode: "0600"
        controls: [AISEC-ACCESS-03]
      - path: "{{ out }}/obsolete"
        state: absent
        controls: [AISEC-ACCESS-04]
- name: Secret file
  aisec.gpu_host.file_set:
    files: [{path: "{{ out }}/secret", content: "s3cr3t-value\\n", mode: "0600"}]
  no_log: true
"""


def test_end_to_end_first_second_check_diff(project):
    out = project / "out"
    (out / "obsolete").write_text("old")
    rc, res, stats = playbook(project, E2E_TASKS)
    assert rc == 0, res
    first = res["Managed files"][0]
    assert first["changed"] is True
    assert first["changed_controls"] == ["AISEC-ACCESS-01", "AISEC-ACCESS-02", "AISEC-ACCESS-03", "AISEC-ACCESS-04"]
    assert read(out / "conf.d" / "static") == b"static\n"
    assert not (out / "obsolete").exists()
    assert "s3cr3t" not in json.dumps(res["Secret file"])

    rc, res, stats = playbook(project, E2E_TASKS)
    assert rc == 0 and stats["changed"] == 0, res

    # hand edits: content, mode, a stray file in the exclusive directory
    (out / "conf.d" / "app.conf").write_text("port=1\n")
    os.chmod(str(out / "conf.d" / "static"), 0o644)
    (out / "conf.d" / "stray").write_text("x")
    before = {name: (read(out / "conf.d" / name), os.stat(str(out / "conf.d" / name)).st_mode)
              for name in os.listdir(str(out / "conf.d"))}
    rc, res, stats = playbook(project, E2E_TASKS, ["--check", "--diff"])
    assert rc == 0, res
    check = res["Managed files"][0]
    assert check["changed"] is True
    assert check["changed_controls"] == ["AISEC-ACCESS-01", "AISEC-ACCESS-02", "AISEC-ACCESS-03"]
    assert [f["changes"] for f in check["files"]] == [["purged"], ["content"], ["mode"], []]
    app = str(out / "conf.d" / "app.conf")
    assert {"before_header": app, "after_header": app, "before": "port=1\n",
            "after": "# Ansible managed\nport=80\nport=443\nincluded=localhost\nname=none\n"} in check["diff"]
    assert {"before": {"path": str(out / "conf.d" / "static"), "mode": "0644"},
            "after": {"path": str(out / "conf.d" / "static"), "mode": "0600"}} in check["diff"]
    after = {name: (read(out / "conf.d" / name), os.stat(str(out / "conf.d" / name)).st_mode)
             for name in os.listdir(str(out / "conf.d"))}
    assert after == before

    # the default callback prints the list of diffs
    proc = playbook(project, E2E_TASKS, ["--check", "--diff"], stdout_json=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "-port=1" in proc.stdout and "+port=443" in proc.stdout and "stray" in proc.stdout
    assert "s3cr3t" not in proc.stdout

    rc, res, stats = playbook(project, E2E_TASKS)
    assert rc == 0 and res["Managed files"][0]["changed"] is True
    assert sorted(os.listdir(str(out / "conf.d"))) == ["app.conf", "static"]
    rc, res, stats = playbook(project, E2E_TASKS)
    assert stats["changed"] == 0
