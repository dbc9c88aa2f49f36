# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for the CSAF matching engine (csaf_match) on synthetic NVIDIA-style and generic advisories."""

from __future__ import annotations

import copy
import json
import os
import sys

import pytest

from ansible_collections.aisec.gpu_host.plugins.module_utils import csaf_document
from ansible_collections.aisec.gpu_host.plugins.module_utils import csaf_match as cm

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "fixtures", "nvidia")
sys.path.insert(0, FIXTURES)
import csaf_fixtures as fx  # noqa: E402  pylint: disable=wrong-import-position


def _load_tree():
    docs = []
    for root, _dirs, names in os.walk(FIXTURES):
        for name in sorted(names):
            if name.endswith(".json") and not name.startswith("CVE-"):
                path = os.path.join(root, name)
                with open(path, "rb") as fh:
                    docs.append((os.path.relpath(path, FIXTURES), csaf_document.load_bytes(fh.read())))
    return sorted(docs, key=lambda d: d[0])


DOCS = _load_tree()


def run(components, docs=None, **options):
    options.setdefault("validate", False)
    report = cm.match(DOCS if docs is None else docs, components, options)
    json.dumps(report)  # results are plain data
    return report


def driver(version, family="datacenter"):
    return {"name": "nvidia_driver", "version": version, "family": family}


def findings_by_id(report, key=None):
    return {f["tracking_id"]: f for f in report["findings"] if key is None or f["component_key"] == key}


@pytest.fixture(scope="module")
def validated():
    """One validated run over the whole tree with several components."""
    return cm.match(DOCS, [
        driver("535.161.08"),
        driver("570.86.15", "geforce"),
        driver("535.161.08", "vgpu_guest"),
        {"name": "nvidia_container_toolkit", "version": "1.16.1"},
        {"name": "firmware", "version": "1.3.1", "family": "Hopper HGX 8-GPU"},
    ], {"validate": True})


# ---------------------------------------------------------------------------
# Fixtures are what the builder produces
# ---------------------------------------------------------------------------


def test_fixture_tree_matches_builder():
    for rel, data in fx.tree().items():
        with open(os.path.join(FIXTURES, rel), "rb") as fh:
            assert fh.read() == data, "%s differs from csaf_fixtures.py output: regenerate" % rel


def test_fixture_scores_are_consistent():
    assert fx.cvss31("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H") == (7.8, "HIGH")
    assert fx.cvss31("CVSS:3.1/AV:A/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H") == (9.0, "CRITICAL")
    assert fx.cvss31("CVSS:3.1/AV:L/AC:L/PR:H/UI:N/S:U/C:N/I:N/A:H") == (4.4, "MEDIUM")


# ---------------------------------------------------------------------------
# Must-get-right facts (csaf.md section 8)
# ---------------------------------------------------------------------------


def test_validated_run_documents(validated):
    docs = validated["documents"]
    # 5817's date-only timestamp is a known publisher defect: accepted (strict=false), see below
    assert docs["loaded"] == 19
    assert docs["rejected"] == [] and docs["superseded"] == []
    # Windows/Azure Local rows are skipped, not "not understood"; only the pre-release build is reported.
    assert [(n["document"], n["text"]) for n in validated["not_understood"]] == [("5692", "GB300 0.8 dev drop")]


def test_strict_rejects_date_only_and_reports_it_per_component():
    r = cm.match(DOCS, [{"name": "nemo_framework", "version": "25.04"}, driver("535.161.08")],
                 {"validate": True, "strict": True})
    assert [x["tracking_id"] for x in r["documents"]["rejected"]] == ["5817"]
    assert any("date-time" in x for x in r["documents"]["rejected"][0]["reasons"])
    assert r["documents"]["rejected"][0]["components"] == ["nemo_framework"]
    nemo = r["summary"]["nemo_framework"]
    assert nemo["status"] == "undecided" and nemo["undecided"] == ["5817"]
    assert nemo["rejected"][0]["tracking_id"] == "5817"
    assert r["summary"]["nvidia_driver:datacenter"]["rejected"] == []  # 5817 names no driver


def test_datacenter_535_161_08_june_2024(validated):
    f = findings_by_id(validated, "nvidia_driver:datacenter")["5551"]
    assert f["fixed_version"] == "535.183.01"
    assert f["cves"] == ["CVE-2024-0090", "CVE-2024-0092"]  # CVE-2024-0091 only hits R550/R555
    assert f["installed_version"] == "535.161.08" and f["branch"] == "R535"
    assert (f["severity"], f["base_score"], f["cvss_version"]) == ("HIGH", 7.8, "3.1")
    assert f["url"] == "https://nvidia.custhelp.com/app/answers/detail/a_id/5551"
    assert f["uncertain"] is False and f["restart_required"] is None and f["remediations"] == []
    assert f["affected_products"] == [{"product_id": "linuxr535_tesla_all_driver_versions_prior_to_535_183_01",
                                       "text": "All driver versions prior to 535.183.01",
                                       "range": "vers:intdot/>=535|<535.183.01"}]
    assert f["title"] == "Security Bulletin: NVIDIA GPU Display Driver - June 2024"
    assert f["source"].endswith("5551.json")


def test_datacenter_summary_stays_on_branch(validated):
    s = validated["summary"]["nvidia_driver:datacenter"]
    assert s["status"] == "affected"
    assert s["findings"] == ["5551", "5586", "5614", "5630", "5670", "5703", "5747", "5821"]
    assert s["finding_count"] == 8
    assert s["required_version"] == "535.309.01"
    assert s["branch"] == "R535"
    assert s["not_affected"] == ["5520"]  # fixed in 535.161.07, cumulative
    assert s["unfixed"] == [] and s["no_statement"] == []
    fixed = [f["fixed_version"] for f in validated["findings"] if f["component_key"] == "nvidia_driver:datacenter"]
    assert all(v.startswith("535.") for v in fixed)  # never a branch change


def test_535_183_01_affected_by_october_2024():
    r = run([driver("535.183.01")])
    by_id = findings_by_id(r)
    assert "5551" not in by_id and "5551" in r["summary"]["nvidia_driver:datacenter"]["not_affected"]
    assert by_id["5586"]["fixed_version"] == "535.216.01"
    assert by_id["5586"]["cves"] == ["CVE-2024-0126"]


