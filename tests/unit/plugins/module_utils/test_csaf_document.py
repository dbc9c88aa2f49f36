# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for plugins/module_utils/csaf_document.py."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import time

import pytest

from ansible_collections.aisec.gpu_host.plugins.module_utils import csaf_document as C

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "fixtures")
CSAF_FIXTURES = os.path.join(FIXTURES, "csaf")
OASIS_MANDATORY = os.path.join(FIXTURES, "oasis", "mandatory")


def _load(name):
    with open(os.path.join(CSAF_FIXTURES, name), "rb") as handle:
        return C.load_bytes(handle.read())


@pytest.fixture(scope="module")
def example_doc():
    return _load("example_vers_advisory.json")


@pytest.fixture(scope="module")
def nvidia_doc():
    return _load("nvidia_style_advisory.json")


def _ids(errors, prefix):
    return [e for e in errors if e.startswith(prefix + ":")]


# ---------------------------------------------------------------------------
# load_bytes
# ---------------------------------------------------------------------------


def test_load_bytes_valid():
    assert C.load_bytes(b'{"document": {}}') == {"document": {}}
    assert C.load_bytes(bytearray(b'{"a": 1}')) == {"a": 1}
    assert C.load_bytes(memoryview(b'{"a": 1}')) == {"a": 1}
    assert C.load_bytes(b'\xef\xbb\xbf{"a": "\xc3\xa9"}') == {"a": "\u00e9"}


@pytest.mark.parametrize(
    "raw,message",
    [
        (b"", "empty"),
        (b"   \n", "empty"),
        (b"\xff\xfe{}", "UTF-8"),
        (b'{"a": "\xc3"}', "UTF-8"),
        (b"{", "invalid JSON"),
        (b"{'a': 1}", "invalid JSON"),
        (b'{"a": 1} trailing', "invalid JSON"),
        (b'{"a": 1, "a": 2}', "duplicate object key"),
        (b'{"a": {"b": 1, "b": 1}}', "duplicate object key"),
        (b'{"a": NaN}', "NaN"),
        (b'{"a": Infinity}', "Infinity"),
        (b'{"a": -Infinity}', "Infinity"),
        (b"[]", "must be an object, got array"),
        (b'"text"', "got string"),
        (b"null", "got null"),
        (b"1", "got number"),
        (b"true", "got boolean"),
        (b'{"a": ' + b"[" * 100 + b"]" * 100 + b"}", "nesting"),
        (b"[" * 100000, "nesting"),
    ],
)
def test_load_bytes_rejects(raw, message):
    with pytest.raises(C.CsafError, match=re.escape(message)):
        C.load_bytes(raw)


def test_load_bytes_nesting_limit_counts_only_structure():
    # brackets inside strings do not count as nesting
    doc = C.load_bytes(b'{"a": "' + b"[" * 1000 + b'\\"]"}')
    assert doc["a"].startswith("[[[")
    assert C.load_bytes(b'{"a": ' + b"[" * 60 + b"]" * 60 + b"}")


def test_load_bytes_size_cap():
    raw = b'{"a": "' + b"x" * 100 + b'"}'
    assert C.load_bytes(raw, max_size=len(raw)) == {"a": "x" * 100}
    with pytest.raises(C.CsafError, match="too large"):
        C.load_bytes(raw, max_size=len(raw) - 1)
    assert C.DEFAULT_MAX_SIZE == 15 * 1024 * 1024


@pytest.mark.parametrize("value", ["{}", None, 1, {"a": 1}])
def test_load_bytes_rejects_non_bytes(value):
    with pytest.raises(C.CsafError, match="expected bytes"):
        C.load_bytes(value)


@pytest.mark.parametrize("max_size", [0, -1, True, 1.5, "10"])
def test_load_bytes_rejects_bad_max_size(max_size):
    with pytest.raises(C.CsafError, match="max_size"):
        C.load_bytes(b"{}", max_size=max_size)


def test_csaf_error_is_value_error():
    assert issubclass(C.CsafError, ValueError)


# ---------------------------------------------------------------------------
# Vendored schemas
# ---------------------------------------------------------------------------


