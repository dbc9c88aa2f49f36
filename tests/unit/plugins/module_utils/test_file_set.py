# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the pure functions behind aisec.gpu_host.file_set."""

from __future__ import annotations

import stat

import pytest

from ansible_collections.aisec.gpu_host.plugins.module_utils import file_set as fs


def norm(files, allow_src=True):
    entries, errors = fs.normalize_entries(files, allow_src=allow_src)
    return entries, errors


def one_error(entry, allow_src=True):
    entries, errors = norm([entry], allow_src)
    assert len(errors) == 1, errors
    return errors[0]


# ---------------------------------------------------------------------------
# normalize_entries
# ---------------------------------------------------------------------------


def test_normalize_defaults_and_values():
    entries, errors = norm([
        {"path": "/etc//x/../a.conf", "src": "a.j2", "vars": {"item": 1}, "owner": "root", "group": 0, "mode": "644",
         "validate": "visudo -cf %s", "controls": ["AISEC-NET-02", "AISEC-NET-01", "AISEC-NET-02"]},
        {"path": "/etc/d", "state": "directory", "mode": "2750", "exclusive": "yes", "controls": "AISEC-NET-03"},
        {"path": "/etc/gone", "state": "absent"},
        {"path": "/etc/b", "content": "", "mode": "0600", "force": False, "state": None, "src": None},
    ])
    assert errors == []
    a, d, gone, b = entries
    assert a["path"] == "/etc/a.conf" and a["state"] == "file" and a["src"] == "a.j2" and a["content"] is None
    assert a["mode"] == 0o644 and a["mode_text"] == "0644" and a["group"] == "0" and a["owner"] == "root"
    assert a["controls"] == ["AISEC-NET-01", "AISEC-NET-02"] and a["force"] is True and a["exclusive"] is False
    assert a["vars"] == {"item": 1} and a["index"] == 0
    assert d["exclusive"] is True and d["controls"] == ["AISEC-NET-03"] and d["mode"] == 0o2750
    assert gone["mode"] is None and gone["controls"] == []
    assert b["content"] == "" and b["force"] is False and b["state"] == "file"


@pytest.mark.parametrize("entry, message", [
    ({"path": "/x", "content": "a", "mode": "0644", "colour": "red"}, "unknown key(s) colour"),
    ({"content": "a", "mode": "0644"}, "files[0]: path is required"),
    ({"path": "x/y", "content": "a", "mode": "0644"}, "path must be absolute"),
    ({"path": 3, "content": "a", "mode": "0644"}, "path must be a non-empty string"),
    ({"path": "/", "state": "absent"}, "must not be the root directory"),
    ({"path": "/x", "src": "a.j2", "content": "a", "mode": "0644"}, "either src or content, not both"),
    ({"path": "/x", "mode": "0644"}, "needs src (a template) or content"),
    ({"path": "/x", "content": 5, "mode": "0644"}, "content must be a string"),
    ({"path": "/x", "content": "a"}, "mode is required for state=file"),
    ({"path": "/x", "state": "directory"}, "mode is required for state=directory"),
    ({"path": "/x", "content": "a", "mode": 420}, "quoted octal string"),
    ({"path": "/x", "content": "a", "mode": "u=rw"}, "octal string"),
    ({"path": "/x", "content": "a", "mode": "0844"}, "octal string"),
    ({"path": "/x", "content": "a", "mode": "0644", "validate": "visudo -cf"}, "containing %s"),
    ({"path": "/x", "content": "a", "mode": "0644", "validate": "cmd 'unclosed %s"}, "cannot split"),
    ({"path": "/x", "state": "directory", "mode": "0755", "validate": "x %s"}, "validate is only valid with state=file"),
    ({"path": "/x", "content": "a", "mode": "0644", "exclusive": True}, "exclusive=true is only valid with state=directory"),
    ({"path": "/x", "state": "directory", "mode": "0755", "force": False}, "force=false is only valid with state=file"),
    ({"path": "/x", "content": "a", "mode": "0644", "force": "maybe"}, "force must be a boolean"),
    ({"path": "/x", "content": "a", "mode": "0644", "controls": ["NET-01"]}, "not a control id"),
    ({"path": "/x", "content": "a", "mode": "0644", "controls": ["AISEC-net-01"]}, "not a control id"),
    ({"path": "/x", "content": "a", "mode": "0644", "controls": {"a": 1}}, "controls must be a list"),
    ({"path": "/x", "state": "link", "mode": "0644"}, "state must be one of file, directory, absent"),
    ({"path": "/x", "state": "absent", "mode": "0644"}, "mode has no meaning with state=absent"),
    ({"path": "/x", "state": "absent", "owner": "root"}, "owner has no meaning with state=absent"),
    ({"path": "/x", "state": "absent", "content": "a"}, "content is only valid with state=file"),
    ({"path": "/x", "content": "a", "mode": "0644", "vars": {"a": 1}}, "vars is only valid with src"),
    ({"path": "/x", "src": "a.j2", "mode": "0644", "vars": [1]}, "vars must be a dictionary"),
    ({"path": "/x", "content": "a", "mode": "0644", "owner": True}, "owner must be a user/group name"),
    ({"path": "/x", "src": "", "mode": "0644"}, "src must be a non-empty string"),
])
def test_normalize_errors(entry, message):
    error = one_error(entry)
    assert message in error, error
    assert error.startswith("files[0]")