def test_535_216_01_affected_by_january_2025():
    r = run([driver("535.216.01")])
    by_id = findings_by_id(r)
    assert "5586" not in by_id
    assert by_id["5614"]["fixed_version"] == "535.230.02"
    assert "CVE-2024-53869" not in by_id["5614"]["cves"]  # R550/R570 only


def test_570_86_15_fixed_for_datacenter_but_not_geforce_rtx(validated):
    dc = run([driver("570.86.15", "datacenter")])
    assert "5614" not in findings_by_id(dc)
    assert "5614" in dc["summary"]["nvidia_driver:datacenter"]["not_affected"]
    gf = findings_by_id(validated, "nvidia_driver:geforce")["5614"]
    assert gf["fixed_version"] == "570.86.16"
    assert "CVE-2024-53869" in gf["cves"]
    rtx = findings_by_id(run([driver("570.86.15", "rtx")]))["5614"]
    assert rtx["fixed_version"] == "570.86.16"


@pytest.mark.parametrize("version,bulletin", [("555.42.06", "5551"), ("565.57.01", "5586")])
def test_tesla_r555_r565_not_listed_is_undecided(version, bulletin):
    # The bulletin lists R555/R565 for GeForce and RTX only: unknown for data centre, never "safe".
    r = run([driver(version)])
    s = r["summary"]["nvidia_driver:datacenter"]
    # and the later bulletins list newer branches only: a branch change is needed
    assert [f["tracking_id"] for f in r["findings"]] == ["5614", "5630", "5670", "5703", "5747", "5821"]
    assert all(f["branch_change_required"] and f["fixed_version"] is None for f in r["findings"])
    assert bulletin in s["undecided"]
    assert bulletin not in s["not_affected"] and bulletin not in s["no_statement"]
    assert any("only for other driver families" in u for u in s["undecided_reasons"])
    assert s["required_version"] is None and s["branch_change_required"] is True
    # the same branch as GeForce is listed
    assert bulletin in findings_by_id(run([driver(version.replace("57.01", "50.01"), "geforce")]))


def test_vgpu_guest_june_2024(validated):
    f = findings_by_id(validated, "nvidia_driver:vgpu_guest")["5551"]
    assert f["fixed_version"] == "535.183.01"
    assert f["fixed_release"] == "16.6"
    s = validated["summary"]["nvidia_driver:vgpu_guest"]
    assert s["required_version"] == "535.230.02"


def test_vgpu_host_platforms():
    comp = [driver("535.161.05", "vgpu_host")]
    linux = run(comp)
    assert findings_by_id(linux)["5551"]["fixed_version"] == "535.183.04"
    assert findings_by_id(linux)["5551"]["affected_products"][0]["product_id"].startswith("ubuntur535")
    vmware = run(comp, platforms=["vmware"])
    assert findings_by_id(vmware)["5551"]["affected_products"][0]["product_id"].startswith("vmware_vspherer535")


def test_toolkit_1_16_1_cve_2024_0132(validated):
    f = findings_by_id(validated, "nvidia_container_toolkit")["5582"]
    assert f["fixed_version"] == "1.16.2"
    assert "CVE-2024-0132" in f["cves"]
    assert (f["severity"], f["base_score"]) == ("CRITICAL", 9.0)
    s = validated["summary"]["nvidia_container_toolkit"]
    assert s["required_version"] == "1.19.1"
    assert s["findings"] == ["5582", "5585", "5599", "5616", "5659", "5850"]


def test_toolkit_v1_17_is_1_17_0():
    f = findings_by_id(run([{"name": "nvidia_container_toolkit", "version": "1.16.2"}]))["5585"]
    assert f["fixed_version"] == "1.17.0"
    assert "5585" in run([{"name": "nvidia_container_toolkit", "version": "1.17.0"}])["summary"][
        "nvidia_container_toolkit"]["not_affected"]


def test_toolkit_1_17_8_not_affected_by_cve_2025_23266():
    r = run([{"name": "nvidia_container_toolkit", "version": "1.17.8"}])
    assert all("CVE-2025-23266" not in f["cves"] for f in r["findings"])
    assert "5659" in r["summary"]["nvidia_container_toolkit"]["not_affected"]
    assert list(findings_by_id(r)) == ["5850"]


def test_toolkit_cdi_qualifier():
    certain = findings_by_id(run([{"name": "nvidia_container_toolkit", "version": "1.17.6"}]))["5659"]
    assert certain["uncertain"] is False and certain["fixed_version"] == "1.17.8"
    cdi = findings_by_id(run([{"name": "nvidia_container_toolkit", "version": "1.17.4"}]))["5659"]
    assert cdi["uncertain"] is True
    assert any("CDI mode only" in n for n in cdi["notes"])
    mig = run([{"name": "mig_manager", "version": "0.12.1"}])
    assert findings_by_id(mig)["5659"]["uncertain"] is True
    assert mig["summary"]["mig_manager"]["uncertain"] is True


def test_gpu_operator_and_device_plugin():
    r = run([{"name": "nvidia_gpu_operator", "version": "25.3.1"}, {"name": "k8s_device_plugin", "version": "0.17.3"}])
    op = findings_by_id(r, "nvidia_gpu_operator")["5659"]
    assert op["fixed_version"] == "25.3.2" and op["uncertain"] is False  # 25.3.1 itself: every mode
    assert r["summary"]["k8s_device_plugin"]["status"] == "not_affected"


def test_firmware(validated):
    f = findings_by_id(validated, "firmware:hopper_hgx_8_gpu")["5561"]
    assert f["fixed_version"] == "1.6.0"
    assert f["affected_products"][0]["range"] == "vers:intdot/1.3.0|1.3.1"
    # not listed (1.5.1), between the affected 1.5.0 and the fix 1.6.0 -> undecided; 1.6.0 -> fixed ("and later")
    assert run([{"name": "firmware", "version": "1.5.1", "family": "hopper hgx 8 gpu"}])["summary"][
        "firmware:hopper_hgx_8_gpu"]["status"] == "undecided"
    assert run([{"name": "firmware", "version": "1.2.0", "family": "hopper hgx 8 gpu"}])["summary"][
        "firmware:hopper_hgx_8_gpu"]["status"] == "no_statement"  # below every affected release
    assert run([{"name": "firmware", "version": "1.7", "family": "HMC Hopper HGX 8-GPU"}])["summary"][
        "firmware:hmc_hopper_hgx_8_gpu"]["status"] == "not_affected"