def test_vendored_schema_digests():
    schema_dir = os.path.join(os.path.dirname(C.__file__), "csaf_schemas")
    with open(os.path.join(schema_dir, "SHA256SUMS"), encoding="utf-8") as handle:
        lines = [line.split() for line in handle if line.strip()]
    assert {name for _digest, name in lines} == {
        "csaf_json_schema.json",
        "provider_json_schema.json",
        "cvss-v2.0.json",
        "cvss-v3.0.json",
        "cvss-v3.1.json",
    }
    for digest, name in lines:
        assert hashlib.sha256(C.read_schema_bytes(name)).hexdigest() == digest, name
    for name in ("NOTICE", "LICENSE-FIRST-CVSS"):
        assert os.path.isfile(os.path.join(schema_dir, name))
    # Official CSAF 2.0 (Errata 01 release) digests.
    digests = {name: digest for digest, name in lines}
    assert digests["csaf_json_schema.json"] == "29c114b35b0a30831f1674f2ab8b3ed9b2890cfeaa63b924ac6ed9d70ef44262"
    assert digests["provider_json_schema.json"] == "0270d0cfadf5202ff83a63502012a407e0e8ec3194a07296f13641c9f5630aba"


def test_validators_are_cached():
    assert C._get_validator("csaf") is C._get_validator("csaf")
    assert C._get_validator("provider") is C._get_validator("provider")


# ---------------------------------------------------------------------------
# validate: fixtures, schema, format checks
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["example_vers_advisory.json", "nvidia_style_advisory.json"])
def test_fixtures_are_valid(name):
    report = C.validate(_load(name))
    assert report.ok, report.errors
    assert report.errors == [] and report.warnings == []
    assert report.as_dict() == {"ok": True, "errors": [], "warnings": []}
    assert "ok=True" in repr(report)


@pytest.mark.parametrize("value", [None, [], "doc", 1])
def test_validate_non_dict(value):
    report = C.validate(value)
    assert not report.ok
    assert report.errors[0].startswith("schema: /:")


def test_schema_errors_have_pointer(example_doc):
    doc = copy.deepcopy(example_doc)
    doc["document"]["title"] = 5
    del doc["document"]["publisher"]["name"]
    errors = C.validate(doc).errors
    assert "schema: /document/title: 5 is not of type 'string'" in errors
    assert "schema: /document/publisher: 'name' is a required property" in errors
    assert not C.validate(doc, schema=False).errors


@pytest.mark.parametrize(
    "path,value,fragment",
    [
        (("document", "tracking", "current_release_date"), "2024-07-02", "is not a 'date-time'"),
        (("document", "tracking", "current_release_date"), "2024-02-30T10:00:00Z", "is not a 'date-time'"),
        (("document", "tracking", "current_release_date"), "2024-07-02T25:00:00Z", "is not a 'date-time'"),
        (("document", "tracking", "current_release_date"), "2024-07-02T10:00:00", "is not a 'date-time'"),
        (("document", "publisher", "namespace"), "not a uri", "is not a 'uri'"),
        (("document", "publisher", "namespace"), "https://example.com/%zz", "is not a 'uri'"),
        (("document", "distribution", "tlp", "label"), "CLEAR", "is not one of"),
        (("document", "csaf_version"), "2.1", "is not one of"),
    ],
)
def test_schema_format_and_enum_checks(example_doc, path, value, fragment):
    doc = copy.deepcopy(example_doc)
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    errors = _ids(C.validate(doc).errors, "schema")
    assert any(fragment in e for e in errors), errors


def test_schema_checks_cvss_with_the_first_schemas(example_doc):
    doc = copy.deepcopy(example_doc)
    doc["vulnerabilities"][0]["scores"][0]["cvss_v3"]["baseSeverity"] = "SEVERE"
    doc["vulnerabilities"][1]["scores"][0]["cvss_v3"]["vectorString"] = "CVSS:3.1/AV:X"
    errors = _ids(C.validate(doc).errors, "schema")
    assert any(e.startswith("schema: /vulnerabilities/0/scores/0/cvss_v3") for e in errors), errors
    assert any(e.startswith("schema: /vulnerabilities/1/scores/0/cvss_v3") for e in errors), errors


