# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmark of aisec.gpu_host csaf_match on synthetic NVIDIA-style CSAF documents.

Not a test: it prints wall and CPU time and peak memory for matching a typical GPU host against N
generated advisories (default 200 and 10,000), in three modes:

* ``match``           - csaf_match.match with validate=false (documents already parsed);
* ``mandatory``       - validate=true, schema=false (CSAF 6.1 mandatory tests);
* ``schema``          - validate=true, schema=true (plus the CSAF JSON schema).

JSON parsing (csaf_document.load_bytes) is timed separately. Peak Python heap is measured
with tracemalloc in a separate run (tracemalloc slows execution down), the process's
maximum resident set size with resource.getrusage.

Run from the repository root::

    .venv/bin/python benchmarks/csaf_match_bench.py            # 200 and 10000 documents
    .venv/bin/python benchmarks/csaf_match_bench.py --docs 200 --modes match schema
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import sys
import time
import tracemalloc

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, ".cache", "collections"))
sys.path.insert(0, os.path.join(ROOT, "tests", "unit", "fixtures", "nvidia"))
if not os.path.exists(os.path.join(ROOT, ".cache", "collections", "ansible_collections", "aisec", "gpu_host")):
    sys.exit("run scripts/dev-env.sh first: .cache/collections/ansible_collections/aisec/gpu_host is missing")

# pylint: disable=wrong-import-position
import csaf_fixtures as fx  # noqa: E402

from ansible_collections.aisec.gpu_host.plugins.module_utils import csaf_document  # noqa: E402
from ansible_collections.aisec.gpu_host.plugins.module_utils import csaf_match  # noqa: E402

VECTOR = "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"  # 7.8
BRANCHES = (470, 535, 550, 555, 565, 570, 575, 580, 590, 595)
COMPONENTS = [
    {"name": "nvidia_driver", "family": "datacenter", "version": "535.161.08"},
    {"name": "nvidia_container_toolkit", "version": "1.16.1"},
    {"name": "nvidia_gpu_operator", "version": "24.6.1"},
    {"name": "firmware", "family": "Hopper HGX 8-GPU", "version": "1.5.0"},
]


def synthetic_spec(i, rng):
    """Spec for csaf_fixtures.build_bulletin: a driver bulletin (70 %) or a container stack one."""
    bid = str(100000 + i)
    year = 2022 + i % 5
    date = "%d-%02d-%02dT00:00:00Z" % (year, 1 + i % 12, 1 + i % 28)
    ncves = rng.randint(1, 6)
    cves = {"CVE-%d-%05d" % (year, i * 8 + k): {"score": 7.8, "vector": VECTOR} for k in range(ncves)}
    names = sorted(cves)
    rows = []
    if rng.random() < 0.7:
        for major in sorted(rng.sample(BRANCHES, rng.randint(2, 5))):
            fix = "%d.%d.%02d" % (major, rng.randint(40, 320), rng.randint(1, 9))
            families = "TGR" if rng.random() < 0.8 else "GR"
            rows.extend(fx._drv("Linux(R%d)" % major, families, fix, names))  # pylint: disable=protected-access
            if rng.random() < 0.5:
                rows.append(("Linux(R%d vGPU %d)" % (major, major // 33), "Guest driver",
                             "%s(All versions up to and including vGPU %d.4)" % (fix, major // 33),
                             "%d.%d.%02d(vGPU %d.5)" % (major, rng.randint(321, 400), 1, major // 33), names))
            if rng.random() < 0.5:
                rows.extend(fx._drv("Windows(R%d)" % major, "T", "%d.%d" % (major + 3, rng.randint(10, 99)),  # noqa
                                    names[:1]))
        product = "NVIDIA GPU Display Driver"
    else:
        minor = rng.randint(10, 19)
        rows = [("All", "NVIDIA Container Toolkit", "All versions up to and including 1.%d.%d" % (minor, 2),
                 "1.%d.%d" % (minor, 3), names),
                ("Linux", "NVIDIA GPU Operator", "All versions up to and including 24.%d.1" % minor,
                 "24.%d.2" % minor, names)]
        if rng.random() < 0.2:
            rows.append(("HMC", "Hopper HGX 8-GPU", "HGX-22.10-1-rc%d (1.%d.0)" % (50 + minor, minor % 6),
                         "1.6.0 and later", names))
        product = "NVIDIA Container Toolkit"
    return {"id": bid, "year": str(year), "product": product, "month": "synthetic", "date": date,
            "cves": cves, "rows": rows}


def generate(n, seed=2026):
    rng = random.Random(seed)
    return [json.dumps(fx.build_bulletin(synthetic_spec(i, rng))).encode("utf-8") for i in range(n)]


def parse(raws):
    with csaf_match.gc_paused():  # as the action plugin does
        return [("doc%05d.json" % i, csaf_document.load_bytes(raw)) for i, raw in enumerate(raws)]


def timed(func):
    """(wall seconds, CPU seconds of this process, result)."""
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    value = func()
    return time.perf_counter() - start, time.process_time() - cpu, value


def peak_heap(func):
    gc.collect()
    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


MODES = {
    "match": {"validate": False},
    "mandatory": {"validate": True, "schema": False},
    "schema": {"validate": True, "schema": True},
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, nargs="+", default=[200, 10000], help="document counts")
    parser.add_argument("--modes", nargs="+", choices=sorted(MODES), default=["match", "mandatory", "schema"])
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc runs")
    args = parser.parse_args(argv)
    print("python %s, %d CPU(s)" % (sys.version.split()[0], os.cpu_count() or 0))
    print("load average before: %.2f (wall time is only meaningful on an otherwise idle machine)" % os.getloadavg()[0])
    print("%-6s %-10s %15s %15s %8s %7s %9s" % (
        "docs", "mode", "parse wall/cpu", "match wall/cpu", "findings", "loaded", "heap MB"))
    for n in args.docs:
        raws = generate(n)
        size = sum(len(r) for r in raws)
        parse_wall, parse_cpu, docs = timed(lambda: parse(raws))
        for mode in args.modes:
            opts = dict(MODES[mode])
            wall, cpu, report = timed(lambda: csaf_match.match(docs, COMPONENTS, opts))
            heap = "-" if args.no_memory else "%.1f" % (peak_heap(lambda: csaf_match.match(docs, COMPONENTS, opts)) / 1e6)
            print("%-6d %-10s %7.2f/%-7.2f %7.2f/%-7.2f %8d %7d %9s" % (
                n, mode, parse_wall, parse_cpu, wall, cpu, len(report["findings"]), report["documents"]["loaded"], heap))
        print("       (%d documents, %.1f MB of JSON; load average now %.2f)" % (n, size / 1e6, os.getloadavg()[0]))
    print("max RSS of this process: %.0f MB" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))


if __name__ == "__main__":
    main()