def test_normalize_error_names_entry_and_path():
    error = one_error({"path": "/etc/x", "content": "a"})
    assert error == "files[0] (/etc/x): mode is required for state=file"


def test_normalize_duplicates_after_normalisation():
    entries, errors = norm([{"path": "/etc/x", "state": "absent"}, {"path": "/etc/./x/", "state": "absent"}])
    assert errors == ["files[1] (/etc/./x/): path is listed twice (also files[0])"]


def test_normalize_not_a_list_or_empty_or_not_dicts():
    assert norm("x")[1] == ["files must be a list of entries, got str"]
    assert norm([])[1] == ["files must list at least one entry"]
    assert norm(["x"])[1] == ["files[0] must be a dictionary, got str"]


def test_normalize_collects_every_error():
    entries, errors = norm([{"path": "x", "content": 1}, {"path": "/y", "state": "directory", "mode": 493}])
    assert len(errors) == 4


def test_normalize_module_rejects_src():
    assert "rendered by the action plugin" in one_error({"path": "/x", "src": "a.j2", "mode": "0644"}, allow_src=False)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def test_validate_argv():
    assert fs.validate_argv("visudo -cf %s", "/tmp/a b") == ["visudo", "-cf", "/tmp/a b"]
    assert fs.validate_argv("check --file=%s 'two words'", "/c") == ["check", "--file=/c", "two words"]
    with pytest.raises(ValueError, match="no %s"):
        fs.validate_argv("true", "/c")
    with pytest.raises(ValueError, match="empty"):
        fs.validate_argv("   ", "/c")


def test_format_mode_and_kind():
    assert fs.format_mode(0o644) == "0644" and fs.format_mode(0o2750) == "2750"
    assert fs.file_kind(stat.S_IFREG | 0o644) == "file"
    assert fs.file_kind(stat.S_IFDIR | 0o755) == "directory"
    assert fs.file_kind(stat.S_IFLNK | 0o777) == "link"
    assert fs.file_kind(stat.S_IFIFO | 0o600) == "other"


def test_parent_created_earlier():
    entries, errors = norm([
        {"path": "/a/b/c", "state": "directory", "mode": "0755"},
        {"path": "/a/b/f", "content": "", "mode": "0644"},
        {"path": "/a/x/f", "content": "", "mode": "0644"},
        {"path": "/a/x", "state": "directory", "mode": "0755"},
        {"path": "/a/bb/f", "content": "", "mode": "0644"},
    ])
    assert errors == []
    assert fs.parent_created_earlier(entries, 1) is True  # /a/b is created as parent of /a/b/c
    assert fs.parent_created_earlier(entries, 2) is False  # /a/x comes later
    assert fs.parent_created_earlier(entries, 4) is False  # /a/b is not /a/bb


def entry(**kw):
    base = {"path": "/x", "content": "", "mode": "0644"}
    base.update(kw)
    entries, errors = norm([base])
    assert errors == []
    return entries[0]


def cur(kind="file", uid=0, gid=0, mode=0o644, sha=None):
    return {"kind": kind, "uid": uid, "gid": gid, "mode": mode, "sha256": sha}


def test_plan_entry_file():
    e = entry(owner="root", group="root")
    assert fs.plan_entry(e, None, 0, 0, "h") == (["created"], None)
    assert fs.plan_entry(e, cur(sha="h"), 0, 0, "h") == ([], None)
    assert fs.plan_entry(e, cur(sha="old", uid=5, gid=6, mode=0o600), 0, 0, "h") == (
        ["content", "owner", "group", "mode"], None)
    assert fs.plan_entry(e, cur(kind="link"), 0, 0, "h") == (["replaced"], None)
    changes, error = fs.plan_entry(e, cur(kind="directory"), 0, 0, "h")
    assert changes == [] and "not a regular file (directory)" in error
    # owner/group not enforced when not given
    assert fs.plan_entry(entry(), cur(sha="h", uid=5, gid=6), None, None, "h") == ([], None)