@pytest.mark.parametrize(
    "value,ok",
    [
        ("2024-07-02T10:00:00Z", True),
        ("2024-07-02T10:00:00.123456789+05:30", True),
        ("2024-02-29T00:00:00z", True),
        ("2023-02-29T00:00:00Z", False),
        ("2024-13-01T00:00:00Z", False),
        ("2024-07-02 10:00:00Z", False),
        ("2024-07-02T10:00:00+24:00", False),
        ("2024-07-02T10:00:00Z\n", False),
        (5, True),
    ],
)
def test_check_date_time(value, ok):
    assert C.check_date_time(value) is ok


@pytest.mark.parametrize(
    "value,ok",
    [
        ("https://example.com/a?b=c#d", True),
        ("mailto:psirt@example.com", True),
        ("urn:oid:1.2.3", True),
        ("example.com", False),
        ("https://exa mple.com", False),
        ("https://example.com/\u00e9", False),
        ("1http://x", False),
        ("https://example.com\n", False),
        (None, True),
    ],
)
def test_check_uri(value, ok):
    assert C.check_uri(value) is ok


def test_validate_without_jsonschema(monkeypatch, example_doc):
    monkeypatch.setattr(C, "HAS_JSONSCHEMA", False)
    monkeypatch.setattr(C, "JSONSCHEMA_IMPORT_ERROR", "No module named 'jsonschema'")
    doc = copy.deepcopy(example_doc)
    doc["vulnerabilities"][0]["product_status"]["fixed"].append("UNDEFINED")
    report = C.validate(doc)
    assert not report.ok
    assert "jsonschema is required" in report.errors[0]
    assert _ids(report.errors, "6.1.1")  # mandatory tests still run
    assert "jsonschema is required" in C.validate_provider_metadata({})[0]


def test_validate_reports_unloadable_schema(monkeypatch, example_doc):
    monkeypatch.setattr(C, "_VALIDATORS", {})
    monkeypatch.setattr(C, "_SCHEMA_DIR", "/nonexistent")
    errors = C.validate(example_doc).errors
    assert errors and errors[0].startswith("schema: cannot load the vendored CSAF schemas")


def test_validation_is_fast(example_doc):
    C.validate(example_doc)  # warm the validator cache
    start = time.perf_counter()
    for _i in range(50):
        C.validate(example_doc)
    assert time.perf_counter() - start < 10.0


def test_error_count_is_capped(example_doc):
    doc = copy.deepcopy(example_doc)
    doc["vulnerabilities"][0]["product_status"]["known_affected"] = ["UNDEF-%d" % i for i in range(500)]
    errors = C.validate(doc, schema=False).errors
    assert len(errors) == C._MAX_ERRORS + 1
    assert errors[-1].startswith("mandatory: ... ")


# ---------------------------------------------------------------------------
# Mandatory tests: one failing mutation per test, the unmodified fixture passes
# ---------------------------------------------------------------------------


def _vuln(doc, i=0):
    return doc["vulnerabilities"][i]


def _m_6_1_1(doc):
    _vuln(doc)["product_status"]["known_affected"].append("EXGPU-UNDEFINED")


def _m_6_1_2(doc):
    doc["product_tree"]["full_product_names"] = [{"name": "Duplicate", "product_id": "EXOS-12"}]


def _m_6_1_3(doc):
    doc["product_tree"]["relationships"][0]["relates_to_product_reference"] = "EXGPU-CTK-AFFECTED-ON-EXOS-12"


def _m_6_1_3_indirect(doc):
    doc["product_tree"]["relationships"].append(
        {
            "category": "installed_with",
            "full_product_name": {"name": "B", "product_id": "REL-B"},
            "product_reference": "REL-C",
            "relates_to_product_reference": "EXOS-12",
        }
    )
    doc["product_tree"]["relationships"].append(
        {
            "category": "installed_with",
            "full_product_name": {"name": "C", "product_id": "REL-C"},
            "product_reference": "REL-B",
            "relates_to_product_reference": "EXOS-12",
        }
    )


