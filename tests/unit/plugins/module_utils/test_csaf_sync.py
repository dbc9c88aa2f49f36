# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the pure helpers of csaf_sync, csaf_http and csaf_openpgp (no network)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys

import pytest

from ansible_collections.aisec.gpu_host.plugins.module_utils import csaf_sync as cs
from ansible_collections.aisec.gpu_host.plugins.module_utils.csaf_http import FetchError, require_https_url
from ansible_collections.aisec.gpu_host.plugins.module_utils.csaf_openpgp import (
    OpenPGPVerifier,
    normalize_fingerprint,
    parse_status,
)

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "provider"))
import csaf_test_kit as kit  # noqa: E402  pylint: disable=wrong-import-position

FPR = "BF47BD7427349C93164C2F2D51D54EF5530C641F"
OTHER = "A8914CA2F11139C6A69A0018FB3CD9B15DE61596"


def opts(**kw):
    params = {"source": kw.pop("source", "example.com"), "dest": kw.pop("dest", "/tmp/csaf-test-dest")}
    params.update(kw)
    return cs.build_options(params)


# --- sources and options ------------------------------------------------------------------------
@pytest.mark.parametrize("source,kind,value", [
    ("example.com", "domain", "example.com"),
    ("Example.COM.", "domain", "example.com"),
    ("127.0.0.1:8443", "domain", "127.0.0.1:8443"),
    ("https://example.com/.well-known/csaf/provider-metadata.json", "provider_metadata_url",
     "https://example.com/.well-known/csaf/provider-metadata.json"),
    ("/srv/mirror", "directory", "/srv/mirror"),
    ("./mirror", "directory", "./mirror"),
])
def test_classify_source(source, kind, value):
    assert cs.classify_source(source) == (kind, value)


@pytest.mark.parametrize("source,stype,msg", [
    ("http://example.com/provider-metadata.json", "auto", "only https"),
    ("ftp://example.com/x", "auto", "only https"),
    ("not a domain", "auto", "not a domain name"),
    ("localhost", "auto", "not a domain name"),
    ("example.com:99999", "auto", "invalid port"),
    ("example.com", "provider_metadata_url", "only https"),
    ("", "auto", "non-empty"),
    ("-bad-.com", "domain", "not a domain name"),
])
def test_classify_source_errors(source, stype, msg):
    with pytest.raises(ValueError, match=msg):
        cs.classify_source(source, stype)


def test_build_options_defaults_and_normalisation(tmp_path):
    o = cs.build_options({
        "source": "example.com", "dest": "mirror", "trusted_fingerprints": ["bf47 bd74 2734 9c93 164c  2f2d 51d5 4ef5 530c 641f"],
        "tlp_allow": ["tlp:white", "GREEN", "white"],
    }, base_dir=str(tmp_path))
    assert o.dest == str(tmp_path / "mirror")
    assert o.trusted_fingerprints == [FPR]
    assert o.tlp_allow == ["WHITE", "GREEN"]
    assert o.max_size == 15 * 1024 * 1024 and o.workers == 2 and o.max_redirects == 3
    assert not o.check_mode and o.require_hash and o.accept_crlf_hash and not o.strict
    assert o.policy_digest() == cs.build_options({"source": "example.com", "dest": "x", "trusted_fingerprints": [FPR],
                                                  "tlp_allow": ["GREEN", "WHITE"]}).policy_digest()


@pytest.mark.parametrize("params,msg", [
    ({"trusted_fingerprints": ["DEADBEEF"]}, "trusted_fingerprints: invalid OpenPGP fingerprint"),
    ({"tlp_allow": ["PURPLE"]}, "tlp_allow: unknown TLP label"),
    ({"tlp_allow": []}, "at least one TLP label"),
    ({"max_size": 10}, "max_size must be an integer between"),
    ({"workers": 0}, "workers must be"),
    ({"timeout": 0}, "timeout must be"),
    ({"max_redirects": 11}, "max_redirects must be"),
    ({"user_agent": "bad\r\nheader"}, "user_agent"),
    ({"expected_commit": "abc1234"}, "only applies to a directory source"),
    ({"source": "/srv/m", "expected_commit": "xyz"}, "7 to 64 hex digits"),
    ({"source": "/srv/m", "dest": "/srv/m/out"}, "must not be the source directory"),
    ({"source": "http://example.com/provider-metadata.json"}, "only https"),
    ({"tree_mode": "hardlink"}, "tree_mode"),
])
def test_build_options_errors(params, msg):
    with pytest.raises(cs.SyncError, match=msg):
        opts(**params)