def test_plan_entry_force_false_ignores_content():
    e = entry(force=False)
    assert fs.plan_entry(e, cur(sha=None, mode=0o600), None, None, "h") == (["mode"], None)
    assert fs.plan_entry(e, None, None, None, "h") == (["created"], None)


def test_plan_entry_directory_and_absent():
    d = entry(state="directory", content=None, mode="0700")
    assert fs.plan_entry(d, None) == (["created"], None)
    assert fs.plan_entry(d, cur(kind="directory", mode=0o700)) == ([], None)
    assert fs.plan_entry(d, cur(kind="directory", mode=0o755)) == (["mode"], None)
    changes, error = fs.plan_entry(d, cur(kind="file"))
    assert "not a directory (file)" in error
    a = entry(state="absent", content=None, mode=None)
    assert fs.plan_entry(a, None) == ([], None)
    assert fs.plan_entry(a, cur(kind="directory")) == (["removed"], None)


def test_exclusive_removals():
    listing = [("keep", "file"), ("old", "file"), ("link", "link"), ("sub", "directory"), ("sock", "other")]
    assert fs.exclusive_removals("/d", listing, {"/d", "/d/keep", "/elsewhere"}) == [
        ("/d/link", "link"), ("/d/old", "file")]
    assert fs.exclusive_removals("/d", [], {"/d"}) == []


def test_content_diff_text_binary_large():
    assert fs.content_diff("/p", b"a\n", b"b\n") == {"before_header": "/p", "after_header": "/p", "before": "a\n",
                                                     "after": "b\n"}
    assert fs.content_diff("/p", None, b"new\n")["before"] == ""
    binary = fs.content_diff("/p", b"\x00\x01", b"text")
    assert "content not shown" in binary["before_header"] and binary["before"].startswith("[sha256 ")
    assert binary["after"] == "[sha256 %s]\n" % fs.sha256_bytes(b"text")
    big = fs.content_diff("/p", b"x" * (fs.MAX_DIFF_BYTES + 1), b"y")
    assert "content not shown" in big["after_header"]
    unread = fs.content_diff("/p", None, b"y", before_sha256="abc")  # existing file too large to keep
    assert unread["before"] == "[sha256 abc]\n"
    latin1 = fs.content_diff("/p", b"caf\xe9", b"cafe")
    assert "content not shown" in latin1["before_header"]


def test_entry_diffs_shapes():
    names = {"before_owner": "nobody", "before_group": "nogroup", "after_owner": "root", "after_group": "root"}
    e = entry(owner="root", group="root", mode="0640")
    created = fs.entry_diffs(e, None, ["created"], names, None, b"x\n")
    assert created == [
        {"before_header": "/x", "after_header": "/x", "before": "", "after": "x\n"},
        {"before": {"path": "/x", "state": "absent"},
         "after": {"path": "/x", "state": "file", "owner": "root", "group": "root", "mode": "0640"}},
    ]
    attrs = fs.entry_diffs(e, cur(uid=65534, gid=65534, mode=0o644), ["owner", "group", "mode"], names)
    assert attrs == [{"before": {"path": "/x", "owner": "nobody", "group": "nogroup", "mode": "0644"},
                      "after": {"path": "/x", "owner": "root", "group": "root", "mode": "0640"}}]
    content_only = fs.entry_diffs(e, cur(), ["content"], names, b"a", b"b")
    assert len(content_only) == 1 and content_only[0]["before"] == "a"
    gone = fs.entry_diffs(entry(state="absent", content=None, mode=None), cur(kind="link"), ["removed"], names)
    assert gone == [{"before": {"path": "/x", "state": "link"}, "after": {"path": "/x", "state": "absent"}}]
    d = entry(state="directory", content=None, mode="0700", exclusive=True)
    purged = fs.entry_diffs(d, cur(kind="directory", mode=0o700), ["purged"], names, purged=[("/x/old", "file")])
    assert purged == [{"before": {"path": "/x/old", "state": "file"}, "after": {"path": "/x/old", "state": "absent"}}]
    assert fs.entry_diffs(e, cur(), [], names) == []


def test_summarize():
    entries, errors = norm([
        {"path": "/a", "content": "", "mode": "0644", "controls": ["AISEC-NET-02"]},
        {"path": "/b", "content": "", "mode": "0644", "controls": ["AISEC-NET-01", "AISEC-NET-02"]},
        {"path": "/c", "content": "", "mode": "0644", "controls": ["AISEC-NET-05"]},
    ])
    results = [{"changed": True}, {"changed": True}, {"changed": False}]
    assert fs.summarize(entries, results) == (True, ["AISEC-NET-01", "AISEC-NET-02"])
    assert fs.summarize(entries, [{"changed": False}] * 3) == (False, [])