def _m_6_1_4(doc):
    _vuln(doc)["remediations"][2]["group_ids"] = ["EXGPU-GRP-UNDEFINED"]


def _m_6_1_5(doc):
    doc["product_tree"]["product_groups"].append(copy.deepcopy(doc["product_tree"]["product_groups"][0]))


def _m_6_1_6(doc):
    _vuln(doc)["product_status"]["known_affected"].append("EXGPU-DRV-535.183.01")


def _m_6_1_6_not_affected(doc):
    _vuln(doc, 1)["product_status"]["under_investigation"] = ["EXOS-12"]


def _m_6_1_7(doc):
    _vuln(doc)["scores"].append(copy.deepcopy(_vuln(doc)["scores"][0]))


def _m_6_1_13(doc):
    branch = doc["product_tree"]["branches"][0]["branches"][1]["branches"][1]
    branch["product"]["product_identification_helper"]["purl"] = "pkg:maven/@1.3.4"


def _m_6_1_14(doc):
    history = doc["document"]["tracking"]["revision_history"]
    history[0]["number"], history[1]["number"] = "1.1.0", "1.0.0"


def _m_6_1_16(doc):
    doc["document"]["tracking"]["version"] = "1.0.0"


def _m_6_1_17(doc):
    doc["document"]["tracking"]["version"] = "0.9.0"
    doc["document"]["tracking"]["revision_history"] = [
        {"date": "2024-06-01T10:00:00.000Z", "number": "0.9.0", "summary": "Draft."}
    ]


def _m_6_1_18(doc):
    doc["document"]["tracking"]["revision_history"][0]["number"] = "0.1.0"


def _m_6_1_19(doc):
    doc["document"]["tracking"]["revision_history"][0]["number"] = "1.0.0-rc.1"


def _m_6_1_20(doc):
    doc["document"]["tracking"]["version"] = "1.1.0-rc.1"
    doc["document"]["tracking"]["revision_history"][1]["number"] = "1.1.0-rc.1"


def _m_6_1_22(doc):
    doc["document"]["tracking"]["revision_history"][0]["number"] = "1.1.0"


def _m_6_1_23(doc):
    _vuln(doc, 1)["cve"] = _vuln(doc, 0)["cve"]


def _m_6_1_27_4(doc):
    del doc["product_tree"]


def _m_6_1_27_5(doc):
    del _vuln(doc, 1)["notes"]


def _m_6_1_27_6(doc):
    del _vuln(doc, 1)["product_status"]


def _m_6_1_27_11(doc):
    del doc["vulnerabilities"]


def _m_6_1_27_9(doc):
    doc["document"]["category"] = "csaf_vex"


def _m_6_1_27_10(doc):
    doc["document"]["category"] = "csaf_vex"
    _vuln(doc)["remediations"] = [_vuln(doc)["remediations"][0]]


def _m_6_1_27_3(doc):
    doc["document"]["category"] = "csaf_informational_advisory"


def _m_6_1_15(doc):
    doc["document"]["publisher"]["category"] = "translator"


def _m_6_1_28(doc):
    doc["document"]["source_lang"] = "EN"


def _m_6_1_29(doc):
    del _vuln(doc)["remediations"][0]["product_ids"]


def _m_6_1_30(doc):
    doc["document"]["tracking"]["revision_history"][0]["number"] = "1"


def _m_6_1_32(doc):
    _vuln(doc)["flags"] = [{"label": "component_not_present"}]


