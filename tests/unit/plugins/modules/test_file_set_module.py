# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""End-to-end tests of the file_set module: the module file runs as a subprocess (as Ansible runs it on a
target) against a temporary directory. The tests run as root (owner/group root and nobody/nogroup)."""

from __future__ import annotations

import grp
import json
import os
import pwd
import shlex
import stat
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
MODULE = os.path.join(ROOT, "plugins", "modules", "file_set.py")
COLLECTIONS = os.path.join(ROOT, ".cache", "collections")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (chown to other users)")

NOBODY = "nobody"
NOGROUP = "nogroup" if any(g.gr_name == "nogroup" for g in grp.getgrall()) else "nobody"


def run(tmp_path, files, check=False, diff=False, before_change=None):
    args_file = tmp_path / "args.json"
    (tmp_path / "remote_tmp").mkdir(mode=0o700, exist_ok=True)
    args = {"files": files, "_ansible_check_mode": check, "_ansible_diff": diff,
            "_ansible_remote_tmp": str(tmp_path / "remote_tmp")}
    if before_change is not None:
        args["before_change"] = before_change
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": COLLECTIONS, "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    proc = subprocess.run([sys.executable, MODULE, str(args_file)], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def snapshot(base):
    """Every path under base with its type, mode, owner, group and content."""
    out = {}
    for root, dirs, names in os.walk(str(base)):
        for name in dirs + names:
            path = os.path.join(root, name)
            st = os.lstat(path)
            content = None
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as fh:
                    content = fh.read()
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(path)
            out[os.path.relpath(path, str(base))] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid,
                                                     st.st_gid, content)
    return out


@pytest.fixture
def base(tmp_path):
    d = tmp_path / "target"
    d.mkdir()
    return d


def mode_of(path):
    return stat.S_IMODE(os.lstat(str(path)).st_mode)


def basic_files(base):
    return [
        {"path": str(base / "etc"), "state": "directory", "owner": "root", "group": "root", "mode": "0750",
         "controls": ["AISEC-NET-01"]},
        {"path": str(base / "etc" / "a.conf"), "content": "alpha\n", "owner": "root", "group": "root", "mode": "0640",
         "controls": ["AISEC-NET-02", "AISEC-NET-01"]},
        {"path": str(base / "etc" / "b.conf"), "content": "beta\n", "mode": "0600", "controls": ["AISEC-NET-03"]},
    ]


def test_create_then_idempotent(tmp_path, base):
    res = run(tmp_path, basic_files(base))
    assert res["changed"] is True
    assert res["changed_controls"] == ["AISEC-NET-01", "AISEC-NET-02", "AISEC-NET-03"]
    assert [f["changes"] for f in res["files"]] == [["created"], ["created"], ["created"]]
    assert (base / "etc" / "a.conf").read_text() == "alpha\n"
    assert mode_of(base / "etc") == 0o750
    assert mode_of(base / "etc" / "a.conf") == 0o640
    assert mode_of(base / "etc" / "b.conf") == 0o600
    assert not [n for n in os.listdir(str(base / "etc")) if n.startswith(".")]  # no temporary file left

    again = run(tmp_path, basic_files(base))
    assert again["changed"] is False
    assert again["changed_controls"] == []
    assert all(f["changed"] is False and f["changes"] == [] for f in again["files"])


def test_content_and_attribute_changes(tmp_path, base):
    run(tmp_path, basic_files(base))
    (base / "etc" / "a.conf").write_text("edited\n")
    os.chmod(str(base / "etc" / "b.conf"), 0o644)
    os.chown(str(base / "etc" / "b.conf"), pwd.getpwnam(NOBODY).pw_uid, -1)  # owner not enforced on b.conf
    os.chown(str(base / "etc"), -1, grp.getgrnam(NOGROUP).gr_gid)
    res = run(tmp_path, basic_files(base))
    assert [f["changes"] for f in res["files"]] == [["group"], ["content"], ["mode"]]
    assert res["changed_controls"] == ["AISEC-NET-01", "AISEC-NET-02", "AISEC-NET-03"]
    assert (base / "etc" / "a.conf").read_text() == "alpha\n"
    assert mode_of(base / "etc" / "b.conf") == 0o600
    assert os.stat(str(base / "etc" / "b.conf")).st_uid == pwd.getpwnam(NOBODY).pw_uid
    assert os.stat(str(base / "etc")).st_gid == 0


def test_owner_change_and_setgid_mode(tmp_path, base):
    files = [{"path": str(base / "d"), "state": "directory", "owner": NOBODY, "group": NOGROUP, "mode": "2750"},
             {"path": str(base / "d" / "f"), "content": "x", "owner": NOBODY, "group": NOGROUP, "mode": "0640"}]
    run(tmp_path, files)
    st = os.stat(str(base / "d"))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (pwd.getpwnam(NOBODY).pw_uid,
                                                                grp.getgrnam(NOGROUP).gr_gid, 0o2750)
    os.chown(str(base / "d" / "f"), 0, 0)
    res = run(tmp_path, files)
    assert [f["changes"] for f in res["files"]] == [[], ["owner", "group"]]
    assert os.stat(str(base / "d" / "f")).st_uid == pwd.getpwnam(NOBODY).pw_uid
    assert run(tmp_path, files)["changed"] is False


def test_numeric_owner(tmp_path, base):
    files = [{"path": str(base / "f"), "content": "x", "owner": "0", "group": "0", "mode": "0644"}]
    assert run(tmp_path, files)["changed"] is True
    assert run(tmp_path, files)["changed"] is False


def test_force_false(tmp_path, base):
    files = [{"path": str(base / "local"), "content": "default\n", "mode": "0644", "force": False,
              "controls": ["AISEC-BASE-01"]}]
    assert run(tmp_path, files)["files"][0]["changes"] == ["created"]
    (base / "local").write_text("local edit\n")
    res = run(tmp_path, files)
    assert res["changed"] is False
    assert (base / "local").read_text() == "local edit\n"
    os.chmod(str(base / "local"), 0o666)
    res = run(tmp_path, files)
    assert res["files"][0]["changes"] == ["mode"]
    assert mode_of(base / "local") == 0o644
    assert (base / "local").read_text() == "local edit\n"


def test_absent(tmp_path, base):
    (base / "file").write_text("x")
    (base / "tree" / "sub").mkdir(parents=True)
    (base / "tree" / "sub" / "x").write_text("x")
    os.symlink("/nonexistent", str(base / "link"))
    files = [{"path": str(base / name), "state": "absent", "controls": ["AISEC-ACCESS-01"]}
             for name in ("file", "tree", "link", "missing")]
    res = run(tmp_path, files, check=True, diff=True)
    assert [f["changes"] for f in res["files"]] == [["removed"], ["removed"], ["removed"], []]
    assert {d["before"]["state"] for d in res["diff"]} == {"file", "directory", "link"}
    assert os.path.lexists(str(base / "link"))
    res = run(tmp_path, files)
    assert res["changed"] is True and res["changed_controls"] == ["AISEC-ACCESS-01"]
    assert os.listdir(str(base)) == []
    assert run(tmp_path, files)["changed"] is False


def test_directory_exclusive(tmp_path, base):
    keys = base / "keys"
    keys.mkdir()
    (keys / "keep.pub").write_text("k")
    (keys / "old.pub").write_text("o")
    (keys / "subdir").mkdir()
    os.symlink("/etc/passwd", str(keys / "link"))
    os.mkfifo(str(keys / "fifo"))
    files = [{"path": str(keys), "state": "directory", "mode": "0700", "exclusive": True, "controls": ["AISEC-ACCESS-01"]},
             {"path": str(keys / "keep.pub"), "content": "k", "mode": "0600"},
             {"path": str(keys / "new.pub"), "content": "n", "mode": "0600"}]
    res = run(tmp_path, files, check=True, diff=True)
    assert res["files"][0]["changes"] == ["mode", "purged"]
    assert res["files"][0]["purged"] == [str(keys / "link"), str(keys / "old.pub")]
    assert (keys / "old.pub").exists()
    res = run(tmp_path, files)
    assert sorted(os.listdir(str(keys))) == ["fifo", "keep.pub", "new.pub", "subdir"]
    assert res["changed_controls"] == ["AISEC-ACCESS-01"]
    assert run(tmp_path, files)["changed"] is False


def test_directory_creates_parents(tmp_path, base):
    files = [{"path": str(base / "a" / "b" / "c"), "state": "directory", "mode": "0700"},
             {"path": str(base / "a" / "b" / "f"), "content": "x", "mode": "0600"}]
    res = run(tmp_path, files)
    assert res["changed"] is True
    assert mode_of(base / "a") == 0o755 and mode_of(base / "a" / "b") == 0o755
    assert mode_of(base / "a" / "b" / "c") == 0o700


def test_validate_ok_and_failure_changes_nothing(tmp_path, base):
    check = [sys.executable, "-c", "import sys; sys.exit(0 if open(sys.argv[1]).read().startswith('ok') else 3)"]
    validate = " ".join(shlex.quote(a) for a in check) + " %s"
    files = [{"path": str(base / "first"), "content": "plain\n", "mode": "0644"},
             {"path": str(base / "good"), "content": "ok\n", "mode": "0640", "validate": validate},
             {"path": str(base / "true"), "content": "x", "mode": "0640", "validate": "/bin/true %s"}]
    res = run(tmp_path, files)
    assert res["changed"] is True and (base / "good").read_text() == "ok\n"

    before = snapshot(base)
    files[0]["content"] = "plain changed\n"
    files[1]["content"] = "bad\n"
    res = run(tmp_path, files)
    assert res.get("failed") is True
    assert "validation of %s failed" % (base / "good") in res["msg"]
    assert res["rc"] == 3
    assert snapshot(base) == before  # the first entry was not applied either

    res = run(tmp_path, [{"path": str(base / "new"), "content": "x", "mode": "0644", "validate": "/bin/false %s"}])
    assert res.get("failed") is True and "/bin/false" in res["msg"]
    assert not (base / "new").exists()
    assert snapshot(base) == before


def test_validate_sees_candidate_with_final_mode(tmp_path, base):
    script = "import os, stat, sys; sys.exit(0 if stat.S_IMODE(os.stat(sys.argv[1]).st_mode) == 0o440 else 4)"
    res = run(tmp_path, [{"path": str(base / "sudoers"), "content": "x\n", "mode": "0440",
                          "validate": "%s -c %s %%s" % (sys.executable, shlex.quote(script))}])
    assert res["changed"] is True, res


def test_validate_not_run_without_content_change_or_in_check_mode(tmp_path, base):
    files = [{"path": str(base / "f"), "content": "x", "mode": "0644", "validate": "/bin/false %s"}]
    res = run(tmp_path, files, check=True)
    assert res["changed"] is True and not res.get("failed")
    (base / "f").write_text("x")
    os.chmod(str(base / "f"), 0o600)
    res = run(tmp_path, files)
    assert res["files"][0]["changes"] == ["mode"] and not res.get("failed")


def test_check_mode_writes_nothing(tmp_path, base):
    run(tmp_path, basic_files(base))
    (base / "etc" / "a.conf").write_text("edited\n")
    os.chmod(str(base / "etc" / "b.conf"), 0o644)
    files = basic_files(base) + [{"path": str(base / "etc" / "new"), "content": "n", "mode": "0644"},
                                 {"path": str(base / "new-dir"), "state": "directory", "mode": "0755"}]
    before = snapshot(base)
    res = run(tmp_path, files, check=True)
    assert snapshot(base) == before
    assert [f["changes"] for f in res["files"]] == [[], ["content"], ["mode"], ["created"], ["created"]]
    assert res["changed_controls"] == ["AISEC-NET-01", "AISEC-NET-02", "AISEC-NET-03"]


def test_diff_output(tmp_path, base):
    run(tmp_path, basic_files(base))
    (base / "etc" / "a.conf").write_text("edited\n")
    os.chmod(str(base / "etc" / "b.conf"), 0o644)
    files = basic_files(base) + [{"path": str(base / "etc" / "new"), "content": "n\n", "mode": "0644", "owner": "root"}]
    res = run(tmp_path, files, check=True, diff=True)
    a = str(base / "etc" / "a.conf")
    b = str(base / "etc" / "b.conf")
    new = str(base / "etc" / "new")
    assert res["diff"] == [
        {"before_header": a, "after_header": a, "before": "edited\n", "after": "alpha\n"},
        {"before": {"path": b, "mode": "0644"}, "after": {"path": b, "mode": "0600"}},
        {"before_header": new, "after_header": new, "before": "", "after": "n\n"},
        {"before": {"path": new, "state": "absent"}, "after": {"path": new, "state": "file", "owner": "root", "mode": "0644"}},
    ]
    assert "diff" not in run(tmp_path, files, check=True)


def test_diff_binary_and_large(tmp_path, base):
    (base / "big").write_bytes(b"a" * (200 * 1024))
    files = [{"path": str(base / "big"), "content": "small\n", "mode": "0644"},
             {"path": str(base / "bin"), "content": "nul\x00byte", "mode": "0644"}]
    res = run(tmp_path, files, check=True, diff=True)
    content = [d for d in res["diff"] if "before_header" in d]
    assert all("content not shown" in d["before_header"] for d in content)
    assert content[0]["before"].startswith("[sha256 ")
    assert content[0]["after"].startswith("[sha256 ")


def test_symlink_replaced_by_file(tmp_path, base):
    (base / "real").write_text("real\n")
    os.symlink(str(base / "real"), str(base / "f"))
    res = run(tmp_path, [{"path": str(base / "f"), "content": "mine\n", "mode": "0644"}])
    assert res["files"][0]["changes"] == ["replaced"]
    assert not os.path.islink(str(base / "f"))
    assert (base / "real").read_text() == "real\n"


def test_prechecks_refuse_everything(tmp_path, base):
    (base / "adir").mkdir()
    (base / "afile").write_text("x")
    before = snapshot(base)
    cases = [
        ([{"path": str(base / "x"), "content": "x", "mode": "0644", "owner": "no-such-user-aisec"}], "no-such-user-aisec"),
        ([{"path": str(base / "x"), "content": "x", "mode": "0644", "group": "no-such-group-aisec"}], "no-such-group-aisec"),
        ([{"path": str(base / "adir"), "content": "x", "mode": "0644"}], "not a regular file"),
        ([{"path": str(base / "afile"), "state": "directory", "mode": "0755"}], "not a directory"),
        ([{"path": str(base / "missing" / "f"), "content": "x", "mode": "0644"}], "parent directory"),
        ([{"path": str(base / "afile" / "sub" / "d"), "state": "directory", "mode": "0755"}], "is not a directory"),
        ([{"path": "relative", "content": "x", "mode": "0644"}], "must be absolute"),
        ([{"path": str(base / "x"), "content": "x", "mode": "0644"}, {"path": str(base / "x") + "/", "state": "absent"}],
         "listed twice"),
    ]
    for files, message in cases:
        res = run(tmp_path, [{"path": str(base / "first"), "content": "1", "mode": "0644"}] + files)
        assert res.get("failed") is True, res
        assert message in res["msg"], res["msg"]
        assert snapshot(base) == before


def test_parent_created_by_earlier_entry_only(tmp_path, base):
    later = [{"path": str(base / "new" / "f"), "content": "x", "mode": "0644"},
             {"path": str(base / "new"), "state": "directory", "mode": "0755"}]
    res = run(tmp_path, later)
    assert res.get("failed") and "parent directory" in res["msg"]
    res = run(tmp_path, list(reversed(later)))
    assert res["changed"] is True and (base / "new" / "f").read_text() == "x"


def test_module_rejects_src(tmp_path, base):
    res = run(tmp_path, [{"path": str(base / "f"), "src": "x.j2", "mode": "0644"}])
    assert res.get("failed") is True and "rendered by the action plugin" in res["msg"]


def test_before_change_runs_once_and_only_when_something_changes(tmp_path, base):
    marker = base / "armed"
    hook = ["/bin/sh", "-c", 'echo x >> "$1"', "hook", str(marker)]
    files = basic_files(base)
    res = run(tmp_path, files, check=True, before_change=hook)
    assert res["changed"] is True and res["before_change"] is False and not marker.exists()
    res = run(tmp_path, files, before_change=hook)
    assert res["changed"] is True and res["before_change"] is True
    assert marker.read_text() == "x\n"  # once for three changed entries
    res = run(tmp_path, files, before_change=hook)
    assert res["changed"] is False and res["before_change"] is False
    assert marker.read_text() == "x\n"


def test_before_change_failure_changes_nothing(tmp_path, base):
    files = basic_files(base)
    before = snapshot(base)
    res = run(tmp_path, files, before_change=["/bin/sh", "-c", "echo no snapshot >&2; exit 4"])
    assert res.get("failed") is True
    assert "before_change" in res["msg"] and "exited 4" in res["msg"] and "no snapshot" in res["msg"]
    assert snapshot(base) == before


def test_before_change_runs_after_validation(tmp_path, base):
    marker = base / "armed"
    files = basic_files(base)
    files[1]["validate"] = "/bin/false %s"
    res = run(tmp_path, files, before_change=["/bin/touch", str(marker)])
    assert res.get("failed") is True and "validation" in res["msg"]
    assert not marker.exists()
