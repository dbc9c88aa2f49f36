# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Report of csaf_match on NVIDIA's real corpus (issue #12): host table, undecided documents, match times.

Not a test (that is tests/unit/plugins/module_utils/test_csaf_nvidia_corpus.py, whose hand-checked host
table this script prints next to the engine's answers). NVIDIA's files are not part of the repository;
give the path of a checkout or an extracted tree of github.com/NVIDIA/product-security::

    .venv/bin/python benchmarks/csaf_corpus_report.py --corpus /work/nvidia-csaf
    AISEC_NVIDIA_CSAF_DIR=/work/nvidia-csaf .venv/bin/python benchmarks/csaf_corpus_report.py --repeat 4

Printed: the host table (engine vs hand-checked answer), every document that leaves an undecided entry
for one component of the vocabulary (each component once, in a typical version) with the reason
categories, and the wall time of matching the whole corpus (files already parsed) with the JSON schema,
with the mandatory tests only and without validation, as the range of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, ".cache", "collections"))
sys.path.insert(0, os.path.join(ROOT, "tests", "unit", "plugins", "module_utils"))
if not os.path.exists(os.path.join(ROOT, ".cache", "collections", "ansible_collections", "aisec", "gpu_host")):
    sys.exit("run scripts/dev-env.sh first: .cache/collections/ansible_collections/aisec/gpu_host is missing")

# pylint: disable=wrong-import-position
from ansible_collections.aisec.gpu_host.plugins.action import csaf_match as action  # noqa: E402
from ansible_collections.aisec.gpu_host.plugins.module_utils import csaf_match as cm  # noqa: E402

import test_csaf_nvidia_corpus as corpus_test  # noqa: E402

ONE_OF_EACH = [
    {"name": "nvidia_driver", "family": "datacenter", "version": "570.172.08"},
    {"name": "nvidia_driver", "family": "geforce", "version": "570.172.08"},
    {"name": "nvidia_driver", "family": "rtx", "version": "570.172.08"},
    {"name": "nvidia_driver", "family": "vgpu_guest", "version": "570.172.08"},
    {"name": "nvidia_driver", "family": "vgpu_host", "version": "570.172.07"},
    {"name": "nvidia_container_toolkit", "version": "1.17.7"},
    {"name": "nvidia_gpu_operator", "version": "25.3.1"},
    {"name": "k8s_device_plugin", "version": "0.17.2"},
    {"name": "mig_manager", "version": "0.12.1"},
    {"name": "nvidia_dcgm", "version": "4.2.3"},
    {"name": "dcgm_exporter", "version": "4.1.3"},
    {"name": "cuda_toolkit", "version": "12.6.2"},
    {"name": "triton_inference_server", "version": "25.01"},
    {"name": "tensorrt", "version": "10.13.0.35"},
    {"name": "tensorrt_llm", "version": "1.3.0rc12"},
    {"name": "nemo_framework", "version": "2.1.0"},
    {"name": "dynamo", "version": "0.4.0"},
    {"name": "firmware", "family": "Hopper HGX 8-GPU", "version": "1.5.0"},
    {"name": "nvidia_vbios", "family": "HGX, DGX Hopper", "version": "1.7.0"},
]


def load(path):
    files, problems = action.collect_files([path])
    if problems:
        sys.exit("; ".join(problems))
    docs, rejected, skipped = action.load_documents(files)
    return docs, rejected, skipped


def host_table(docs, rejected):
    print("%-26s %-11s %-13s %-11s %-11s %-6s %s" % (
        "component", "installed", "status", "required", "branch->", "same?", "findings / undecided"))
    mismatches = 0
    for component, expected in corpus_test.HOSTS:
        report = cm.match(docs, [component], {"validate": True}, rejected=rejected)
        summary = list(report["summary"].values())[0]
        got = corpus_test._answer(summary)  # pylint: disable=protected-access
        same = got == expected
        mismatches += not same
        key = component["name"] + (":" + component["family"] if component.get("family") else "")
        print("%-26s %-11s %-13s %-11s %-11s %-6s %s / %s" % (
            key, component["version"], got["status"], got["required"] or "-", got["bc"] or "-",
            "yes" if same else "NO", ",".join(got["findings"]) or "-", ",".join(got["undecided"]) or "-"))
        if not same:
            print("    expected: %s" % (expected,))
    print("%d of %d hosts as checked by hand" % (len(corpus_test.HOSTS) - mismatches, len(corpus_test.HOSTS)))
    return mismatches