MANDATORY_MUTATIONS = [
    ("6.1.1", _m_6_1_1),
    ("6.1.2", _m_6_1_2),
    ("6.1.3", _m_6_1_3),
    ("6.1.3", _m_6_1_3_indirect),
    ("6.1.4", _m_6_1_4),
    ("6.1.5", _m_6_1_5),
    ("6.1.6", _m_6_1_6),
    ("6.1.6", _m_6_1_6_not_affected),
    ("6.1.7", _m_6_1_7),
    ("6.1.13", _m_6_1_13),
    ("6.1.14", _m_6_1_14),
    ("6.1.15", _m_6_1_15),
    ("6.1.16", _m_6_1_16),
    ("6.1.17", _m_6_1_17),
    ("6.1.18", _m_6_1_18),
    ("6.1.19", _m_6_1_19),
    ("6.1.20", _m_6_1_20),
    ("6.1.22", _m_6_1_22),
    ("6.1.23", _m_6_1_23),
    ("6.1.27.3", _m_6_1_27_3),
    ("6.1.27.4", _m_6_1_27_4),
    ("6.1.27.5", _m_6_1_27_5),
    ("6.1.27.6", _m_6_1_27_6),
    ("6.1.27.9", _m_6_1_27_9),
    ("6.1.27.10", _m_6_1_27_10),
    ("6.1.27.11", _m_6_1_27_11),
    ("6.1.28", _m_6_1_28),
    ("6.1.29", _m_6_1_29),
    ("6.1.30", _m_6_1_30),
    ("6.1.32", _m_6_1_32),
]


def test_example_passes_all_mandatory_tests(example_doc):
    assert C.validate(example_doc, schema=False).errors == []


@pytest.mark.parametrize(
    "test_id,mutate", MANDATORY_MUTATIONS, ids=["%s-%s" % (t, f.__name__) for t, f in MANDATORY_MUTATIONS]
)
def test_mandatory_test_fails(example_doc, test_id, mutate):
    doc = copy.deepcopy(example_doc)
    mutate(doc)
    report = C.validate(doc)
    assert not report.ok
    assert _ids(report.errors, test_id), report.errors


def test_mandatory_messages_name_the_problem(example_doc):
    doc = copy.deepcopy(example_doc)
    _m_6_1_1(doc)
    _m_6_1_6(doc)
    errors = C.validate(doc, schema=False).errors
    assert (
        "6.1.1: product id 'EXGPU-UNDEFINED' is referenced but not defined "
        "(/vulnerabilities/0/product_status/known_affected/2)" in errors
    )
    assert any(e.startswith("6.1.6: product id 'EXGPU-DRV-535.183.01' has contradicting status") for e in errors)


def test_6_1_16_ignores_build_and_draft_prerelease(example_doc):
    doc = copy.deepcopy(example_doc)
    doc["document"]["tracking"]["version"] = "1.1.0+build.7"
    assert not _ids(C.validate(doc, schema=False).errors, "6.1.16")
    doc["document"]["tracking"]["version"] = "1.1.0-rc.1"
    doc["document"]["tracking"]["status"] = "draft"
    errors = C.validate(doc, schema=False).errors
    assert not _ids(errors, "6.1.16") and not _ids(errors, "6.1.17") and not _ids(errors, "6.1.20")


def test_draft_status_allows_zero_version(example_doc):
    doc = copy.deepcopy(example_doc)
    _m_6_1_17(doc)
    doc["document"]["tracking"]["status"] = "draft"
    assert C.validate(doc).ok


WARNINGS = [
    ("6.1.31", "product_version", "prior to 4.2"),
    ("6.1.31", "product_version", "All versions < 2"),
    ("6.2.18", "product_version_range", "<V3.0.29"),
    ("vers", "product_version_range", "vers:all/<V4.3.8"),
    ("vers", "product_version_range", "vers:generic/<2"),
]


@pytest.mark.parametrize("test_id,category,name", WARNINGS)
def test_branch_name_warnings(example_doc, test_id, category, name):
    doc = copy.deepcopy(example_doc)
    branch = doc["product_tree"]["branches"][0]["branches"][0]["branches"][0]
    branch["category"], branch["name"] = category, name
    report = C.validate(doc)
    assert report.ok, report.errors  # warnings only
    assert _ids(report.warnings, test_id), report.warnings
    assert "/product_tree/branches/0/branches/0/branches/0" in report.warnings[0]


# ---------------------------------------------------------------------------
# OASIS TC test data
# ---------------------------------------------------------------------------

