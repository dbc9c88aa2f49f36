# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fast checks of the patching test data (no containers): ``pytest tests/integration/patching``.

The Molecule scenario ``patching`` relies on these facts; checking them here shows in seconds whether a change of
the CSAF engine, of gpu_facts or of the fixtures would break its expectations.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.aisec.gpu_host.plugins.module_utils import csaf_document, csaf_match
from ansible_collections.aisec.gpu_host.plugins.module_utils.gpu_facts_parsers import parse_nvidia_smi_xml

HERE = os.path.dirname(os.path.abspath(__file__))
CSAF = os.path.join(HERE, "csaf")


def _documents():
    docs = []
    for path in sorted(glob.glob(os.path.join(CSAF, "*", "*.json"))):
        with open(path, "rb") as fh:
            docs.append((path, json.loads(fh.read())))
    return docs


def _summary(*components):
    return csaf_match.match(_documents(), list(components))


def test_fixtures_are_valid_csaf_with_matching_hashes():
    docs = _documents()
    assert len(docs) == 4
    for path, doc in docs:
        report = csaf_document.validate(doc)
        assert report.ok, (path, report.errors)
        assert os.path.basename(path) == csaf_document.expected_filename(doc["document"]["tracking"]["id"])
        with open(path, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        with open(path + ".sha256", encoding="utf-8") as fh:
            assert fh.read().split()[0] == digest


def test_fixtures_are_what_make_csaf_fixtures_writes(tmp_path):
    subprocess.run([sys.executable, os.path.join(HERE, "make_csaf_fixtures.py"), str(tmp_path)],
                   check=True, capture_output=True)
    for path in glob.glob(os.path.join(CSAF, "*", "*")):
        rel = os.path.relpath(path, CSAF)
        with open(path, "rb") as a, open(os.path.join(str(tmp_path), rel), "rb") as b:
            assert a.read() == b.read(), rel


@pytest.mark.parametrize(
    "component, status, required, unfixed",
    [
        # the vulnerable host: both driver bulletins apply, 535.230.02 fixes both (535.216.01 only the older one)
        ({"name": "nvidia_driver", "version": "535.183.01", "family": "datacenter"}, "affected", "535.230.02", []),
        ({"name": "nvidia_driver", "version": "535.216.01", "family": "datacenter"}, "affected", "535.230.02", []),
        ({"name": "nvidia_driver", "version": "535.230.02", "family": "datacenter"}, "not_affected", None, []),
        # R550: "All driver versions" and no fix -> unfixed, no required version
        ({"name": "nvidia_driver", "version": "550.127.05", "family": "datacenter"}, "affected", None,
         ["AISEC-TEST-2025-0002"]),
        # the role's migration probe: the lowest version of the target branch gives the branch's required version
        ({"name": "nvidia_driver", "version": "570.0", "family": "datacenter"}, "affected", "570.195.03", []),
        ({"name": "nvidia_container_toolkit", "version": "1.17.3"}, "affected", "1.17.8", []),
        ({"name": "nvidia_container_toolkit", "version": "1.17.8"}, "not_affected", None, []),
        ({"name": "firmware", "version": "1.5.0", "family": "HGX H100 8-GPU"}, "affected", "1.6.0", []),
    ],
)
def test_fixture_decisions(component, status, required, unfixed):
    result = _summary(component)
    assert not result["not_understood"] and not result["documents"]["rejected"]
    summaries = list(result["summary"].values())
    assert len(summaries) == 1, summaries
    summary = summaries[0]
    assert (summary["status"], summary["required_version"], summary["unfixed"]) == (status, required, unfixed)


def test_firmware_release_of_the_fwupd_standin_fixes_the_firmware_finding():
    result = _summary({"name": "firmware", "version": "1.5.0", "family": "HGX H100 8-GPU"})
    assert [f["cves"] for f in result["findings"]] == [["CVE-2099-10004"]]
    with open(os.path.join(HERE, "standins", "fwupdmgr.py"), encoding="utf-8") as fh:
        assert '"Issues": ["CVE-2099-10004"]' in fh.read()


@pytest.mark.skipif(shutil.which("dpkg-deb") is None or shutil.which("dpkg-scanpackages") is None,
                    reason="needs dpkg-dev")
def test_repository_and_standin_nvidia_smi(tmp_path):
    repo = tmp_path / "repo"
    subprocess.run([sys.executable, os.path.join(HERE, "build_repo.py"), str(repo)], check=True, capture_output=True)
    packages = (repo / "Packages").read_text(encoding="utf-8")
    for name_version in ("nvidia-driver-535-server\nVersion: 535.183.01-0ubuntu0.22.04.1",
                         "nvidia-driver-535-server\nVersion: 535.247.01-0ubuntu0.22.04.1",
                         "nvidia-container-toolkit\nVersion: 1.17.8-1",
                         "intel-microcode\nVersion: 3.20250512.1~deb12u1"):
        assert "Package: " + name_version in packages
    deb = repo / "nvidia-utils-535-server_535.183.01-0ubuntu0.22.04.1_all.deb"
    root = tmp_path / "x"
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    xml = subprocess.run(["sh", str(root / "usr" / "bin" / "nvidia-smi"), "-q", "-x"], check=True,
                         capture_output=True, text=True).stdout
    smi = parse_nvidia_smi_xml(xml)
    assert smi["driver_version"] == "535.183.01" and len(smi["gpus"]) == 2
    assert {g["family"] for g in smi["gpus"]} == {"datacenter"}  # the driver family csaf_match needs
