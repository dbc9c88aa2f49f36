# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Seeded fuzz test: 10,000 mutated CSAF documents never raise anything but CsafError.

Every mutated document must either be rejected by ``load_bytes`` with CsafError, or be
validated (JSON schema on) into a report that is valid or lists errors; flattening and
metadata extraction must never raise. Every fourth document is also matched by the engine
(``csaf_match.match``, without and with the mandatory tests, strict and not) and read by
``named_components``: they must return a report, never raise. Mutations: deleted keys and items, changed types,
duplicated product/group ids, unknown keys, swapped values, deep nesting, huge strings,
bad unicode (lone surrogates, NUL, bidi controls) and byte-level corruption.
"""

from __future__ import annotations

import json
import os
import random
import time

from ansible_collections.aisec.gpu_host.plugins.module_utils import csaf_document as C
from ansible_collections.aisec.gpu_host.plugins.module_utils import csaf_match as M

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "fixtures")
SEED = 20240601
N_DOCUMENTS = 10000

BAD_STRINGS = [
    "",
    " ",
    "\x00",
    "\ud800",
    "a\udfffb",
    "\u202eevil\u202c",
    "\ufeff",
    "\uffff",
    "e\u0301",
    "\U0001f600",
    "vers:all/<V4.3.8",
    "vers:intdot/>=1<2",
    "vers:intdot/" + "1|" * 50 + "2",
    "vers:generic/1",
    "pkg:",
    "pkg:deb/@1",
    "cpe:2.3:a:" + "?" * 200,
    "2024-02-30T10:00:00Z",
    "0",
    "0.1.0",
    "1.0.0-rc.1",
    "-1",
    "../../etc/passwd",
    "<script>alert(1)</script>",
]


def _load_bases():
    bases = []
    for name in ("example_vers_advisory.json", "nvidia_style_advisory.json"):
        with open(os.path.join(FIXTURES, "csaf", name), "rb") as handle:
            bases.append(handle.read().decode("utf-8"))
    oasis = os.path.join(FIXTURES, "oasis", "mandatory")
    for name in sorted(os.listdir(oasis))[::12]:
        with open(os.path.join(oasis, name), "rb") as handle:
            bases.append(handle.read().decode("utf-8"))
    return bases


def _nodes(doc):
    """All (container, key) slots of a JSON tree, iteratively."""
    out = []
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                out.append((node, key))
                if isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                out.append((node, i))
                if isinstance(value, (dict, list)):
                    stack.append(value)
    return out


def _strings_named(doc, names):
    return [c[k] for c, k in _nodes(doc) if isinstance(k, str) and k in names and isinstance(c[k], str)]


def _random_value(rng):
    choice = rng.randrange(12)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.choice([0, -1, 1, 2**70, 1.5, -0.0])
    if choice == 3:
        return rng.choice(BAD_STRINGS)
    if choice == 4:
        return "x" * rng.choice([1000, 100000])
    if choice == 5:
        return []
    if choice == 6:
        return {}
    if choice == 7:
        value = rng.choice(["leaf", 1, None])
        for _i in range(rng.randrange(20, 120)):
            value = [value] if rng.random() < 0.5 else {"branches": value}
        return value
    if choice == 8:
        return [rng.choice(BAD_STRINGS) for _i in range(rng.randrange(1, 5))]
    if choice == 9:
        return {"product_id": rng.choice(BAD_STRINGS), "name": rng.choice(BAD_STRINGS)}
    if choice == 10:
        return {"category": "product_version_range", "name": rng.choice(BAD_STRINGS)}
    return "".join(chr(rng.randrange(0, 0x3000)) for _i in range(rng.randrange(1, 30)))


def _mutate(doc, rng):
    slots = _nodes(doc)
    if not slots:
        return
    container, key = rng.choice(slots)
    op = rng.randrange(8)
    if op == 0:  # delete
        del container[key]
    elif op in (1, 2):  # change type / value
        container[key] = _random_value(rng)
    elif op == 3:  # duplicate ids
        ids = _strings_named(doc, ("product_id", "group_id"))
        if ids:
            target = rng.choice(slots)
            target[0][target[1]] = rng.choice(ids)
    elif op == 4 and isinstance(container, list):  # duplicate an item (ids, CVEs, scores ...)
        container.append(container[key])
    elif op == 4 and isinstance(container, dict):  # unknown key
        container["x_" + str(rng.randrange(1000))] = _random_value(rng)
    elif op == 5:  # swap two values
        other_c, other_k = rng.choice(slots)
        try:
            container[key], other_c[other_k] = other_c[other_k], container[key]
        except (KeyError, IndexError):
            pass
    elif op == 6:  # wrap in deep nesting
        value = container[key]
        for _i in range(rng.randrange(10, 300)):
            value = [value]
        container[key] = value
    else:  # replace a whole top-level section
        section = rng.choice(["document", "product_tree", "vulnerabilities"])
        doc[section] = _random_value(rng)


def _mutate_bytes(raw, rng):
    data = bytearray(raw)
    for _i in range(rng.randrange(1, 8)):
        op = rng.randrange(4)
        pos = rng.randrange(len(data)) if data else 0
        if op == 0 and data:
            data[pos] = rng.randrange(256)
        elif op == 1 and data:
            del data[pos:pos + rng.randrange(1, 50)]
        elif op == 2:
            data[pos:pos] = rng.choice([b"\xff", b"\xc3", b"\x00", b'"', b"{", b"[" * 100, b",", b"NaN", b"\\u"])
        else:
            data = data[:pos]
    return bytes(data)


MATCH_COMPONENTS = [
    {"name": "nvidia_driver", "family": "datacenter", "version": "535.161.08"},
    {"name": "nvidia_container_toolkit", "version": "1.17.3"},
    {"name": "tensorrt_llm", "version": "1.3.0rc17"},
    {"name": "triton_inference_server", "version": "24.11"},
    {"name": "firmware", "family": "Hopper HGX 8-GPU", "version": "1.3.1"},
]


def _check_match(doc, rng):
    options = rng.choice([{"validate": False}, {"validate": True, "schema": False},
                          {"validate": True, "schema": False, "strict": True}])
    report = M.match([("fuzz.json", doc)], MATCH_COMPONENTS, options)
    assert report["documents"]["loaded"] + len(report["documents"]["rejected"]) == 1
    for summary in report["summary"].values():
        assert summary["status"] in M.STATUSES
    named = M.named_components(doc)
    assert named is None or all(n in M.COMPONENTS for n in named)


def _check(doc):
    report = C.validate(doc)
    assert isinstance(report.ok, bool)
    assert isinstance(report.errors, list) and all(isinstance(e, str) for e in report.errors)
    assert isinstance(report.warnings, list) and all(isinstance(w, str) for w in report.warnings)
    assert report.ok == (not report.errors)
    flat = C.flatten_product_tree(doc)
    assert isinstance(flat, dict)
    for entry in flat.values():
        assert isinstance(entry["path"], list) and isinstance(entry["helper"], dict)
    assert isinstance(C.document_meta(doc), dict)
    return report.ok


def test_fuzz_mutated_documents():
    rng = random.Random(SEED)
    bases = _load_bases()
    stats = {"load_rejected": 0, "valid": 0, "invalid": 0}
    start = time.perf_counter()
    for _i in range(N_DOCUMENTS):
        base = rng.choice(bases)
        if rng.random() < 0.15:
            raw = _mutate_bytes(base.encode("utf-8"), rng)
            try:
                doc = C.load_bytes(raw)
            except C.CsafError:
                stats["load_rejected"] += 1
                continue
        else:
            doc = json.loads(base)
            for _m in range(rng.randrange(1, 4)):
                _mutate(doc, rng)
            if rng.random() < 0.1:
                raw = json.dumps(doc).encode("utf-8")
                try:
                    doc = C.load_bytes(raw)
                except C.CsafError:
                    stats["load_rejected"] += 1
                    continue
        stats["valid" if _check(doc) else "invalid"] += 1
        if _i % 4 == 0:
            _check_match(doc, rng)
            stats["matched"] = stats.get("matched", 0) + 1
    elapsed = time.perf_counter() - start
    print("fuzz: %d documents in %.1f s: %r" % (N_DOCUMENTS, elapsed, stats))
    assert sum(v for k, v in stats.items() if k != "matched") == N_DOCUMENTS
    assert stats["matched"] > 1500
    # the mutations must exercise every outcome
    assert stats["load_rejected"] > 100 and stats["invalid"] > 1000 and stats["valid"] > 10