OASIS_FILES = sorted(f for f in os.listdir(OASIS_MANDATORY) if f.endswith(".json"))
_OASIS_RE = re.compile(r"6-1-(\d\d)(?:-(\d\d))?-(\d\d)\.json$")
#: mandatory tests validate() implements (as errors); 6.1.31 is reported as a warning.
IMPLEMENTED = {
    "6.1.1", "6.1.2", "6.1.3", "6.1.4", "6.1.5", "6.1.6", "6.1.7", "6.1.13", "6.1.14", "6.1.15", "6.1.16",
    "6.1.17", "6.1.18", "6.1.19", "6.1.20", "6.1.22", "6.1.23", "6.1.27.1", "6.1.27.2", "6.1.27.3",
    "6.1.27.4", "6.1.27.5", "6.1.27.6", "6.1.27.7", "6.1.27.8", "6.1.27.9", "6.1.27.10", "6.1.27.11",
    "6.1.28", "6.1.29", "6.1.30", "6.1.32",
}  # fmt: skip


def _oasis_case(name):
    m = _OASIS_RE.search(name)
    test, sub, num = m.groups()
    test_id = "6.1.%d" % int(test) + (".%d" % int(sub) if sub else "")
    return test_id, num.startswith("0")


def test_oasis_data_present():
    assert len(OASIS_FILES) == 147


@pytest.mark.parametrize("name", OASIS_FILES)
def test_oasis_mandatory_data(name):
    test_id, must_fail = _oasis_case(name)
    with open(os.path.join(OASIS_MANDATORY, name), "rb") as handle:
        doc = C.load_bytes(handle.read())
    report = C.validate(doc)
    if not must_fail:
        assert report.ok, report.errors
        assert not _ids(report.warnings, test_id)
    elif test_id in IMPLEMENTED:
        assert _ids(report.errors, test_id), report.errors
    elif test_id == "6.1.31":
        assert report.ok and _ids(report.warnings, "6.1.31"), report.as_dict()
    else:
        # 6.1.8-6.1.12, 6.1.21, 6.1.24-6.1.26, 6.1.33: not implemented
        # (CVSS computation, CWE/language registries, ...); only check it does not break.
        assert isinstance(report.ok, bool)


# ---------------------------------------------------------------------------
# flatten_product_tree
# ---------------------------------------------------------------------------


def test_flatten_nvidia_style(nvidia_doc):
    flat = C.flatten_product_tree(nvidia_doc)
    pid = "linuxr535_tesla_all_driver_versions_prior_to_535_183_01"
    assert flat[pid] == {
        "product_id": pid,
        "name": "All driver versions prior to 535.183.01",
        "path": [
            {"category": "vendor", "name": "Example GPU"},
            {"category": "product_family", "name": "GPU Display Driver"},
            {"category": "architecture", "name": "Linux(R535)"},
            {"category": "product_version", "name": "Tesla"},
        ],
        "helper": {"cpe": "cpe:2.3:a:example:gpu_display_driver:*:*:*:*:*:*:*:*"},
        "relationship": None,
    }
    assert list(flat) == [
        pid,
        "linuxr535_tesla_535_183_01",
        "linuxr535_geforce_all_driver_versions_prior_to_535_183_01",
        "linuxr550_tesla_all_driver_versions_prior_to_550_90_07",
        "linuxr550_container_toolkit_v1_17",
    ]
    assert flat["linuxr550_container_toolkit_v1_17"]["path"][2] == {"category": "architecture", "name": "Linux(R550)"}
    assert flat["linuxr535_tesla_535_183_01"]["helper"] == {}


def test_flatten_relationships_and_full_product_names(example_doc):
    doc = copy.deepcopy(example_doc)
    doc["product_tree"]["full_product_names"] = [{"name": "Standalone", "product_id": "FPN-1"}]
    doc["product_tree"]["relationships"].append(
        {
            "category": "default_component_of",
            "full_product_name": {"name": "Chained", "product_id": "REL-CHAIN"},
            "product_reference": "EXGPU-CTK-AFFECTED-ON-EXOS-12",
            "relates_to_product_reference": "FPN-1",
        }
    )
    flat = C.flatten_product_tree(doc)
    rel = flat["EXGPU-CTK-AFFECTED-ON-EXOS-12"]
    assert rel["relationship"] == {
        "category": "installed_on",
        "product_reference": "EXGPU-CTK-AFFECTED",
        "relates_to_product_reference": "EXOS-12",
    }
    assert rel["path"] == flat["EXGPU-CTK-AFFECTED"]["path"]
    assert rel["path"] is not flat["EXGPU-CTK-AFFECTED"]["path"]
    assert flat["REL-CHAIN"]["path"] == flat["EXGPU-CTK-AFFECTED"]["path"]
    assert flat["FPN-1"] == {
        "product_id": "FPN-1",
        "name": "Standalone",
        "path": [],
        "helper": {},
        "relationship": None,
    }
    assert flat["EXGPU-CTK-1.16.2"]["helper"]["purl"].startswith("pkg:deb/")


