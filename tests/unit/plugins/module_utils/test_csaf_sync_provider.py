# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""End-to-end tests of csaf_sync against generated CSAF providers on 127.0.0.1 (HTTPS, test CA,
throwaway ed25519 OpenPGP key) and against local NVIDIA-style directories."""

from __future__ import annotations

import json
import os
import shutil
import sys

import pytest

from ansible_collections.aisec.gpu_host.plugins.module_utils import csaf_sync as cs

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "provider"))
import csaf_test_kit as kit  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.skipif(not shutil.which("gpg"), reason="gpg is needed for the provider tests")

OTHER_FPR = "A8914CA2F11139C6A69A0018FB3CD9B15DE61596"


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    pytest.importorskip("cryptography")
    return kit.make_tls(str(tmp_path_factory.mktemp("tls")))


@pytest.fixture(scope="module")
def key():
    k = kit.GpgKey()
    yield k
    k.close()


@pytest.fixture()
def server(tls):
    srv = kit.HttpsServer(tls[1], tls[2])
    yield srv
    srv.close()


def sync(source, dest, tls=None, **params):
    check_mode = params.pop("check_mode", False)
    p = {"source": source, "dest": str(dest), "use_proxy": False, "timeout": 10}
    if tls is not None:
        p["ca_path"] = tls[0]
    p.update(params)
    return cs.run_sync(cs.build_options(p, check_mode=check_mode))


def reasons(result):
    return {r["source"].rsplit("/", 1)[-1]: r["reason"] for r in result["rejected"]}


def doc_paths(server, provider):
    """Requests for documents, hash files and signatures (not for metadata or listings)."""
    return [p for p in server.paths() if p.startswith(provider.folder)
            and not p.rsplit("/", 1)[-1].startswith(("feed-", "index.txt", "changes.csv", "signing-key"))]


# --- ROLIE, trusted provider ------------------------------------------------------------------------
def test_rolie_sync_resync_update_and_silent_edit(server, key, tls, tmp_path):
    prov = kit.Provider(server, key)
    raw1 = kit.dump(kit.make_doc("EXAMPLE-2024-0001"))
    raw2 = kit.dump(kit.make_doc("Example:2023/0007", initial="2023-05-01T00:00:00Z"))
    prov.add("2024/example-2024-0001.json", raw1)
    prov.add("2023/example_2023_0007.json", raw2, sha512=False)  # sha256 only
    prov.publish()
    pins = [key.fingerprint]
    dest = tmp_path / "mirror"

    first = sync(prov.pmd_url(), dest, tls, trusted_fingerprints=pins)
    assert first["counts"] == {"new": 2, "updated": 0, "unchanged": 0, "rejected": 0}, first
    assert first["changed"] and not first.get("failed")
    assert first["provider"]["role"] == "csaf_trusted_provider" and first["provider"]["discovered_via"] == "configured URL"
    by_id = {d["tracking_id"]: d for d in first["documents"]}
    assert by_id["EXAMPLE-2024-0001"]["hash"] == "sha512" and by_id["Example:2023/0007"]["hash"] == "sha256"
    assert all(d["signature"] == "valid" and d["signer"] == key.fingerprint for d in first["documents"])
    tree1 = dest / "2024" / "example-2024-0001.json"
    assert tree1.read_bytes() == raw1 and os.path.islink(str(tree1))
    assert (dest / "2023" / "example_2023_0007.json").read_bytes() == raw2
    index = json.loads((dest / "index.json").read_text())
    entry = index["documents"][prov.url("2024/example-2024-0001.json")]
    assert entry["sha256"] == kit.sha(raw1) and entry["signature"] == "valid" and entry["version"] == "1"
    assert entry["tracking_id"] == "EXAMPLE-2024-0001" and entry["current_release_date"] and entry["fetched_at"]
    assert (dest / "blobs" / "sha256" / kit.sha(raw1)[:2] / kit.sha(raw1)).read_bytes() == raw1
    ua = {h.get("User-Agent") for _p, h in server.log}
    assert ua == {"aisec.gpu_host-csaf_sync/0.1.0"}

    # Re-sync: nothing changed, nothing but metadata fetched (feed answered 304 from its ETag)
    server.log.clear()
    second = sync(prov.pmd_url(), dest, tls, trusted_fingerprints=pins)
    assert second["counts"] == {"new": 0, "updated": 0, "unchanged": 2, "rejected": 0}
    assert not second["changed"] and second["tree_changes"] == []
    assert doc_paths(server, prov) == []
    assert "If-None-Match" in dict(server.log)[prov.folder + "feed-tlp-white.json"]

    # A new version with a new ROLIE 'updated' value -> updated; the old blob is garbage-collected
    raw1b = kit.dump(kit.make_doc("EXAMPLE-2024-0001", version="2", current="2024-04-01T00:00:00.000Z"))
    prov.add("2024/example-2024-0001.json", raw1b, updated="2024-04-01T00:00:00Z")
    prov.publish()
    server.log.clear()
    third = sync(prov.pmd_url(), dest, tls, trusted_fingerprints=pins)
    assert third["counts"] == {"new": 0, "updated": 1, "unchanged": 1, "rejected": 0}
    assert tree1.read_bytes() == raw1b and third["tree_changes"] == ["2024/example-2024-0001.json"]
    assert not (dest / "blobs" / "sha256" / kit.sha(raw1)[:2] / kit.sha(raw1)).exists()
    assert {p.rsplit("/", 1)[-1] for p in doc_paths(server, prov)} == {
        "example-2024-0001.json", "example-2024-0001.json.sha512", "example-2024-0001.json.asc"}

    # Silent in-place edit (same 'updated'): only full_resync sees it; content hash decides
    raw2b = kit.dump(kit.make_doc("Example:2023/0007", initial="2023-05-01T00:00:00Z", title="Edited in place"))
    prov.add("2023/example_2023_0007.json", raw2b, sha512=False)
    prov.publish()
    assert sync(prov.pmd_url(), dest, tls, trusted_fingerprints=pins)["counts"]["unchanged"] == 2
    full = sync(prov.pmd_url(), dest, tls, trusted_fingerprints=pins, full_resync=True)
    assert full["counts"] == {"new": 0, "updated": 1, "unchanged": 1, "rejected": 0}


def test_rejections_each_with_a_clear_reason(server, key, tls, tmp_path):
    prov = kit.Provider(server, key)
    good = kit.dump(kit.make_doc("EXAMPLE-2024-0100"))
    prov.add("2024/example-2024-0100.json", good)
    bad_hash = kit.dump(kit.make_doc("EXAMPLE-2024-0101"))
    prov.add("2024/example-2024-0101.json", bad_hash, sha512="0" * 128 + "  example-2024-0101.json\n")
    bad_sig = kit.dump(kit.make_doc("EXAMPLE-2024-0102"))
    prov.add("2024/example-2024-0102.json", bad_sig, sign=key.sign(b"something else"))
    prov.add("2024/example-2024-0103.json", kit.dump(kit.make_doc("EXAMPLE-2024-0103")), sign=False)
    prov.add("2024/example-2024-0104.json", kit.dump(kit.make_doc("EXAMPLE-2024-0104", status="draft")))
    prov.add("2024/example-2024-0105.json", kit.dump(kit.make_doc("EXAMPLE-2024-0105", version="0")))
    prov.add("2024/example-2024-0106.json", kit.dump(kit.make_doc("EXAMPLE-2024-0106", tlp="RED")))
    big = kit.make_doc("EXAMPLE-2024-0107")
    big["document"]["notes"][0]["text"] = "x" * 40000
    prov.add("2024/example-2024-0107.json", kit.dump(big))
    big2 = kit.make_doc("EXAMPLE-2024-0108")
    big2["document"]["notes"][0]["text"] = "y" * 40000
    prov.add("2024/example-2024-0108.json", kit.dump(big2))
    server.routes[prov.folder + "2024/example-2024-0108.json"]["no_length"] = True  # streamed, no Content-Length
    prov.add("2024/wrong-name.json", kit.dump(kit.make_doc("EXAMPLE-2024-0109")))
    prov.add("2023/example-2024-0110.json", kit.dump(kit.make_doc("EXAMPLE-2024-0110")))
    prov.add("2024/example-2024-0111.json", kit.dump(kit.make_doc("EXAMPLE-2024-0111")))
    server.routes[prov.folder + "2024/example-2024-0111.json"] = {
        "redirect": "http://127.0.0.1:%d%s2024/example-2024-0111.json" % (server.port, prov.folder)}
    invalid = kit.make_doc("EXAMPLE-2024-0112")
    del invalid["document"]["title"]
    prov.add("2024/example-2024-0112.json", kit.dump(invalid))
    prov.add("2024/example-2024-0113.json", b"{not json", sign=True)
    prov.add("2024/example-2024-0120.json", kit.dump(kit.make_doc("EXAMPLE-2024-0120", tlp="RED")), feed_tlp="RED")
    prov.publish()

    result = sync(prov.pmd_url(), tmp_path / "m", tls, trusted_fingerprints=[key.fingerprint], max_size=16384, workers=4)
    assert result["counts"]["new"] == 1, result
    why = reasons(result)
    expected = {
        "example-2024-0101.json": "sha512 mismatch",
        "example-2024-0102.json": "OpenPGP signature check failed: bad signature",
        "example-2024-0103.json": "no OpenPGP signature (.asc) published, but the provider is trusted",
        "example-2024-0104.json": "document status is draft",
        "example-2024-0105.json": "draft version: 6.1.17",
        "example-2024-0106.json": "document is labelled TLP:RED, which is not in tlp_allow",
        "example-2024-0107.json": "too large: Content-Length",
        "example-2024-0108.json": "too large: body exceeds the limit of 16384 bytes",
        "wrong-name.json": "file name 'wrong-name.json' does not match tracking.id 'EXAMPLE-2024-0109'",
        "example-2024-0110.json": "year folder 2023 does not match initial_release_date 2024",
        "example-2024-0111.json": "refused redirect (HTTP 302) to non-https URL http://",
        "example-2024-0112.json": "CSAF validation failed: schema: /document",
        "example-2024-0113.json": "not a usable CSAF JSON document: invalid JSON",
    }
    for name, text in expected.items():
        assert text in why.get(name, ""), (name, why.get(name))
    assert result["counts"]["rejected"] == len(expected) == len(result["rejected"])
    assert not any(r["kept_previous"] for r in result["rejected"])
    assert any("TLP:RED is not in tlp_allow" in w for w in result["sync_warnings"])
    assert prov.folder + "feed-tlp-red.json" not in server.paths()
    assert [p.name for p in (tmp_path / "m" / "2024").iterdir()] == ["example-2024-0100.json"]
    assert len(json.loads((tmp_path / "m" / "index.json").read_text())["documents"]) == 1

    failing = sync(prov.pmd_url(), tmp_path / "m2", tls, trusted_fingerprints=[key.fingerprint], max_size=16384,
                   fail_on_rejected=True)
    assert failing["failed"] and "fail_on_rejected" in failing["msg"]


def test_rejected_update_keeps_previous_version(server, key, tls, tmp_path):
    prov = kit.Provider(server, key)
    raw = kit.dump(kit.make_doc("EXAMPLE-2024-0200"))
    prov.add("2024/example-2024-0200.json", raw)
    prov.publish()
    pins = [key.fingerprint]
    assert sync(prov.pmd_url(), tmp_path, tls, trusted_fingerprints=pins)["counts"]["new"] == 1
    tampered = kit.dump(kit.make_doc("EXAMPLE-2024-0200", version="2", current="2024-05-01T00:00:00.000Z"))
    prov.add("2024/example-2024-0200.json", tampered, updated="2024-05-01T00:00:00Z", sign=key.sign(raw))
    prov.publish()
    result = sync(prov.pmd_url(), tmp_path, tls, trusted_fingerprints=pins)
    assert result["rejected"][0]["kept_previous"] and "previously verified version is kept" in result["rejected"][0]["reason"]
    assert (tmp_path / "2024" / "example-2024-0200.json").read_bytes() == raw


# --- directory distribution ---------------------------------------------------------------------------
def test_directory_provider_incremental(server, tls, tmp_path):
    prov = kit.Provider(server, key=None, mode="directory")
    raw_a = kit.dump(kit.make_doc("EXAMPLE-2024-0301"))
    raw_b = kit.dump(kit.make_doc("EXAMPLE-2023-0302", tlp=None, initial="2023-02-01T00:00:00Z"))
    prov.add("2024/example-2024-0301.json", raw_a, updated="2024-03-01T10:00:00Z")
    prov.add("2023/example-2023-0302.json", raw_b, updated="2023-02-01T00:00:00Z")
    prov.publish()
    server.put(prov.folder + "index.txt", "2024/example-2024-0301.json\n2023/example-2023-0302.json\n../../etc/passwd\n")

    first = sync(prov.pmd_url(), tmp_path, tls)
    assert first["counts"] == {"new": 2, "updated": 0, "unchanged": 0, "rejected": 1}
    assert "not of the form <YYYY>/<file>.json" in first["rejected"][0]["reason"]
    assert {d["signature"] for d in first["documents"]} == {"not_checked"}
    assert prov.folder + "2024/example-2024-0301.json.asc" not in server.paths()  # no pins: signatures not fetched

    server.log.clear()
    second = sync(prov.pmd_url(), tmp_path, tls)
    assert second["counts"]["unchanged"] == 2 and second["counts"]["new"] == 0
    assert doc_paths(server, prov) == []

    raw_a2 = kit.dump(kit.make_doc("EXAMPLE-2024-0301", version="2", current="2024-06-01T00:00:00.000Z"))
    prov.add("2024/example-2024-0301.json", raw_a2, updated="2024-06-01T00:00:00Z")
    prov.publish()
    third = sync(prov.pmd_url(), tmp_path, tls)
    assert third["counts"] == {"new": 0, "updated": 1, "unchanged": 1, "rejected": 0}
    assert (tmp_path / "2024" / "example-2024-0301.json").read_bytes() == raw_a2

    # a new changes.csv date with the same bytes: one conditional GET answered 304, no hash download
    prov.add("2023/example-2023-0302.json", raw_b, updated="2024-07-01T00:00:00Z")
    prov.publish()
    server.log.clear()
    fourth = sync(prov.pmd_url(), tmp_path, tls)
    assert fourth["counts"] == {"new": 0, "updated": 0, "unchanged": 2, "rejected": 0} and not fourth["changed"]
    assert doc_paths(server, prov) == [prov.folder + "2023/example-2023-0302.json"]
    assert "If-None-Match" in server.log[-1][1]
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["documents"][prov.url("2023/example-2023-0302.json")]["marker"] == "2024-07-01T00:00:00Z"


# --- discovery and provider metadata ------------------------------------------------------------------
def test_discovery_via_well_known(server, key, tls, tmp_path):
    prov = kit.Provider(server, key)
    prov.add("2024/example-2024-0401.json", kit.dump(kit.make_doc("EXAMPLE-2024-0401")))
    prov.publish()
    result = sync(server.netloc, tmp_path, tls, trusted_fingerprints=[key.fingerprint])
    assert result["provider"]["discovered_via"] == "well-known URL"
    assert result["counts"]["new"] == 1


def test_discovery_via_security_txt(server, tls, tmp_path):
    prov = kit.Provider(server, pmd_path="/csaf/provider-metadata.json", folder="/csaf/white/")
    prov.add("2024/example-2024-0402.json", kit.dump(kit.make_doc("EXAMPLE-2024-0402")))
    prov.publish()
    server.put("/.well-known/security.txt",
               "Contact: mailto:psirt@example.com\nCSAF: http://127.0.0.1:%d/csaf/provider-metadata.json\nCSAF: %s\n"
               % (server.port, prov.pmd_url()))
    result = sync(server.netloc, tmp_path, tls)
    assert result["provider"]["discovered_via"] == "security.txt"
    assert result["provider"]["provider_metadata_url"] == prov.pmd_url()
    assert any("only https:// URLs are used" in w for w in result["sync_warnings"])
    assert result["counts"]["new"] == 1
    assert server.paths()[:2] == ["/.well-known/csaf/provider-metadata.json", "/.well-known/security.txt"]


def test_discovery_finds_nothing(server, tls, tmp_path):
    with pytest.raises(cs.SyncError, match="no CSAF provider metadata found for 127.0.0.1:.*HTTP 404"):
        sync(server.netloc, tmp_path, tls)


@pytest.mark.parametrize("case,msg", [
    ("canonical", "canonical_url .* does not equal the URL it came from"),
    ("schema", "fails the CSAF provider schema"),
    ("nodist", "lists no ROLIE feed or directory distribution"),
    ("http_redirect", "refused redirect .* to non-https URL"),
    ("loop", "too many redirects"),
    ("untrusted_cert", "certificate verification failed"),
    ("missing_key", "no public key was found for any pinned fingerprint"),
])
def test_provider_level_failures(server, key, tls, tmp_path, case, msg):
    prov = kit.Provider(server, key)
    prov.add("2024/example-2024-0500.json", kit.dump(kit.make_doc("EXAMPLE-2024-0500")))
    params = {"trusted_fingerprints": [key.fingerprint]}
    use_tls = tls
    if case == "canonical":
        prov.publish(canonical="https://elsewhere.example.com/.well-known/csaf/provider-metadata.json")
    elif case == "schema":
        prov.pmd_extra = {"role": "csaf_overlord"}
        prov.publish()
    elif case == "nodist":
        prov.pmd_extra = {"distributions": [{"rolie": {"feeds": [{"tlp_label": "RED", "url": prov.feed_url("RED")}]}}]}
        prov.publish()
        params["tlp_allow"] = ["WHITE"]
        msg = "no ROLIE feed of the provider has a TLP label in tlp_allow"
    elif case == "http_redirect":
        server.routes[prov.pmd_path] = {"redirect": "http://127.0.0.1:%d/x/provider-metadata.json" % server.port}
    elif case == "loop":
        server.routes[prov.pmd_path] = {"redirect": prov.pmd_url() + "?again"}
    elif case == "untrusted_cert":
        prov.publish()
        use_tls = None
    elif case == "missing_key":
        prov.publish()
        params["trusted_fingerprints"] = [OTHER_FPR]
    with pytest.raises(cs.SyncError, match=msg):
        sync(prov.pmd_url(), tmp_path, use_tls, **params)


def test_broken_feed_fails_the_run_but_keeps_other_feeds(server, tls, tmp_path):
    prov = kit.Provider(server)
    prov.add("2024/example-2024-0601.json", kit.dump(kit.make_doc("EXAMPLE-2024-0601")))
    prov.add("2024/example-2024-0602.json", kit.dump(kit.make_doc("EXAMPLE-2024-0602", tlp="GREEN")), feed_tlp="GREEN")
    prov.publish()
    server.put(prov.folder + "feed-tlp-green.json", "[]")
    result = sync(prov.pmd_url(), tmp_path, tls)
    assert result["failed"] and "feed-tlp-green.json unusable: not a ROLIE feed" in result["msg"]
    assert result["counts"]["new"] == 1 and (tmp_path / "2024" / "example-2024-0601.json").exists()


def test_check_mode_remote_fetches_nothing(server, tls, tmp_path):
    prov = kit.Provider(server)
    prov.add("2024/example-2024-0701.json", kit.dump(kit.make_doc("EXAMPLE-2024-0701")))
    prov.publish()
    result = sync(prov.pmd_url(), tmp_path / "m", tls, check_mode=True)
    assert server.log == [] and result["requests"] == 0
    assert result["check_mode"] and not result["changed"]
    assert "nothing was fetched" in result["msg"] and "not even for the provider metadata" in result["msg"]
    assert not (tmp_path / "m").exists()


def test_policy_change_reverifies_and_prunes(server, tls, tmp_path):
    prov = kit.Provider(server)
    prov.add("2024/example-2024-0801.json", kit.dump(kit.make_doc("EXAMPLE-2024-0801")))
    prov.add("2024/example-2024-0802.json", kit.dump(kit.make_doc("EXAMPLE-2024-0802", tlp="GREEN")), feed_tlp="GREEN")
    prov.publish()
    assert sync(prov.pmd_url(), tmp_path, tls)["counts"]["new"] == 2
    narrowed = sync(prov.pmd_url(), tmp_path, tls, tlp_allow=["WHITE"])
    assert narrowed["counts"] == {"new": 0, "updated": 0, "unchanged": 1, "rejected": 0}
    assert any("acceptance policy changed" in w for w in narrowed["sync_warnings"])
    assert not (tmp_path / "2024" / "example-2024-0802.json").exists()
    assert narrowed["tree_changes"] == ["2024/example-2024-0802.json"] and narrowed["changed"]
    with pytest.raises(cs.SyncError, match="already mirrors"):
        sync(server.netloc, tmp_path, tls)


# --- local directory (NVIDIA layout) ------------------------------------------------------------------
def _nvidia_tree(root, key=None):
    docs = {}
    for num, crlf in (("5586", True), ("5614", False)):
        raw = kit.dump(kit.make_doc(num, initial="2024-10-22T00:00:00.000Z"))
        folder = root / "2024" / num
        folder.mkdir(parents=True)
        (folder / (num + ".json")).write_bytes(raw)
        digest = kit.sha(raw.replace(b"\n", b"\r\n") if crlf else raw)
        (folder / (num + ".json.sha256")).write_text(digest)  # bare hex, no newline (NVIDIA format)
        (folder / "CVE-2024-0126.json").write_text('{"dataType": "CVE_RECORD"}')
        (folder / (num + ".md")).write_text("# bulletin")
        if key is not None:
            (folder / (num + ".json.asc")).write_bytes(key.sign(raw))
        docs[num] = raw
    git = root / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text("0123456789abcdef0123456789abcdef01234567\n")
    return docs


def test_local_nvidia_layout_crlf_defect(tmp_path):
    src = tmp_path / "product-security"
    docs = _nvidia_tree(src)
    dest = tmp_path / "mirror"

    plan = sync(str(src), dest, check_mode=True)
    assert plan["check_mode"] and plan["counts"]["new"] == 2 and not dest.exists()

    strict = sync(str(src), dest, expected_commit="0123456", strict=True)
    assert strict["counts"] == {"new": 1, "updated": 0, "unchanged": 0, "rejected": 1}
    assert strict["rejected"][0]["source"] == "2024/5586/5586.json"
    assert "CRLF-converted text" in strict["rejected"][0]["reason"] and "strict" in strict["rejected"][0]["reason"]
    # the content is verified modulo line endings, so the components it names are known
    assert strict["rejected"][0]["components"] == []  # a list (the test document names no GPU component), not None
    assert strict["source"]["commit"] == "0123456789abcdef0123456789abcdef01234567"
    assert strict["requests"] == 0
    index = json.loads((dest / "index.json").read_text())
    assert [(r["tracking_id"], r["components"]) for r in index["rejected"]] == [("5586", [])]
    assert sync(str(src), dest, accept_crlf_hash=False)["counts"]["rejected"] == 1

    lenient = sync(str(src), dest)  # the default: accepted with a warning
    assert lenient["counts"] == {"new": 1, "updated": 0, "unchanged": 1, "rejected": 0}
    assert json.loads((dest / "index.json").read_text())["rejected"] == []
    crlf_doc = next(d for d in lenient["documents"] if d["tracking_id"] == "5586")
    assert crlf_doc["hash"] == "sha256-crlf" and crlf_doc["warnings"]
    assert any("2024/5586/5586.json" in w and "CRLF" in w for w in lenient["sync_warnings"])
    assert (dest / "2024" / "5586.json").read_bytes() == docs["5586"]
    assert sorted(p.name for p in (dest / "2024").iterdir()) == ["5586.json", "5614.json"]

    again = sync(str(src), dest, accept_crlf_hash=True)
    assert again["counts"]["unchanged"] == 2 and not again["changed"]
    assert any("CRLF" in w for w in again["sync_warnings"]), "the CRLF acceptance is reported on every run"

    # check mode sees a changed file but writes nothing
    (src / "2024" / "5614" / "5614.json").write_bytes(kit.dump(kit.make_doc("5614", initial="2024-10-22T00:00:00.000Z",
                                                                            title="changed")))
    before = (dest / "index.json").read_bytes()
    plan = sync(str(src), dest, accept_crlf_hash=True, check_mode=True)
    assert plan["counts"] == {"new": 0, "updated": 1, "unchanged": 1, "rejected": 0} and plan["changed"]
    assert (dest / "index.json").read_bytes() == before
    # the changed file no longer matches its .sha256: rejected, previous version kept
    after = sync(str(src), dest, accept_crlf_hash=True, tree_mode="symlink")
    assert after["rejected"][0]["kept_previous"] and "sha256 mismatch" in after["rejected"][0]["reason"]
    assert after["rejected"][0]["components"] is None  # content not trusted: reported for every component
    assert (dest / "2024" / "5614.json").read_bytes() == docs["5614"]

    with pytest.raises(cs.SyncError, match="not the pinned expected_commit"):
        sync(str(src), dest, accept_crlf_hash=True, expected_commit="fedcba9")


def test_local_signed_mirror_with_pinned_key(key, tmp_path):
    src = tmp_path / "src"
    _nvidia_tree(src, key=key)
    (src / "2024" / "5614" / "5614.json.asc").unlink()
    keyfile = tmp_path / "signer.asc"
    keyfile.write_bytes(key.public_key)
    result = sync(str(src), tmp_path / "m", trusted_fingerprints=[key.fingerprint], public_keys=[str(keyfile)],
                  accept_crlf_hash=True, tree_mode="copy")
    assert result["counts"]["new"] == 1
    assert result["documents"][0]["signature"] == "valid"
    assert "no OpenPGP signature" in reasons(result)["5614.json"]
    assert not os.path.islink(str(tmp_path / "m" / "2024" / "5586.json"))
    with pytest.raises(cs.SyncError, match="public_keys: cannot read"):
        sync(str(src), tmp_path / "m3", trusted_fingerprints=[key.fingerprint], public_keys=[str(tmp_path / "none.asc")])


def test_local_source_missing(tmp_path):
    with pytest.raises(cs.SyncError, match="does not exist"):
        sync(str(tmp_path / "absent"), tmp_path / "m")


def test_local_date_only_timestamp_is_a_known_defect(tmp_path):
    src = tmp_path / "src"
    doc = kit.make_doc("5817", initial="2026-04-14T00:00:00.000Z")
    doc["document"]["tracking"]["revision_history"][0]["date"] = "2026-04-14"
    raw = kit.dump(doc)
    folder = src / "2026" / "5817"
    folder.mkdir(parents=True)
    (folder / "5817.json").write_bytes(raw)
    (folder / "5817.json.sha256").write_text(kit.sha(raw))
    lenient = sync(str(src), tmp_path / "m1")
    assert lenient["counts"]["new"] == 1
    assert any("known publisher defect" in w and "strict is false" in w for w in lenient["documents"][0]["warnings"])
    strict = sync(str(src), tmp_path / "m2", strict=True)
    assert strict["counts"]["rejected"] == 1 and "date-time" in strict["rejected"][0]["reason"]