def test_discovery_urls():
    assert cs.discovery_urls("example.com") == (
        "https://example.com/.well-known/csaf/provider-metadata.json",
        "https://example.com/.well-known/security.txt",
        "https://csaf.data.security.example.com/",
    )
    assert cs.discovery_urls("127.0.0.1:8443")[2] is None


def test_parse_security_txt():
    text = (
        "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n"
        "Contact: mailto:psirt@example.com\n# CSAF: https://commented.example.com/provider-metadata.json\n"
        "csaf: https://a.example.com/.well-known/csaf/provider-metadata.json\n"
        "CSAF: http://insecure.example.com/provider-metadata.json\n"
        "- CSAF: https://b.example.com/provider-metadata.json\n"
        "CSAF: https://a.example.com/.well-known/csaf/provider-metadata.json\n"
    )
    urls, ignored = cs.parse_security_txt(text)
    assert urls == ["https://a.example.com/.well-known/csaf/provider-metadata.json", "https://b.example.com/provider-metadata.json"]
    assert ignored == ["http://insecure.example.com/provider-metadata.json"]


# --- hashes ---------------------------------------------------------------------------------------
RAW = b'{\n  "a": 1\n}\n'


def test_parse_hash_text_formats():
    digest = hashlib.sha256(RAW).hexdigest()
    assert cs.parse_hash_text(digest, "sha256") == digest
    assert cs.parse_hash_text(("\ufeff%s  x.json\n" % digest.upper()).encode(), "sha256") == digest
    for bad in ("", "xyz", digest[:-1], "sha256:" + digest, b"\xff\xfe"):
        with pytest.raises(cs.Rejection):
            cs.parse_hash_text(bad, "sha256")


def test_check_digest_prefers_sha512_and_fails_closed():
    good512 = hashlib.sha512(RAW).hexdigest()
    good256 = hashlib.sha256(RAW).hexdigest()
    assert cs.check_digest(RAW, {"sha512": good512, "sha256": "0" * 64}) == ("sha512", None)
    assert cs.check_digest(RAW, {"sha256": good256}) == ("sha256", None)
    with pytest.raises(cs.Rejection, match="sha512 mismatch"):
        cs.check_digest(RAW, {"sha512": "0" * 128, "sha256": good256})
    with pytest.raises(cs.Rejection, match="no .sha512 or .sha256"):
        cs.check_digest(RAW, {})
    label, warning = cs.check_digest(RAW, {}, require_hash=False)
    assert label == "none" and "require_hash" in warning


def test_check_digest_crlf_defect():
    crlf_digest = hashlib.sha256(RAW.replace(b"\n", b"\r\n")).hexdigest()
    with pytest.raises(cs.Rejection, match="CRLF-converted text.*accept_crlf_hash"):
        cs.check_digest(RAW, {"sha256": crlf_digest})
    label, warning = cs.check_digest(RAW, {"sha256": crlf_digest}, accept_crlf_hash=True)
    assert label == "sha256-crlf" and "CRLF" in warning
    # already-CRLF content whose hash file is right is simply fine
    crlf_raw = RAW.replace(b"\n", b"\r\n")
    assert cs.check_digest(crlf_raw, {"sha256": crlf_digest}) == ("sha256", None)


# --- listings -------------------------------------------------------------------------------------
def test_parse_changes_and_index():
    text = '"2024/b.json","2024-03-02T00:00:00Z"\n\n"2023/a.json","2023-01-01T00:00:00Z"\n'
    assert cs.parse_changes_csv(text) == [("2024/b.json", "2024-03-02T00:00:00Z"), ("2023/a.json", "2023-01-01T00:00:00Z")]
    with pytest.raises(ValueError, match="line 1"):
        cs.parse_changes_csv('"2024/b.json"\n')
    assert cs.parse_index_txt("2024/b.json\n\n 2023/a.json \n") == ["2024/b.json", "2023/a.json"]


@pytest.mark.parametrize("rel", ["2024/a.json", "1999/x_y+z-1.json"])
def test_check_directory_path_ok(rel):
    assert cs.check_directory_path(rel) == rel


@pytest.mark.parametrize("rel", ["../2024/a.json", "/2024/a.json", "2024/../a.json", "https://evil/2024/a.json",
                                 "24/a.json", "2024/a.txt", "2024/sub/a.json", "2024\\a.json", "2024/a b.json"])
def test_check_directory_path_refused(rel):
    with pytest.raises(cs.Rejection, match="not of the form"):
        cs.check_directory_path(rel)


