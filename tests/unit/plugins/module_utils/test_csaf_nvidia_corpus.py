# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""csaf_match on NVIDIA's real advisories (github.com/NVIDIA/product-security), issue #12.

NVIDIA's files are "All rights reserved": they are not part of this repository. Point the
environment variable ``AISEC_NVIDIA_CSAF_DIR`` at a checkout or an extracted tree of the
repository (``<YYYY>/<ID>/<ID>.json``); without it every test here is skipped. CI does not set it.

    mkdir -p /work/nvidia-csaf
    git --git-dir=/path/to/NVIDIA+product-security/repo archive HEAD | tar -x -C /work/nvidia-csaf
    AISEC_NVIDIA_CSAF_DIR=/work/nvidia-csaf .venv/bin/python -m pytest -q \\
        tests/unit/plugins/module_utils/test_csaf_nvidia_corpus.py

HOSTS is a table of realistic hosts. Every expected answer was checked by hand against the
bulletins (the JSON products and the Markdown tables) of commit dbb4ada (18 Aug 2026, 181
documents); the comments name the bulletins that decide it. Only bulletin ids, versions and short
version texts are quoted: facts, not NVIDIA's text.
"""

from __future__ import annotations

import os
import re
import time

import pytest

from ansible_collections.aisec.gpu_host.plugins.action import csaf_match as action
from ansible_collections.aisec.gpu_host.plugins.module_utils import csaf_match as cm

CORPUS = os.environ.get("AISEC_NVIDIA_CSAF_DIR")
pytestmark = pytest.mark.skipif(
    not CORPUS, reason="AISEC_NVIDIA_CSAF_DIR is not set: it must point at a checkout of NVIDIA's product-security "
                       "repository (not shipped: All rights reserved)")


def _driver(version, family="datacenter"):
    return {"name": "nvidia_driver", "family": family, "version": version}


#: (component, expected summary fields). ``findings``/``undecided``: tracking ids; ``bc``: branch_change_version.
HOSTS = [
    # --- data-centre (Tesla) drivers, Linux -------------------------------------------------------------------
    # R535 LTSB: 5670's fix 535.261.03 installed; 5703 -> 535.274.02, 5747 -> 535.288.01, 5821 -> 535.309.01.
    # Bulletins of 2022/2023 list only branches older than R535 (no statement).
    (_driver("535.261.03"), {"status": "affected", "required": "535.309.01", "findings": ["5703", "5747", "5821"],
                             "unfixed": [], "bc": None, "undecided": []}),
    # R550: in-branch fixes up to 5630 (550.163.01, installed); 5670 (R535, R570), 5703 (R535, R570, R580),
    # 5747 (R535, R570, R580, R590) and 5821 (R535, R580, R595) no longer list R550: branch change. R570 is ruled
    # out by 5821, so the lowest version every bulletin accepts is 5821's R580 fix 580.159.03.
    (_driver("550.163.01"), {"status": "affected", "required": None, "findings": ["5670", "5703", "5747", "5821"],
                             "unfixed": ["5670", "5703", "5747", "5821"], "bc": "580.159.03", "undecided": []}),
    # R570: 5670's fix installed; 5703 -> 570.195.03, 5747 -> 570.211.01; 5821 lists no R570: branch change.
    (_driver("570.172.08"), {"status": "affected", "required": "570.211.01", "findings": ["5703", "5747", "5821"],
                             "unfixed": ["5821"], "bc": "580.159.03", "undecided": []}),
    # R580: 5703's fix installed; 5747 -> 580.126.09, 5821 -> 580.159.03.
    (_driver("580.95.05"), {"status": "affected", "required": "580.159.03", "findings": ["5747", "5821"],
                            "unfixed": [], "bc": None, "undecided": []}),
    # R580 at 5821's fix: covered by 5703, 5747, 5821; older bulletins predate R580.
    (_driver("580.159.03"), {"status": "not_affected", "required": None, "findings": [], "unfixed": [],
                             "bc": None, "undecided": []}),
    # --- vGPU ---------------------------------------------------------------------------------------------------
    # Guest driver 535.261.03 (vGPU 16.11): 5703 affects it but its vGPU 16 fix reads "575.274.02(vGPU 16.12)"
    # (not on R535: not understood, so no fix from 5703 and undecided); 5747 -> 535.288.01 (vGPU 16.13),
    # 5821 -> 535.309.01 (vGPU 16.14).
    (_driver("535.261.03", "vgpu_guest"), {"status": "affected", "required": "535.309.01",
                                           "findings": ["5703", "5747", "5821"], "unfixed": ["5703"], "bc": None,
                                           "undecided": ["5703"]}),
    # vGPU Manager 550.144.02 (vGPU 17.5, KVM/Ubuntu/XenServer/vSphere rows): 5630 -> 550.163.02 (vGPU 17.6);
    # 5670, 5703, 5747 and 5821 list vGPU 16, 18, 19 (20) only: branch change, lowest accepted R580 fix
    # 580.159.01 (vGPU 19.5, 5821).
    (_driver("550.144.02", "vgpu_host"), {"status": "affected", "required": "550.163.02",
                                          "findings": ["5630", "5670", "5703", "5747", "5821"],
                                          "unfixed": ["5670", "5703", "5747", "5821"], "bc": "580.159.01",
                                          "undecided": []}),
    # Guest driver 570.172.08 (vGPU 18.4): 5703 -> 570.195.03 (18.5), 5747 -> 570.211.01 (18.6); 5821 lists no
    # vGPU 18: branch change to R580 (580.159.03, vGPU 19.5).
    (_driver("570.172.08", "vgpu_guest"), {"status": "affected", "required": "570.211.01",
                                           "findings": ["5703", "5747", "5821"], "unfixed": ["5821"],
                                           "bc": "580.159.03", "undecided": []}),
    # vGPU Manager 580.82.02 (vGPU 19.1): 5703 -> 580.95.02, 5747 -> 580.126.08, 5821 -> 580.159.01; 5821's
    # CVE-2026-24200 rows are filed under the wrong branches (R595 row with 580.x versions, R580 row with 535.x):
    # not understood, so 5821 stays undecided for R580 as well.
    (_driver("580.82.02", "vgpu_host"), {"status": "affected", "required": "580.159.01",
                                         "findings": ["5703", "5747", "5821"], "unfixed": [], "bc": None,
                                         "undecided": ["5821"]}),
    # --- container stack ----------------------------------------------------------------------------------------
    # 5659: <= 1.17.7 (CDI mode only below 1.17.5) -> 1.17.8; 5850: <= 1.19.0 -> 1.19.1.
    ({"name": "nvidia_container_toolkit", "version": "1.17.7"},
     {"status": "affected", "required": "1.19.1", "findings": ["5659", "5850"], "unfixed": [], "bc": None,
      "undecided": []}),
    # 5659: <= 25.3.1 -> 25.3.2; 5850: <= 26.3.1 -> 26.3.2.
    ({"name": "nvidia_gpu_operator", "version": "25.3.1"},
     {"status": "affected", "required": "26.3.2", "findings": ["5659", "5850"], "unfixed": [], "bc": None,
      "undecided": []}),
    # --- DCGM ---------------------------------------------------------------------------------------------------
    # 5328 (< 2.3.4) and 5453 (< 3.1.7) fixed; 5857 "All(4.5)": "0.0 to 4.5.2" -> 4.5.3.
    ({"name": "nvidia_dcgm", "version": "4.2.3"},
     {"status": "affected", "required": "4.5.3", "findings": ["5857"], "unfixed": [], "bc": None, "undecided": []}),
    # Exporter 4.1.3 (image 4.2.3-4.1.3): 5857 "0.0 to 4.8.2", but its fixed version 4.8.2 lies inside that
    # range: no usable fix.
    ({"name": "dcgm_exporter", "version": "4.1.3"},
     {"status": "affected", "required": None, "findings": ["5857"], "unfixed": ["5857"], "bc": None,
      "undecided": []}),
    # --- CUDA ---------------------------------------------------------------------------------------------------
    # 12.6 Update 2: 5577 (<= 12.6U1) fixed; 5594 (up to 12.8) -> 12.8, 5643 (up to 12.9) -> 12.9,
    # 5661 (< 12.9 Update 1, < 13.0) -> 13.0, 5755 (< 13.1) -> 13.1.
    ({"name": "cuda_toolkit", "version": "12.6.2"},
     {"status": "affected", "required": "13.1", "findings": ["5594", "5643", "5661", "5755"], "unfixed": [],
      "bc": None, "undecided": []}),
    # --- Triton (container release) ------------------------------------------------------------------------------
    # 5535/5546/5565/5612 fixed by 24.04 ... 24.12; 5687 ... 5865 (< 25.07 ... "0.0-26.05") -> 26.06.
    # 5509 gives server versions (< 2.40): never compared with a container release.
    ({"name": "triton_inference_server", "version": "25.01"},
     {"status": "affected", "required": "26.06",
      "findings": ["5687", "5691", "5723", "5734", "5790", "5816", "5828", "5848", "5853", "5860", "5865"],
      "unfixed": [], "bc": None, "undecided": ["5509"]}),
    # --- TensorRT -----------------------------------------------------------------------------------------------
    # Build 10.13.0.35 is release 10.13.0: 5836 (< v10.16.1) -> 10.16.1, 5855 ("v0 - v10.16.1") -> v11.0.
    ({"name": "tensorrt", "version": "10.13.0.35"},
     {"status": "affected", "required": "11.0.0", "findings": ["5836", "5855"], "unfixed": [], "bc": None,
      "undecided": []}),
    # --- TensorRT-LLM -------------------------------------------------------------------------------------------
    # 1.3.0rc12: 5648 (< 0.18.2) and 5805 (< v1.2, < v1.2.1) fixed; 5840: "0.0 to v1.3.0 rc14/rc15/rc16/rc12"
    # affect it (rc11's range does not), the highest fix needed is v1.3.0 rc17.
    ({"name": "tensorrt_llm", "version": "1.3.0rc12"},
     {"status": "affected", "required": "1.3.0rc17", "findings": ["5840"], "unfixed": [], "bc": None,
      "undecided": []}),
    # 1.3.0rc17: every 5840 range ends at rc16 or below, every fix is at most rc17.
    ({"name": "tensorrt_llm", "version": "1.3.0rc17"},
     {"status": "not_affected", "required": None, "findings": [], "unfixed": [], "bc": None, "undecided": []}),
    # --- NeMo ---------------------------------------------------------------------------------------------------
    # Package 2.1.0: 5580 (< r2.0.0rc0) fixed; 5686 ... 5839 (< 2.3.2 ... "0.0 to 2.7.2") -> 2.7.3.
    # 5623 (< 24.12) and 5641 (< 25.02) give container releases: never compared with a package version.
    ({"name": "nemo_framework", "version": "2.1.0"},
     {"status": "affected", "required": "2.7.3",
      "findings": ["5686", "5689", "5718", "5729", "5736", "5762", "5800", "5839"], "unfixed": [], "bc": None,
      "undecided": ["5623", "5641"]}),
    # Container 25.02: 5623 and 5641 fixed; every later bulletin (and 5580) gives package versions only.
    ({"name": "nemo_framework", "version": "25.02"},
     {"status": "undecided", "required": None, "findings": [], "unfixed": [], "bc": None,
      "undecided": ["5580", "5686", "5689", "5718", "5729", "5736", "5762", "5800", "5839"]}),
    # --- Dynamo -------------------------------------------------------------------------------------------------
    # 5842: "0 to v1.0.0" -> v1.1.0, "0 to v1.1.0" -> v1.1.1 / v1.2.0, "0 to v1.2.0" -> v1.3.0.
    ({"name": "dynamo", "version": "0.4.0"},
     {"status": "affected", "required": "1.3.0", "findings": ["5842"], "unfixed": [], "bc": None,
      "undecided": []}),
]


@pytest.fixture(scope="module")
def corpus():
    files, problems = action.collect_files([CORPUS])
    assert not problems
    docs, rejected, skipped = action.load_documents(files)
    return docs, rejected, skipped


def _answer(summary):
    return {"status": summary["status"], "required": summary["required_version"], "findings": summary["findings"],
            "unfixed": summary["unfixed"], "bc": summary["branch_change_version"], "undecided": summary["undecided"]}


@pytest.fixture(scope="module")
def answers(corpus):
    """Summary per HOSTS index; components that do not share a summary key are matched together."""
    docs, rejected, _skipped = corpus
    batches = []
    for index, (component, _expected) in enumerate(HOSTS):
        key = (component["name"], component.get("family"))
        for batch in batches:
            if key not in batch:
                batch[key] = index
                break
        else:
            batches.append({key: index})
    out = {}
    for batch in batches:
        report = cm.match(docs, [HOSTS[i][0] for i in batch.values()], {"validate": True}, rejected=rejected)
        assert [r["tracking_id"] for r in report["documents"]["rejected"]] == ["5708"]  # a draft (Isaac Lab)
        for index, summary in zip(batch.values(), report["summary"].values()):
            out[index] = summary
    return out


@pytest.mark.parametrize("index", range(len(HOSTS)), ids=["%s-%s-%s" % (c["name"], c.get("family", ""), c["version"])
                                                          for c, _e in HOSTS])
def test_hand_checked_hosts(answers, index):
    component, expected = HOSTS[index]
    assert answers[index]["installed_version"] == component["version"]
    assert _answer(answers[index]) == expected


def test_corpus_shape(corpus):
    docs, rejected, skipped = corpus
    assert (len(docs), rejected) == (181, [])
    assert skipped > 300  # the CVE-*.json records next to each bulletin


def test_defective_documents_are_used_not_dropped(corpus):
    docs, _rejected, _skipped = corpus
    report = cm.match(docs, [{"name": "triton_inference_server", "version": "26.05"}], {"validate": True})
    assert "5865" in report["summary"]["triton_inference_server"]["findings"]  # date-only timestamp, accepted
    strict = cm.match(docs, [{"name": "triton_inference_server", "version": "26.05"}],
                      {"validate": True, "strict": True})
    s = strict["summary"]["triton_inference_server"]
    assert s["status"] == "undecided" and s["undecided"] == ["5509", "5865"]  # 5865 rejected, reported for Triton
    assert s["rejected"][0]["tracking_id"] == "5865"


# Words that identify the products of the vocabulary in NVIDIA's labels, independent of the adapter's patterns.
_KNOWN_LABEL = re.compile(
    r"\b(tesla|geforce|rtx|quadro|guest driver|virtual gpu manager|container toolkit|gpu operator|dcgm|cuda toolkit"
    r"|triton|tensorrt|dynamo|device plugin|mig manager)\b|^(nvidia )?nemo( framework)?$|studio", re.I)
_NOT_LINUX = re.compile(r"^(windows|macos|android|azure|microsoft|vmware)[^,]*$", re.I)


def _named(doc):
    """(component word, label) pairs of Linux-relevant, non-Cloud-Gaming products a document states something on."""
    out = set()
    pids = set()
    for vuln in doc.get("vulnerabilities") or []:
        for ids in (vuln.get("product_status") or {}).values():
            pids.update(ids)
    stack = [(b, None) for b in doc["product_tree"]["branches"]]
    while stack:
        branch, arch = stack.pop()
        if branch.get("category") == "architecture":
            arch = branch["name"]
        product = branch.get("product")
        if product and product.get("product_id") in pids and branch.get("category") == "product_version":
            label = branch["name"]
            platform = re.sub(r"\([^()]*\)$", "", arch or "").strip()
            if (_KNOWN_LABEL.search(label) and "gaming" not in (arch or "").lower() + label.lower()
                    and not _NOT_LINUX.match(platform)):
                out.add(label)
        stack.extend((b, arch) for b in branch.get("branches") or [])
    return out


def test_no_document_naming_a_known_component_is_skipped(corpus):
    docs, rejected, _skipped = corpus
    one_of_each = [_driver("535.100.01"), {"name": "nvidia_container_toolkit", "version": "1.0.0"},
                   {"name": "nvidia_gpu_operator", "version": "1.0.0"}, {"name": "nvidia_dcgm", "version": "1.0.0"},
                   {"name": "dcgm_exporter", "version": "1.0.0"}, {"name": "cuda_toolkit", "version": "10.0"},
                   {"name": "triton_inference_server", "version": "20.01"}, {"name": "tensorrt", "version": "8.0.0"},
                   {"name": "tensorrt_llm", "version": "0.1.0"}, {"name": "nemo_framework", "version": "1.0.0"},
                   {"name": "dynamo", "version": "0.1.0"}, {"name": "k8s_device_plugin", "version": "0.1.0"},
                   {"name": "mig_manager", "version": "0.1.0"}]
    report = cm.match(docs, one_of_each, {"validate": True}, rejected=rejected)
    reported = set()
    for s in report["summary"].values():
        for key in ("findings", "not_affected", "no_statement", "under_investigation", "undecided"):
            reported.update(s[key])
    missing = {}
    for source, doc in docs:
        tid = doc["document"]["tracking"]["id"]
        labels = _named(doc)
        if labels and tid not in reported:
            missing[tid] = sorted(labels)
    assert missing == {}
    # products outside the vocabulary are counted, not mixed into not_understood
    assert report["outside_vocabulary"]["products"] > 400
    assert all(n["category"] != "product" for n in report["not_understood"])


def test_match_time_of_the_whole_corpus(corpus):
    docs, _rejected, _skipped = corpus
    comps = [component for component, _e in HOSTS if component["name"] != "tensorrt_llm"
             and not (component["name"] == "nemo_framework" and component["version"] == "25.02")]
    keys = set()
    unique = []
    for c in comps:
        key = (c["name"], c.get("family"))
        if key not in keys:
            keys.add(key)
            unique.append(c)
    times = {}
    for label, opts in (("schema", {"validate": True}), ("mandatory", {"validate": True, "schema": False}),
                        ("none", {"validate": False})):
        start = time.perf_counter()
        cm.match(docs, unique, opts)
        times[label] = time.perf_counter() - start
    print("whole corpus, %d components: %s" % (len(unique), ", ".join("%s %.2f s" % kv for kv in times.items())))
    assert times["none"] < times["schema"] < 60