def test_firmware_dev_drop_is_never_guessed():
    r = run([{"name": "firmware", "version": "0.7", "family": "GB300 NVL72"}])
    assert r["findings"] == []
    # the affected text cannot be read: undecided, never "no statement" or "not affected"
    s = r["summary"]["firmware:gb300_nvl72"]
    assert s["status"] == "undecided" and s["undecided"] == ["5692"]
    assert s["not_understood"][0]["text"] == "GB300 0.8 dev drop"
    assert r["not_understood"][0]["reason"].startswith("'GB300 0.8 dev drop' names a pre-release")
    # 0.8 is the fixed version, but the unreadable affected text of the same bulletin keeps it undecided
    ok = run([{"name": "firmware", "version": "0.8", "family": "GB300 NVL72"}])
    assert ok["summary"]["firmware:gb300_nvl72"]["status"] == "undecided"
    assert run([{"name": "firmware", "version": "0.8", "family": "GB300 NVL72"}], docs=[
        (s, d) for s, d in DOCS if not s.endswith("5692.json")])["summary"]["firmware:gb300_nvl72"]["status"] == \
        "no_statement"
    gb200 = run([{"name": "firmware", "version": "1.2", "family": "GB200 NVL72"}])
    assert findings_by_id(gb200)["5692"]["fixed_version"] == "1.3"


def test_not_covered_and_unvalidated_invalid_document():
    r = run([{"name": "dynamo", "version": "0.4.0"}, {"name": "nemo_framework", "version": "25.04"}])
    assert r["summary"]["dynamo"]["status"] == "not_covered"
    # 5817 is only schema-invalid; without validation it is used
    assert r["documents"]["loaded"] == 19
    assert findings_by_id(r)["5817"]["fixed_version"] == "25.07"
    r = run([{"name": "nemo_framework", "version": "25.04"}], validate=True, schema=False)
    assert r["documents"]["loaded"] == 19  # mandatory tests alone accept a date-only value


# ---------------------------------------------------------------------------
# Document handling
# ---------------------------------------------------------------------------


def _doc(tid):
    return copy.deepcopy(next(d for s, d in DOCS if s.endswith("/%s.json" % tid)))


def test_drafts_are_rejected():
    doc = _doc("5551")
    doc["document"]["tracking"]["status"] = "draft"
    r = run([driver("535.161.08")], docs=[("x.json", doc)])
    assert r["documents"]["loaded"] == 0
    assert "draft" in r["documents"]["rejected"][0]["reasons"][0]


def test_newest_revision_supersedes_older():
    old = _doc("5614")
    old["document"]["tracking"].update({"version": "1.0.0", "current_release_date": "2025-01-16T00:00:00Z",
                                        "revision_history": old["document"]["tracking"]["revision_history"][:1]})
    # the old revision did not list R570 yet
    new = _doc("5614")
    r = run([driver("570.86.10", "geforce")], docs=[("new.json", new), ("old.json", old)])
    assert r["documents"]["loaded"] == 1
    assert r["documents"]["superseded"] == [{"source": "old.json", "tracking_id": "5614", "version": "1.0.0",
                                             "superseded_by": "new.json"}]
    r2 = run([driver("570.86.10", "geforce")], docs=[("old.json", old), ("new.json", new)])
    assert r2["documents"]["superseded"][0]["source"] == "old.json"


def test_document_input_forms():
    doc = _doc("5586")
    for docs in ([doc], doc, iter([("a", doc)]), (("a", doc),)):
        r = run([driver("535.183.01")], docs=docs)
        assert [f["tracking_id"] for f in r["findings"]] == ["5586"]
    with pytest.raises(cm.MatchError):
        run([driver("535.183.01")], docs=5)


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(vulnerabilities="nope"),
    lambda d: d.update(product_tree=[1, 2]),
    lambda d: d["vulnerabilities"][0].update(product_status={"known_affected": "abc"}),
    lambda d: d["vulnerabilities"][0].update(scores=[{"cvss_v3": {"baseScore": "high"}}]),
    lambda d: d["document"].update(tracking=None),
    lambda d: d["document"].update(publisher="NVIDIA"),
    lambda d: d["vulnerabilities"].append(None),
])
def test_malformed_documents_never_raise(mutate):
    doc = _doc("5586")
    mutate(doc)
    r = run([driver("535.183.01")], docs=[("bad.json", doc)])
    assert r["documents"]["loaded"] + len(r["documents"]["rejected"]) == 1
    r = run([driver("535.183.01")], docs=[("bad.json", doc)], validate=True)
    assert r["documents"]["rejected"]


def test_non_csaf_input_is_rejected():
    r = run([driver("535.183.01")], docs=[("cve.json", fx.cve_record("CVE-2024-0001")), ("list.json", [1])])
    assert [x["reasons"][0] for x in r["documents"]["rejected"]] == ["not a CSAF document (no /document object)"] * 2


def test_undefined_product_reference_is_reported():
    doc = _doc("5586")
    doc["vulnerabilities"][0]["product_status"]["known_affected"].append("ghost")
    r = run([driver("535.183.01")], docs=[("x.json", doc)])
    assert any(n["product_id"] == "ghost" and "6.1.1" in n["reason"] for n in r["not_understood"])


def test_vendor_adapter_off_reports_instead_of_guessing():
    r = run([driver("535.161.08")], vendor_adapters=[], docs=[("x.json", _doc("5551"))])
    assert r["findings"] == []
    assert r["not_understood"]
    assert all("not a version" in n["reason"] for n in r["not_understood"])


def test_schema_validation_without_jsonschema(monkeypatch):
    monkeypatch.setattr(csaf_document, "HAS_JSONSCHEMA", False)
    with pytest.raises(cm.MatchError, match="jsonschema"):
        cm.match([], [driver("535.1")], {"validate": True})
    assert cm.match([], [driver("535.1")], {"validate": True, "schema": False})["documents"]["loaded"] == 0


# ---------------------------------------------------------------------------
# Generic CSAF path
# ---------------------------------------------------------------------------

CTK = "NVIDIA Container Toolkit"


def generic(products, vulns, **kw):
    return ("generic.json", fx.generic_document(products=products, vulnerabilities=vulns, **kw))