def test_parse_rolie_feed():
    feed_url = "https://p.example.com/.well-known/csaf/white/feed.json"
    feed = {"feed": {"entry": [
        {"content": {"src": "2024/a.json"}, "updated": "2024-01-01T00:00:00Z",
         "link": [{"rel": "hash", "href": "2024/a.json.sha256"}, {"rel": "hash", "href": "2024/a.json.sha512"},
                  {"rel": "hash", "href": "2024/a.json.md5"}, {"rel": "signature", "href": "2024/a.json.asc"}]},
        {"link": [{"rel": "self", "href": "https://p.example.com/x/2024/b.json"}]},
        {"content": {"src": "http://p.example.com/2024/c.json"}},
        {"title": "no link"},
        "junk",
    ]}}
    entries, problems = cs.parse_rolie_feed(feed, feed_url)
    assert entries[0] == {
        "url": "https://p.example.com/.well-known/csaf/white/2024/a.json",
        "updated": "2024-01-01T00:00:00Z",
        "hashes": [("sha512", "https://p.example.com/.well-known/csaf/white/2024/a.json.sha512"),
                   ("sha256", "https://p.example.com/.well-known/csaf/white/2024/a.json.sha256")],
        "signature": "https://p.example.com/.well-known/csaf/white/2024/a.json.asc",
    }
    assert entries[1]["url"] == "https://p.example.com/x/2024/b.json" and entries[1]["hashes"] == []
    assert len(entries) == 2
    reasons = " | ".join(r for _w, r in problems)
    assert "only https" in reasons and "no content src" in reasons and "not an object" in reasons
    with pytest.raises(ValueError):
        cs.parse_rolie_feed({"nofeed": 1}, feed_url)


def test_plan_distributions():
    pmd = {"distributions": [
        {"directory_url": "https://p/dir/"},
        {"rolie": {"feeds": [
            {"tlp_label": "WHITE", "url": "https://p/white.json"},
            {"tlp_label": "RED", "url": "https://p/red.json"},
            {"tlp_label": "UNLABELED", "url": "https://p/unlabeled.json"},
        ]}},
    ]}
    plan = cs.plan_distributions(pmd, ["WHITE", "UNLABELED"])
    assert plan["mode"] == "rolie"
    assert plan["feeds"] == [("https://p/white.json", "WHITE"), ("https://p/unlabeled.json", "UNLABELED")]
    assert any("TLP:RED" in s for s in plan["skipped"]) and any("ROLIE feeds are preferred" in s for s in plan["skipped"])
    assert cs.plan_distributions({"distributions": [{"directory_url": "https://p/dir/"}]}, ["WHITE"])["mode"] == "directory"
    assert cs.plan_distributions({}, ["WHITE"])["mode"] is None


@pytest.mark.parametrize("rel,year", [
    ("2024/a.json", "2024"), ("2024/5586/5586.json", "2024"), ("/csaf/white/2023/x.json", "2023"),
    ("/csaf/white/x.json", None), ("2024/abc/CVE-2024-1.json", None),
])
def test_year_folder(rel, year):
    assert cs.year_folder(rel) == year


def test_normalize_tlp():
    assert cs.normalize_tlp(None) == "UNLABELED"
    assert cs.normalize_tlp("tlp:amber+strict") == "AMBER+STRICT"
    with pytest.raises(ValueError):
        cs.normalize_tlp("BLUE")


def test_require_https_url():
    assert require_https_url("https://h/x") == "https://h/x"
    for bad in ("http://h/x", "https:///x", "https://u:p@h/x", "https://h/x y", "file:///etc/passwd", None):
        with pytest.raises(FetchError):
            require_https_url(bad)


# --- OpenPGP status parsing (pure) --------------------------------------------------------------
def _validsig(fpr, primary, algo="8"):
    return "[GNUPG:] VALIDSIG %s 2026-01-01 1767225600 0 4 0 22 %s 00 %s\n" % (fpr, algo, primary)


def test_normalize_fingerprint():
    assert normalize_fingerprint("0x" + FPR.lower()) == FPR
    assert normalize_fingerprint("BF47 BD74 2734 9C93 164C  2F2D 51D5 4EF5 530C 641F") == FPR
    for bad in ("51D54EF5530C641F", FPR + "0", "Z" * 40, 42):
        with pytest.raises(ValueError):
            normalize_fingerprint(bad)


def test_parse_status():
    good = "[GNUPG:] GOODSIG 51D54EF5530C641F x\n" + _validsig(FPR, FPR)
    res = parse_status(good, [FPR])
    assert res.ok and res.fingerprint == FPR
    assert not parse_status(good, [OTHER]).ok
    assert "not pinned" in parse_status(good, [OTHER]).detail
    subkey = _validsig(OTHER, FPR)
    assert parse_status(subkey, [OTHER]).fingerprint == OTHER
    assert "weak digest SHA-1" in parse_status(_validsig(FPR, FPR, algo="2"), [FPR]).detail
    assert "bad signature" in parse_status("[GNUPG:] BADSIG 51D5 x\n", [FPR]).detail
    assert not parse_status(good + "[GNUPG:] EXPKEYSIG x\n", [FPR]).ok
    assert not parse_status(good, [FPR], returncode=1).ok
    assert "no valid signature" in parse_status("", [FPR]).detail