def test_flatten_duplicates_first_wins_and_cycles(example_doc):
    doc = copy.deepcopy(example_doc)
    _m_6_1_2(doc)
    _m_6_1_3_indirect(doc)
    flat = C.flatten_product_tree(doc)
    assert flat["EXOS-12"]["name"] == "Example Linux 12"
    assert flat["REL-B"]["path"] == [] and flat["REL-C"]["path"] == []


def test_flatten_undefined_reference(example_doc):
    doc = copy.deepcopy(example_doc)
    doc["product_tree"]["relationships"][0]["product_reference"] = "NOPE"
    assert C.flatten_product_tree(doc)["EXGPU-CTK-AFFECTED-ON-EXOS-12"]["path"] == []


MALFORMED = [
    None,
    [],
    "x",
    {},
    {"product_tree": None},
    {"product_tree": []},
    {"product_tree": {"branches": "x", "full_product_names": {}, "relationships": 5}},
    {"product_tree": {"branches": [None, 1, "x", {"branches": [{"product": "x"}]}]}},
    {"product_tree": {"branches": [{"category": 5, "name": None, "product": {"product_id": 7, "name": 1}}]}},
    {"product_tree": {"full_product_names": [{"product_id": "A", "name": 5, "product_identification_helper": "x"}]}},
    {"product_tree": {"relationships": [{"full_product_name": "x"}, {"full_product_name": {"product_id": "R"}}]}},
    {"product_tree": {"relationships": [{"full_product_name": {"product_id": "R"}, "product_reference": ["A"]}]}},
]


@pytest.mark.parametrize("doc", MALFORMED)
def test_flatten_tolerates_malformed_input(doc):
    flat = C.flatten_product_tree(doc)
    assert isinstance(flat, dict)
    for pid, entry in flat.items():
        assert isinstance(pid, str) and entry["product_id"] == pid
        assert isinstance(entry["name"], str) and isinstance(entry["path"], list)
        assert isinstance(entry["helper"], dict)


def test_flatten_malformed_values_are_normalised():
    flat = C.flatten_product_tree(MALFORMED[9])
    assert flat == {"A": {"product_id": "A", "name": "", "path": [], "helper": {}, "relationship": None}}
    flat = C.flatten_product_tree(MALFORMED[11])
    assert flat["R"]["relationship"] == {
        "category": None,
        "product_reference": None,
        "relates_to_product_reference": None,
    }


def test_flatten_deep_nesting_does_not_recurse():
    branch = {"category": "product_version", "name": "leaf", "product": {"name": "Deep", "product_id": "DEEP"}}
    for i in range(1500):
        branch = {"category": "product_family", "name": "n%d" % i, "branches": [branch]}
    doc = {"product_tree": {"branches": [branch]}}
    flat = C.flatten_product_tree(doc)
    assert len(flat["DEEP"]["path"]) == 1501
    report = C.validate(doc, schema=False)
    assert isinstance(report.ok, bool)


# ---------------------------------------------------------------------------
# document_meta / expected_filename
# ---------------------------------------------------------------------------


def test_document_meta(example_doc):
    assert C.document_meta(example_doc) == {
        "tracking_id": "EXGPU-2024-0001",
        "version": "1.1.0",
        "status": "final",
        "title": "Example GPU driver and container toolkit vulnerabilities",
        "initial_release_date": "2024-06-01T10:00:00.000Z",
        "current_release_date": "2024-07-02T10:00:00.000Z",
        "tlp": "WHITE",
        "publisher_name": "Example GPU Vendor PSIRT",
        "publisher_category": "vendor",
        "csaf_version": "2.0",
        "category": "csaf_security_advisory",
    }