def test_generic_exact_versions():
    doc = generic(
        [("a", CTK, "product_version", "1.16.1", None), ("f", CTK, "product_version", "1.16.2", None)],
        [{"product_status": {"known_affected": ["a"], "fixed": ["f"]},
          "scores": [{"products": ["a"], "cvss_v3": {"version": "3.1", "baseScore": 9.0, "baseSeverity": "CRITICAL",
                                                     "vectorString": "CVSS:3.1/AV:A/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H"}}]}],
        references=[{"category": "external", "summary": "x", "url": "https://acme.example/x"},
                    {"category": "self", "summary": "this advisory", "url": "https://acme.example/advisories/1"}])
    r = run([{"name": "nvidia_container_toolkit", "version": "1.16.1"}], docs=[doc], validate=True)
    assert r["documents"]["loaded"] == 1, r["documents"]["rejected"]
    f = r["findings"][0]
    assert (f["fixed_version"], f["severity"], f["url"]) == ("1.16.2", "CRITICAL", "https://acme.example/advisories/1")
    assert f["publisher"] == "ACME PSIRT"
    # strict CSAF: fixed product_version is one version; 1.16.3 has no statement
    r = run([{"name": "nvidia_container_toolkit", "version": "1.16.3"}], docs=[doc])
    assert r["summary"]["nvidia_container_toolkit"]["status"] == "no_statement"
    r = run([{"name": "nvidia_container_toolkit", "version": "1.16.2"}], docs=[doc])
    assert r["summary"]["nvidia_container_toolkit"]["status"] == "not_affected"


def test_generic_vers_ranges_and_remediations():
    doc = generic(
        [("a", CTK, "product_version_range", "vers:intdot/<1.17.8", None),
         ("f", CTK, "product_version_range", "vers:intdot/>=1.17.8", None),
         ("r", CTK, "product_version", "1.18.0", None)],
        [{"product_status": {"known_affected": ["a"], "fixed": ["f"], "recommended": ["r"]},
          "remediations": [
              {"category": "vendor_fix", "details": "Upgrade.", "group_ids": ["g"],
               "restart_required": {"category": "service"}},
              {"category": "vendor_fix", "details": "Reboot after kernel parts.", "product_ids": ["f"],
               "restart_required": {"category": "machine"}},
              {"category": "workaround", "details": "Unrelated.", "product_ids": ["zzz"]}]}],
        groups=[{"group_id": "g", "product_ids": ["a", "f"]}])
    doc[1]["product_tree"]["full_product_names"] = [{"name": "zzz", "product_id": "zzz"}]
    r = run([{"name": "nvidia_container_toolkit", "version": "1.17.3"}], docs=[doc], validate=True)
    assert r["documents"]["loaded"] == 1, r["documents"]
    f = r["findings"][0]
    assert f["fixed_version"] == "1.17.8" and f["recommended_version"] == "1.18.0"
    assert f["restart_required"] == "machine"
    assert [x["category"] for x in f["remediations"]] == ["vendor_fix", "vendor_fix"]
    assert f["uncertain"] is False and f["severity"] is None


@pytest.mark.parametrize("text", ["<1.17.8", "vers:all/<1.17.8", "vers:intdot/< 1.17.8", "vers:generic/<1.17.8"])
def test_generic_vls_and_vers_misuse_are_uncertain(text):
    doc = generic([("a", CTK, "product_version_range", text, None)],
                  [{"product_status": {"known_affected": ["a"]}}])
    r = run([{"name": "nvidia_container_toolkit", "version": "1.17.3"}], docs=[doc])
    f = r["findings"][0]
    assert f["uncertain"] is True and f["fixed_version"] is None
    assert r["summary"]["nvidia_container_toolkit"]["unfixed"] == ["ACME-2026-0001"]
    assert any("best-effort" in n for n in f["notes"])


def test_generic_unreadable_range_and_range_in_product_version():
    doc = generic([("a", CTK, "product_version_range", "all versions before the fix", None),
                   ("b", CTK, "product_version", "prior to 1.2", None),
                   ("c", "ACME Widget", "product_version", "prior to 1.2", None)],
                  [{"product_status": {"known_affected": ["a", "b", "c"]}}])
    r = run([{"name": "nvidia_container_toolkit", "version": "1.1"}], docs=[doc])
    reasons = {n["product_id"]: n["reason"] for n in r["not_understood"]}
    assert sorted(reasons) == ["a", "b"]  # the widget is outside the vocabulary: not ours to report
    assert "neither vers nor readable vls" in reasons["a"] and "6.1.31" in reasons["b"]


def test_generic_not_affected_and_under_investigation():
    doc = generic([("a", CTK, "product_version", "1.17.3", None), ("b", CTK, "product_version", "1.17.4", None)],
                  [{"product_status": {"known_not_affected": ["a"], "under_investigation": ["b"]}}])
    r = run([{"name": "nvidia_container_toolkit", "version": "1.17.3"}], docs=[doc])
    assert r["summary"]["nvidia_container_toolkit"]["status"] == "not_affected"
    r = run([{"name": "nvidia_container_toolkit", "version": "1.17.4"}], docs=[doc])
    s = r["summary"]["nvidia_container_toolkit"]
    assert s["status"] == "under_investigation" and s["under_investigation"] == ["ACME-2026-0001"]


def test_generic_identifiers_and_relationships():
    doc = fx.generic_document(vulnerabilities=[{"product_status": {"known_affected": ["p1", "c1", "rel"]}}])
    doc["product_tree"]["full_product_names"] = [
        {"name": "toolkit package", "product_id": "p1",
         "product_identification_helper": {"purl": "pkg:deb/ubuntu/nvidia-container-toolkit@1.17.3"}},
        {"name": "operator", "product_id": "c1",
         "product_identification_helper": {"cpe": "cpe:2.3:a:nvidia:gpu_operator:24.9.0:*:*:*:*:*:*:*"}},
        {"name": "Ubuntu 22.04", "product_id": "os"},
    ]
    doc["product_tree"]["relationships"] = [{
        "category": "default_component_of", "product_reference": "p1", "relates_to_product_reference": "os",
        "full_product_name": {"name": "toolkit on Ubuntu", "product_id": "rel"}}]
    r = run([{"name": "nvidia_container_toolkit", "version": "1.17.3"}, {"name": "nvidia_gpu_operator", "version": "24.9.0"}],
            docs=[("g.json", doc)], validate=True)
    assert r["documents"]["loaded"] == 1, r["documents"]["rejected"]
    assert sorted(f["component"] for f in r["findings"]) == ["nvidia_container_toolkit", "nvidia_gpu_operator"]
    tk = findings_by_id(r, "nvidia_container_toolkit")["ACME-2026-0001"]
    assert sorted(p["product_id"] for p in tk["affected_products"]) == ["p1", "rel"]