@pytest.mark.skipif(not shutil.which("gpg"), reason="gpg not installed")
def test_verifier_roundtrip_and_pinning():
    key = kit.GpgKey()
    other = kit.GpgKey("Other <other@example.com>")
    try:
        with OpenPGPVerifier([key.fingerprint, OTHER]) as verifier:
            assert verifier.add_key_data(key.public_key, "k") == [key.fingerprint]
            verifier.add_key_data(other.public_key, "other")  # imported but not pinned: never used
            assert verifier.finalize() == [OTHER]
            assert verifier.verify(RAW, key.sign(RAW)).ok
            bad = verifier.verify(RAW + b" ", key.sign(RAW))
            assert not bad.ok and "bad signature" in bad.detail
            unpinned = verifier.verify(RAW, other.sign(RAW))
            assert not unpinned.ok
            assert not verifier.verify(RAW, b"garbage").ok
            assert not verifier.verify(RAW, b"").ok
            home = verifier.home
        assert not os.path.exists(home)
    finally:
        key.close()
        other.close()


# --- local layout, git HEAD, mirror store --------------------------------------------------------
def test_list_local_documents(tmp_path):
    for rel in ("2024/5586/5586.json", "2024/5586/CVE-2024-1.json", "2024/flat.json", "2024/5586/5586.json.sha256",
                "misc/x.json", ".git/2024/x.json", "2023/a/b/c.json", "README.md"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("{}")
    os.symlink(str(tmp_path / "2024/flat.json"), str(tmp_path / "2024/link.json"))
    found, problems = cs.list_local_documents(str(tmp_path))
    assert found == ["2024/flat.json", "2024/5586/5586.json"]
    assert problems == [("2024/link.json", "is a symbolic link; not followed")]


def test_read_git_head(tmp_path):
    assert cs.read_git_head(str(tmp_path)) is None
    git = tmp_path / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    assert cs.read_git_head(str(tmp_path)) is None
    (git / "packed-refs").write_text("# pack-refs\n%s refs/heads/main\n" % ("ab" * 20))
    assert cs.read_git_head(str(tmp_path)) == "ab" * 20
    (git / "refs" / "heads" / "main").write_text("cd" * 20 + "\n")
    assert cs.read_git_head(str(tmp_path)) == "cd" * 20
    (git / "HEAD").write_text("EF" * 20 + "\n")
    assert cs.read_git_head(str(tmp_path)) == "ef" * 20


@pytest.mark.parametrize("mode", ["symlink", "copy"])
def test_store_tree_reconcile(tmp_path, mode):
    store = cs.MirrorStore(str(tmp_path), mode)
    store.open()
    try:
        digest = store.put_blob(b"one")
        assert store.reconcile_tree({"2024/a.json": digest}) == ["2024/a.json"]
        assert (tmp_path / "2024" / "a.json").read_bytes() == b"one"
        assert os.path.islink(str(tmp_path / "2024" / "a.json")) is (mode == "symlink")
        assert store.reconcile_tree({"2024/a.json": digest}) == []
        (tmp_path / "2024" / "stray.json").write_text("x")
        assert store.reconcile_tree({"2024/a.json": digest}) == ["2024/stray.json"]
        assert store.reconcile_tree({}) == ["2024/a.json"] and not (tmp_path / "2024").exists()
        assert store.collect_garbage(set(), set()) == 1
        store.index["documents"]["k"] = {"sha256": digest}
        assert store.save_index() is True and store.save_index() is False
        assert json.loads((tmp_path / "index.json").read_text())["format"] == cs.INDEX_FORMAT
    finally:
        store.close()


def test_store_lock_and_foreign_index(tmp_path):
    first = cs.MirrorStore(str(tmp_path))
    first.open()
    try:
        with pytest.raises(cs.SyncError, match="holds the lock"):
            cs.MirrorStore(str(tmp_path)).open()
    finally:
        first.close()
    (tmp_path / "index.json").write_text('{"format": "something-else"}')
    with pytest.raises(cs.SyncError, match="not a csaf_sync index"):
        cs.MirrorStore(str(tmp_path)).open()
    foreign = tmp_path / "checkout"
    (foreign / "2024").mkdir(parents=True)
    (foreign / "2024" / "keep.json").write_text("{}")
    with pytest.raises(cs.SyncError, match="not empty and holds no csaf_sync index.json"):
        cs.MirrorStore(str(foreign)).open()
    assert (foreign / "2024" / "keep.json").exists()