def undecided_documents(docs, rejected):
    report = cm.match(docs, ONE_OF_EACH, {"validate": True}, rejected=rejected)
    per_doc = collections.defaultdict(set)
    reasons = collections.defaultdict(list)
    for key, summary in report["summary"].items():
        for line in summary["undecided_reasons"]:
            tid, _sep, text = line.partition(": ")
            per_doc[tid].add(key)
            reasons[tid].append("%s: %s" % (key, text))
    categories = collections.Counter()
    for key, summary in report["summary"].items():
        for note in summary["not_understood"]:
            categories[note["category"]] += 1
        for line in summary["undecided_reasons"]:
            if "numbering schemes are never compared" in line:
                categories["scheme"] += 1
            elif "could not be used" in line:
                categories["rejected"] += 1
            elif "only for other driver families" in line:
                categories["family"] += 1
            elif "below the first fixed version" in line or "leaves open" in line:
                categories["gap/bound"] += 1
    mentioned = set()
    for summary in report["summary"].values():
        for list_name in ("findings", "not_affected", "no_statement", "under_investigation", "undecided"):
            mentioned.update(summary[list_name])
    print("\n%d loaded documents, %d name a component of the vocabulary for Linux; %d leave an undecided entry for "
          "at least one of %d typical components:" % (report["documents"]["loaded"], len(mentioned), len(per_doc),
                                                      len(ONE_OF_EACH)))
    for tid in sorted(per_doc, key=cm._natural):  # pylint: disable=protected-access
        print("  %s (%s)" % (tid, ", ".join(sorted(per_doc[tid]))))
        for line in cm._unique(reasons[tid])[:3]:  # pylint: disable=protected-access
            print("      %s" % line[:220])
    print("undecided entries by cause: %s" % dict(categories))
    unread = collections.defaultdict(list)
    for note in report["not_understood"]:
        unread[note["document"]].append(note)
    print("\nproducts of known components that cannot be read (make the components they concern undecided, for "
          "the family and branch they name, whatever the installed version): %d in %d documents" % (
              len(report["not_understood"]), len(unread)))
    for tid in sorted(unread, key=cm._natural):  # pylint: disable=protected-access
        for note in unread[tid]:
            print("  %s %-16s %-10s %r: %s" % (tid, note["component"], note["category"], note["text"],
                                               note["reason"][:120]))
    outside = report["outside_vocabulary"]
    print("products outside the vocabulary: %d in %d documents (counted, not reported per component)" % (
        outside["products"], outside["documents"]))


def timings(docs, repeat):
    comps = []
    seen = set()
    for component, _expected in corpus_test.HOSTS:
        key = (component["name"], component.get("family"))
        if key not in seen:
            seen.add(key)
            comps.append(component)
    print("\nwhole corpus (%d documents), %d components, %d run(s) each:" % (len(docs), len(comps), repeat))
    for label, opts in (("JSON schema + mandatory tests", {"validate": True}),
                        ("mandatory tests only (schema=false)", {"validate": True, "schema": False}),
                        ("no validation (validate=false)", {"validate": False})):
        walls = []
        for _i in range(repeat):
            start = time.perf_counter()
            cm.match(docs, comps, opts)
            walls.append(time.perf_counter() - start)
        print("  %-38s %.2f-%.2f s" % (label, min(walls), max(walls)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=os.environ.get("AISEC_NVIDIA_CSAF_DIR"),
                        help="checkout of NVIDIA's product-security repository (default: $AISEC_NVIDIA_CSAF_DIR)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per validation mode")
    args = parser.parse_args(argv)
    if not args.corpus:
        parser.error("give --corpus or set AISEC_NVIDIA_CSAF_DIR")
    start = time.perf_counter()
    docs, rejected, skipped = load(args.corpus)
    print("read and parsed %d documents (%d other JSON files skipped, %d unreadable) in %.2f s\n" % (
        len(docs), skipped, len(rejected), time.perf_counter() - start))
    mismatches = host_table(docs, rejected)
    undecided_documents(docs, rejected)
    timings(docs, args.repeat)
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