def test_generic_driver_branch_from_version():
    doc = generic([("a", "NVIDIA GPU Display Driver", "product_version_range", "vers:intdot/>=535|<535.183.01", None),
                   ("f", "NVIDIA GPU Display Driver", "product_version", "535.183.01", None),
                   ("f2", "NVIDIA GPU Display Driver", "product_version", "550.90.07", None)],
                  [{"product_status": {"known_affected": ["a"], "fixed": ["f", "f2"]}}])
    r = run([driver("535.161.08", "geforce")], docs=[doc])
    assert r["findings"][0]["fixed_version"] == "535.183.01"  # never 550.90.07 (other branch)
    assert run([driver("550.54.14", "rtx")], docs=[doc])["summary"]["nvidia_driver:rtx"]["status"] == "no_statement"


def test_severity_prefers_newest_cvss_version():
    doc = generic([("a", CTK, "product_version", "1.0.0", None)], [{
        "product_status": {"known_affected": ["a"]},
        "scores": [{"products": ["a"], "cvss_v2": {"version": "2.0", "baseScore": 10.0,
                                                   "vectorString": "AV:N/AC:L/Au:N/C:C/I:C/A:C"},
                    "cvss_v3": {"version": "3.1", "baseScore": 5.5, "baseSeverity": "MEDIUM",
                                "vectorString": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:N/I:N/A:H"}}]}])
    f = run([{"name": "nvidia_container_toolkit", "version": "1.0.0"}], docs=[doc])["findings"][0]
    assert (f["base_score"], f["severity"], f["cvss_version"]) == (5.5, "MEDIUM", "3.1")
    doc[1]["vulnerabilities"][0]["metrics"] = [{"products": ["a"], "content": {"cvss_v4": {
        "version": "4.0", "baseScore": 2.0, "baseSeverity": "LOW"}}}]
    f = run([{"name": "nvidia_container_toolkit", "version": "1.0.0"}], docs=[doc])["findings"][0]
    assert (f["base_score"], f["severity"], f["cvss_version"]) == (2.0, "LOW", "4.0")
    del doc[1]["vulnerabilities"][0]["scores"], doc[1]["vulnerabilities"][0]["metrics"]
    doc[1]["document"]["aggregate_severity"] = {"text": "Important"}
    f = run([{"name": "nvidia_container_toolkit", "version": "1.0.0"}], docs=[doc])["findings"][0]
    assert (f["base_score"], f["severity"]) == (None, "IMPORTANT")


def test_uncomparable_installed_version_is_reported():
    doc = generic([("a", CTK, "product_version_range", "vers:semver/<1.17.8", None)],
                  [{"product_status": {"known_affected": ["a"]}}])
    r = run([{"name": "nvidia_container_toolkit", "version": "1.17"}], docs=[doc])
    assert r["findings"] == []
    assert "cannot be compared" in r["not_understood"][0]["reason"]


def test_contradicting_statements_make_finding_uncertain():
    doc = generic([("a", CTK, "product_version_range", "vers:intdot/<1.18.0", None),
                   ("f", CTK, "product_version", "1.17.8", None)],
                  [{"product_status": {"known_affected": ["a"], "fixed": ["f"]}}])
    f = run([{"name": "nvidia_container_toolkit", "version": "1.17.8"}], docs=[doc])["findings"][0]
    assert f["uncertain"] is True and "also lists the installed version" in f["notes"][0]


# ---------------------------------------------------------------------------
# purl / CPE helpers
# ---------------------------------------------------------------------------


def test_parse_purl():
    assert cm.parse_purl("pkg:deb/ubuntu/nvidia-container-toolkit@1.17.8-1?arch=amd64") == {
        "type": "deb", "namespace": "ubuntu", "name": "nvidia-container-toolkit", "version": "1.17.8-1"}
    assert cm.parse_purl("pkg:github/NVIDIA/gpu-operator@v25.3.2")["name"] == "gpu-operator"
    assert cm.parse_purl("pkg:pypi/tensorrt-llm")["version"] is None
    assert cm.parse_purl("pkg://deb/x") is None
    assert cm.parse_purl("https://x") is None
    assert cm.parse_purl(None) is None


def test_parse_cpe():
    assert cm.parse_cpe("cpe:2.3:a:nvidia:container_toolkit:1.17.8:*:*:*:*:*:*:*") == {
        "part": "a", "vendor": "nvidia", "product": "container_toolkit", "version": "1.17.8"}
    assert cm.parse_cpe("cpe:2.3:a:nvidia:tesla:*:*:*:*:*:*:*:*")["version"] is None
    assert cm.parse_cpe("cpe:/a:nvidia:gpu_operator:24.9.0") == {
        "part": "a", "vendor": "nvidia", "product": "gpu_operator", "version": "24.9.0"}
    assert cm.parse_cpe("cpe:2.3:a:short") is None
    assert cm.parse_cpe("nope") is None


def test_component_from_identifiers():
    assert cm.component_from_identifiers({"purl": "pkg:rpm/nvidia/nvidia-driver@535.183.01"}) == (
        "nvidia_driver", None, "535.183.01")
    assert cm.component_from_identifiers({"cpe": "cpe:2.3:a:nvidia:tesla:535_183_01:*:*:*:*:*:*:*"}) == (
        "nvidia_driver", "datacenter", None)
    assert cm.component_from_identifiers({"cpe": "cpe:2.3:a:acme:container_toolkit:1.0:*:*:*:*:*:*:*"}) is None
    assert cm.component_from_identifiers({"purl": "pkg:pypi/requests@2.0"}) is None
    assert cm.component_from_identifiers("x") is None


# ---------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("components,message", [
    ([{"name": "nvidia-driver", "version": "535.1"}], "use one of: nvidia_driver, nvidia_container_toolkit"),
    ([{"name": "nvidia_driver", "version": "535.161.08"}], "family is required and must be one of: datacenter"),
    ([driver("535.161.08", "tesla")], "family is required and must be one of"),
    ([{"name": "nvidia_driver", "version": "535.161.08", "family": "datacenter", "branch": "R550"}],
     "does not match version 535.161.08 (branch R535)"),
    ([{"name": "nvidia_container_toolkit", "version": 1.17}], "quoted string"),
    ([{"name": "nvidia_container_toolkit", "version": "1.17.8-1"}], "dot-separated integers"),
    ([{"name": "nvidia_container_toolkit", "version": "1.17.8", "family": "x"}], "family applies only to"),
    ([{"name": "nvidia_container_toolkit", "version": "1.17.8", "branch": "R535"}], "branch applies only to"),
    ([{"name": "firmware", "version": "1.5"}], "family is required: the hardware"),
    ([{"name": "nvidia_dcgm", "version": "3.3.5", "extra": 1}], "unknown key(s) extra"),
    ([driver("535.1"), driver("535.2")], "duplicate of components[0]"),
    (["nvidia_driver"], "must be a dict"),
    ("nvidia_driver", "must be a list"),
])
def test_validate_components_errors(components, message):
    with pytest.raises(cm.MatchError) as exc:
        cm.validate_components(components)
    assert message in str(exc.value)


def test_validate_components_normalises():
    out = cm.validate_components([
        {"name": "nvidia_driver", "version": "v535.161.08", "family": "datacenter", "branch": "r535"},
        {"name": "firmware", "version": "1.5", "family": "Hopper HGX 8-GPU"},
        {"name": "nvidia_fabric_manager", "version": "535.161.08"},
    ])
    assert out[0] == {"key": "nvidia_driver:datacenter", "name": "nvidia_driver", "version": "535.161.08",
                      "family": "datacenter", "branch": "R535"}
    assert out[1]["key"] == "firmware:hopper_hgx_8_gpu"
    assert out[2]["branch"] == "R535"


@pytest.mark.parametrize("options,message", [
    ({"nope": 1}, "unknown option(s) nope"),
    ({"validate": "yes"}, "validate must be a boolean"),
    ({"vendor_adapters": ["redhat"]}, "unknown value(s) redhat"),
    ({"platforms": "linux"}, "must be a list of strings"),
    ({"platforms": ["windows"]}, "use any of: linux, vmware, citrix, nutanix"),
    ([1], "options must be a dict"),
])
def test_validate_options_errors(options, message):
    with pytest.raises(cm.MatchError) as exc:
        cm.validate_options(options)
    assert message in str(exc.value)


def test_argument_spec_matches_vocabulary():
    spec = cm.ARGUMENT_SPEC
    assert spec["components"]["options"]["name"]["choices"] == list(cm.COMPONENTS)
    assert spec["platforms"]["choices"] == list(cm.PLATFORMS)
    assert set(cm.DEFAULT_OPTIONS) <= set(spec)


# ---------------------------------------------------------------------------
# Internals that must agree with vers.py
# ---------------------------------------------------------------------------


def test_fast_intdot_containment_equals_vers():
    from ansible_collections.aisec.gpu_host.plugins.module_utils import vers

    specs = ["vers:intdot/*", "vers:intdot/1.2.3", "vers:intdot/1.2|1.4", "vers:intdot/<1.17.8", "vers:intdot/<=1.17.7",
             "vers:intdot/>=535|<535.183.01", "vers:intdot/>=535.183.01|<536", "vers:intdot/>1.0|<=1.5|>=2.0",
             "vers:intdot/>=1.0|!=1.3", "vers:intdot/<1.0|>2.0", "vers:intdot/1.0|>=1.5|<1.7|2.0", "vers:intdot/>=1.17"]
    versions = ["0.9", "1", "1.0", "1.0.0", "1.2", "1.2.3", "1.3", "1.4", "1.5", "1.6", "1.7", "1.17", "1.17.0",
                "1.17.7", "1.17.8", "2", "2.0", "2.1", "534.999", "535", "535.0.0", "535.161.08", "535.183.01",
                "535.183.1", "536", "550.90.07"]
    checked = 0
    for spec in specs:
        rng = vers.parse(spec)
        keys = cm._intdot_keys(rng)  # pylint: disable=protected-access
        for v in versions:
            assert cm._intdot_contains(keys, vers.intdot_key(v)) == rng.contains(v), (spec, v)  # pylint: disable=protected-access
            checked += 1
    assert checked == len(specs) * len(versions)
    assert cm._intdot_keys(vers.parse("vers:semver/<1.0.0")) is None  # pylint: disable=protected-access


def test_gc_paused_restores_state():
    import gc

    assert gc.isenabled()
    with cm.gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with cm.gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_generic_unconfined_range_applies_to_every_branch_but_fix_stays_on_branch():
    doc = generic([("a", "NVIDIA GPU Display Driver", "product_version_range", "vers:intdot/<535.183.01", None),
                   ("f", "NVIDIA GPU Display Driver", "product_version_range", "vers:intdot/>=535.183.01", None)],
                  [{"product_status": {"known_affected": ["a"], "fixed": ["f"]}}])
    r470 = run([driver("470.239.06")], docs=[doc])
    f = r470["findings"][0]
    assert f["fixed_version"] is None  # 535.183.01 would be a branch change
    assert r470["summary"]["nvidia_driver:datacenter"]["unfixed"] == ["ACME-2026-0001"]
    assert run([driver("535.161.08")], docs=[doc])["findings"][0]["fixed_version"] == "535.183.01"


@pytest.mark.parametrize("spec,branch", [
    ("vers:intdot/>=535|<535.183.01", "R535"), ("vers:intdot/535.183.01", "R535"),
    ("vers:intdot/>=535.183.01|<536", "R535"), ("vers:intdot/<535.183.01", None), ("vers:intdot/>=535.183.01", None),
    ("vers:intdot/>=535|<551", None), ("vers:intdot/*", None), ("vers:semver/1.0.0", None),
])
def test_single_branch(spec, branch):
    from ansible_collections.aisec.gpu_host.plugins.module_utils import vers

    assert cm._single_branch(vers.parse(spec)) == branch  # pylint: disable=protected-access


def test_not_understood_categories():
    doc = _doc("5586")
    doc["vulnerabilities"][0]["product_status"]["known_affected"].append("ghost")
    jetson = {"category": "architecture", "name": "Jetson Linux", "branches": [{
        "category": "product_version", "name": "Jetson AGX Orin",
        "product": {"name": "All versions prior to 36.4", "product_id": "jetson"}}]}
    doc["product_tree"]["branches"][0]["branches"].append(jetson)
    doc["vulnerabilities"][0]["product_status"]["known_affected"].append("jetson")
    r = run([driver("535.183.01")], docs=[("x.json", doc)])
    cats = {n["product_id"]: n["category"] for n in r["not_understood"]}
    assert cats == {"ghost": "reference"}  # Jetson is outside the vocabulary: counted, not mixed in
    assert r["outside_vocabulary"] == {"products": 1, "documents": 1, "labels": {"Jetson AGX Orin": 1}}
    assert r["summary"]["nvidia_driver:datacenter"]["undecided"] == ["5586"]  # the undefined reference
    assert run([{"name": "firmware", "version": "0.7", "family": "GB300 NVL72"}])["not_understood"][0][
        "category"] == "condition"


# ---------------------------------------------------------------------------
# Issue #12: never "not affected" by omission (synthetic bulletins shaped like NVIDIA's)
# ---------------------------------------------------------------------------


def bulletin(bid, rows, cves=("CVE-2026-0001",), date="2026-01-01T00:00:00Z", product="NVIDIA Product"):
    spec = {"id": bid, "year": date[:4], "product": product, "month": "synthetic", "date": date,
            "cves": {c: {"score": 7.8} for c in cves}, "rows": rows}
    return ("%s.json" % bid, fx.build_bulletin(spec))


def test_multi_os_architecture_is_read_for_linux():
    doc = bulletin("9001", [("Windows, Linux", "NVIDIA CUDA Toolkit", "All versions prior to CUDA Toolkit 13.1",
                             "CUDA Toolkit 13.1", ["CVE-2026-0001"])])
    r = run([{"name": "cuda_toolkit", "version": "12.6.2"}], docs=[doc])
    assert findings_by_id(r)["9001"]["fixed_version"] == "13.1"
    only_windows = bulletin("9002", [("Windows", "NVIDIA CUDA Toolkit", "All versions prior to 13.1", "13.1",
                                      ["CVE-2026-0001"])])
    assert run([{"name": "cuda_toolkit", "version": "12.6.2"}], docs=[only_windows])["summary"]["cuda_toolkit"][
        "status"] == "not_covered"  # nothing for Linux in it


def test_unreadable_product_of_the_component_makes_it_undecided():
    doc = bulletin("9003", [("Linux", "NVIDIA Container Toolkit", "See the release notes", "1.18.0", ["CVE-2026-0001"]),
                            ("Linux", "NVIDIA Container Toolkit", "All versions prior to 1.17.0", "1.17.0",
                             ["CVE-2026-0001"])])
    r = run([{"name": "nvidia_container_toolkit", "version": "1.17.5"}], docs=[doc])
    s = r["summary"]["nvidia_container_toolkit"]
    assert s["status"] == "undecided" and s["undecided"] == ["9003"] and s["not_affected"] == []
    assert s["not_understood"][0]["text"] == "See the release notes"
    assert "9003: no whitelisted pattern" in s["undecided_reasons"][0]


def test_other_products_never_make_a_component_undecided():
    doc = bulletin("9004", [("Linux", "NVIDIA Container Toolkit", "All versions prior to 1.17.0", "1.17.0",
                             ["CVE-2026-0001"]),
                            ("Jetson Linux(35)", "Jetson Orin Series", "see notes", "36.4", ["CVE-2026-0001"]),
                            ("Linux(R535)", "GeForce", "See notes", "535.1.1", ["CVE-2026-0001"])])
    r = run([{"name": "nvidia_container_toolkit", "version": "1.17.5"}, driver("535.100.01")], docs=[doc])
    assert r["summary"]["nvidia_container_toolkit"]["status"] == "not_affected"
    # the GeForce text is no concern of a data-centre driver; the bulletin lists R535 for GeForce only
    assert r["summary"]["nvidia_driver:datacenter"]["not_understood"] == []
    assert r["outside_vocabulary"]["labels"] == {"Jetson Orin Series": 2}  # its affected and fixed products
    assert [n["text"] for n in r["not_understood"]] == ["See notes"]


def test_rejected_documents_are_reported_for_every_component_they_name():
    good = bulletin("9005", [("Linux", "NVIDIA Container Toolkit", "All versions prior to 1.17.0", "1.17.0",
                              ["CVE-2026-0001"])])
    bad = bulletin("9006", [("Linux", "NVIDIA Container Toolkit", "All versions prior to 1.18.0", "1.18.0",
                             ["CVE-2026-0001"])])
    bad[1]["document"]["tracking"]["status"] = "draft"  # never acted on
    r = cm.match([good, bad], [{"name": "nvidia_container_toolkit", "version": "1.17.5"},
                               {"name": "nvidia_dcgm", "version": "4.0.0"}], {"validate": True, "schema": False})
    s = r["summary"]["nvidia_container_toolkit"]
    assert s["status"] == "undecided" and s["not_affected"] == ["9005"] and s["undecided"] == ["9006"]
    assert s["rejected"][0]["tracking_id"] == "9006"
    assert r["summary"]["nvidia_dcgm"]["status"] == "not_covered"  # 9006 names no DCGM


def test_externally_rejected_documents():
    good = bulletin("9007", [("Linux", "NVIDIA Container Toolkit", "All versions prior to 1.17.0", "1.17.0",
                              ["CVE-2026-0001"])])
    comps = [{"name": "nvidia_container_toolkit", "version": "1.17.5"}, {"name": "nvidia_dcgm", "version": "4.0.0"}]
    r = cm.match([good], comps, {"validate": False}, rejected=[
        {"source": "2025/5703/5703.json", "tracking_id": "5703", "reasons": ["sha256 mismatch"],
         "components": ["nvidia_driver"]},
        {"source": "x.json", "tracking_id": None, "reason": "cannot read", "components": None}])
    assert r["summary"]["nvidia_container_toolkit"]["undecided"] == ["x.json"]  # unknown: every component
    assert r["summary"]["nvidia_dcgm"]["status"] == "undecided"
    with pytest.raises(cm.MatchError, match="components"):
        cm.match([good], comps, rejected=[{"source": "y", "components": "all"}])


def test_version_schemes_are_never_compared():
    container_only = bulletin("9008", [("Linux", "NVIDIA NeMo Framework", "All versions prior to 24.12", "24.12",
                                        ["CVE-2026-0001"])])
    package = bulletin("9009", [("All platforms", "NeMo Framework", "All versions prior to 2.5.0", "2.5.0",
                                 ["CVE-2026-0001"])])
    r = run([{"name": "nemo_framework", "version": "2.1.0"}], docs=[container_only, package])
    s = r["summary"]["nemo_framework"]
    assert s["status"] == "affected" and s["required_version"] == "2.5.0"  # never 24.12
    assert s["undecided"] == ["9008"] and "numbering schemes are never compared" in s["undecided_reasons"][0]
    r = run([{"name": "nemo_framework", "version": "25.02"}], docs=[container_only, package])
    assert r["summary"]["nemo_framework"]["status"] == "undecided"  # 9009 speaks of package versions only
    assert r["summary"]["nemo_framework"]["not_affected"] == ["9008"]


def test_prerelease_inputs_and_conditions():
    doc = bulletin("9010", [("All", "TensorRT-LLM", "0.0 to v1.3.0 rc16", "v1.3.0 rc17", ["CVE-2026-0001"])])
    comps = cm.validate_components([{"name": "tensorrt_llm", "version": "v1.3.0-rc.17"}])
    assert comps[0]["version"] == "1.3.0rc17"
    r = run([{"name": "tensorrt_llm", "version": "1.3.0rc17"}], docs=[doc])
    assert r["summary"]["tensorrt_llm"]["status"] == "not_affected"
    f = findings_by_id(run([{"name": "tensorrt_llm", "version": "1.3.0rc15"}], docs=[doc]))["9010"]
    assert f["fixed_version"] == "1.3.0rc17"
    assert findings_by_id(run([{"name": "tensorrt_llm", "version": "1.2.1"}], docs=[doc]))["9010"]
    # a pre-release driver cannot be ordered in the driver numbering: undecided, never a guess
    r = run([{"name": "nvidia_driver", "version": "535.161.08rc1", "family": "datacenter"}], docs=[_doc_tuple("5551")])
    assert r["summary"]["nvidia_driver:datacenter"]["status"] == "undecided"


def _doc_tuple(tid):
    return ("%s.json" % tid, _doc(tid))


def test_tensorrt_builds_belong_to_their_release():
    doc = bulletin("9011", [("All", "TensorRT", "v0 - v10.16.1", "v11.0", ["CVE-2026-0001"])])
    f = findings_by_id(run([{"name": "tensorrt", "version": "10.16.1.11"}], docs=[doc]))["9011"]
    assert f["fixed_version"] == "11.0.0" and f["installed_version"] == "10.16.1.11"


def test_up_to_bound_is_undecided_without_a_fix():
    doc = bulletin("9012", [("Windows, Linux", "NVIDIA CUDA Toolkit", "All versions up to CUDA Toolkit 12.8", [],
                             ["CVE-2026-0001"])])
    assert run([{"name": "cuda_toolkit", "version": "12.8"}], docs=[doc])["summary"]["cuda_toolkit"][
        "status"] == "undecided"
    assert run([{"name": "cuda_toolkit", "version": "12.7"}], docs=[doc])["summary"]["cuda_toolkit"][
        "status"] == "affected"
    fixed = bulletin("9013", [("Windows, Linux", "NVIDIA CUDA Toolkit", "All versions up to CUDA Toolkit 12.8",
                               "CUDA Toolkit 12.8", ["CVE-2026-0001"])])
    assert run([{"name": "cuda_toolkit", "version": "12.8"}], docs=[fixed])["summary"]["cuda_toolkit"][
        "status"] == "not_affected"


def test_earlier_branch_not_listed_needs_a_branch_change():
    r = run([driver("550.163.01")])
    s = r["summary"]["nvidia_driver:datacenter"]
    by_id = findings_by_id(r)
    # 5670, 5703, 5747 and 5821 list newer branches only: no fix on R550
    for tid in ("5670", "5703", "5747", "5821"):
        assert by_id[tid]["branch_change_required"] is True and by_id[tid]["fixed_version"] is None
    assert by_id["5703"]["branch_fixes"] == {"R570": "570.195.03", "R580": "580.95.05"}
    assert by_id["5703"]["branch_change_version"] == "570.195.03"
    assert s["status"] == "affected" and s["branch_change_required"] is True
    assert s["required_version"] is None  # 5630's 550.163.01 is installed already
    # R570 is ruled out by 5821 (lists R535, R580, R595): the lowest version every bulletin accepts
    assert s["branch_change_version"] == "580.159.03"
    assert s["unfixed"] == ["5670", "5703", "5747", "5821"]
    # a branch newer than every listed one has no statement
    newer = run([driver("580.95.05")], docs=[_doc_tuple("5670")])
    assert newer["summary"]["nvidia_driver:datacenter"]["status"] == "no_statement"


def test_cloud_gaming_rows_never_become_driver_entries():
    doc = bulletin("9014", [("Linux(R580 Gaming)", "Guest driver", "All driver versions prior to 580.95.05",
                             "580.95.05", ["CVE-2026-0001"])])
    r = run([driver("580.82.07", "vgpu_guest")], docs=[doc])
    assert r["summary"]["nvidia_driver:vgpu_guest"]["status"] == "not_covered"
    assert r["outside_vocabulary"]["labels"] == {"NVIDIA Cloud Gaming Guest driver": 2}


def test_gap_between_affected_range_and_fix_is_undecided():
    # 5517: "All versions prior to CUDA Toolkit v12.4" affected, "CUDA Toolkit v12.4U1" fixed
    doc = bulletin("9015", [("Windows, Linux", "NVIDIA CUDA Toolkit", "All versions prior to CUDA Toolkit v12.4",
                             "CUDA Toolkit v12.4U1", ["CVE-2026-0001"])])
    s = run([{"name": "cuda_toolkit", "version": "12.4.0"}], docs=[doc])["summary"]["cuda_toolkit"]
    assert s["status"] == "undecided" and "below the first fixed version 12.4.1" in s["undecided_reasons"][0]
    assert run([{"name": "cuda_toolkit", "version": "12.4.1"}], docs=[doc])["summary"]["cuda_toolkit"][
        "status"] == "not_affected"
    # below an affected range that starts later: not affected, no gap
    doc = bulletin("9016", [("Linux", "Triton Inference Server", "22.09 to 24.03", "24.04", ["CVE-2026-0001"])])
    assert run([{"name": "triton_inference_server", "version": "21.08"}], docs=[doc])["summary"][
        "triton_inference_server"]["status"] == "no_statement"