@pytest.mark.parametrize(
    "label,expected",
    [("CLEAR", "CLEAR"), ("AMBER+STRICT", "AMBER+STRICT"), ("RED", "RED"), ("white", None), ("PURPLE", None), (5, None)],
)
def test_document_meta_tlp(example_doc, label, expected):
    doc = copy.deepcopy(example_doc)
    doc["document"]["distribution"]["tlp"]["label"] = label
    assert C.document_meta(doc)["tlp"] == expected


@pytest.mark.parametrize(
    "doc", [None, [], {}, {"document": []}, {"document": {"tracking": "x", "distribution": {"tlp": []}}}]
)
def test_document_meta_tolerates_malformed(doc):
    meta = C.document_meta(doc)
    assert set(meta) == {
        "tracking_id", "version", "status", "title", "initial_release_date", "current_release_date",
        "tlp", "publisher_name", "publisher_category", "csaf_version", "category",
    }  # fmt: skip
    assert all(v is None for v in meta.values())


def test_document_meta_wrong_types(example_doc):
    doc = copy.deepcopy(example_doc)
    doc["document"]["tracking"]["version"] = 2
    doc["document"]["title"] = ["x"]
    meta = C.document_meta(doc)
    assert meta["version"] is None and meta["title"] is None


@pytest.mark.parametrize(
    "tracking_id,filename",
    [
        ("OASIS_CSAF_TC-CSAF_2.0-2021-5-1-11", "oasis_csaf_tc-csaf_2_0-2021-5-1-11.json"),
        ("NVIDIA-2024-5586", "nvidia-2024-5586.json"),
        ("cisco-sa-20190513-secureboot", "cisco-sa-20190513-secureboot.json"),
        ("RHBA-2019:0024", "rhba-2019_0024.json"),
        ("Example Company - 2019-YH3234", "example_company_-_2019-yh3234.json"),
        ("a+b", "a+b.json"),
        ("a...//b", "a_b.json"),
        ("__x__", "_x_.json"),
        ("Größe 1", "gr_e_1.json"),
    ],
)
def test_expected_filename(tracking_id, filename):
    assert C.expected_filename(tracking_id) == filename


@pytest.mark.parametrize("value", ["", "   ", None, 5, ["a"]])
def test_expected_filename_rejects(value):
    with pytest.raises(C.CsafError):
        C.expected_filename(value)


# ---------------------------------------------------------------------------
# Provider metadata
# ---------------------------------------------------------------------------


def test_provider_metadata_valid():
    with open(os.path.join(CSAF_FIXTURES, "provider-metadata.json"), "rb") as handle:
        pmd = C.load_bytes(handle.read())
    assert C.validate_provider_metadata(pmd) == []


def test_provider_metadata_errors():
    with open(os.path.join(CSAF_FIXTURES, "provider-metadata.json"), "rb") as handle:
        pmd = json.load(handle)
    del pmd["role"]
    pmd["canonical_url"] = "https://psirt.example.com/pmd.json"
    pmd["public_openpgp_keys"][0]["fingerprint"] = "abc"
    pmd["publisher"]["category"] = "nobody"
    pmd["last_updated"] = "yesterday"
    errors = C.validate_provider_metadata(pmd)
    assert "schema: /: 'role' is a required property" in errors
    assert any(e.startswith("schema: /canonical_url:") for e in errors)
    assert any(e.startswith("schema: /public_openpgp_keys/0/fingerprint:") for e in errors)
    assert any(e.startswith("schema: /publisher/category:") for e in errors)
    assert any(e.startswith("schema: /last_updated:") and "date-time" in e for e in errors)


@pytest.mark.parametrize("value", [None, [], "x"])
def test_provider_metadata_non_dict(value):
    assert C.validate_provider_metadata(value)[0].startswith("schema: /: provider metadata must be a JSON object")
