# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""CSAF 2.0 document core: safe loading, validation, product tree flattening, metadata.

Controller-side, pure functions. Every CSAF document is untrusted input (CSAF 2.0 §8):

* :func:`load_bytes` caps the size, requires strict UTF-8 JSON with a top-level object and
  rejects duplicate keys, ``NaN``/``Infinity`` and pathological nesting;
* :func:`validate` checks the official CSAF 2.0 JSON schema (vendored in ``csaf_schemas/``
  together with the FIRST CVSS v2.0/v3.0/v3.1 schemas it references, format checking on)
  and a set of the mandatory tests of CSAF 2.0 §6.1; it never raises on malformed input;
* :func:`flatten_product_tree` and :func:`document_meta` extract what a patch decision
  needs and tolerate malformed input (validation reports the problems).

``jsonschema`` and ``referencing`` are optional imports: without them :func:`validate`
returns an error saying so (and still runs the mandatory tests).
"""

from __future__ import annotations

import datetime
import functools
import gzip
import json
import os
import re
from collections import defaultdict

from ansible_collections.aisec.gpu_host.plugins.module_utils import vers as _vers

try:
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.exceptions import best_match
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4, DRAFT7, DRAFT202012

    HAS_JSONSCHEMA = True
    JSONSCHEMA_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - exercised through monkeypatching in tests
    HAS_JSONSCHEMA = False
    JSONSCHEMA_IMPORT_ERROR = str(_exc)

__all__ = [
    "CsafError",
    "ValidationReport",
    "load_bytes",
    "validate",
    "flatten_product_tree",
    "document_meta",
    "expected_filename",
    "validate_provider_metadata",
    "DEFAULT_MAX_SIZE",
    "TLP_LABELS",
]

#: Consumers must handle documents of 15 MB (CSAF 2.0 §7).
DEFAULT_MAX_SIZE = 15 * 1024 * 1024
#: TLP labels reported by :func:`document_meta` (CSAF 2.0 plus TLP 2.0 labels of CSAF 2.1).
TLP_LABELS = ("WHITE", "CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED")

_MAX_DEPTH = 64  # JSON nesting accepted by load_bytes; CSAF needs far less
_MAX_ERRORS = 200  # cap on reported errors per category
_SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "csaf_schemas")

CSAF_SCHEMA_URL = "https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json"
PROVIDER_SCHEMA_URL = "https://docs.oasis-open.org/csaf/csaf/v2.0/provider_json_schema.json"
# The CSAF schema references the FIRST schemas by these URLs (without the ``?2017..``/``?2021..``
# suffixes of their own ids); register each under the referenced URL with its own draft.
_SCHEMA_FILES = (
    # (url, file name, draft name)
    ("https://www.first.org/cvss/cvss-v2.0.json", "cvss-v2.0.json", "draft4"),
    ("https://www.first.org/cvss/cvss-v3.0.json", "cvss-v3.0.json", "draft4"),
    ("https://www.first.org/cvss/cvss-v3.1.json", "cvss-v3.1.json", "draft7"),
    (CSAF_SCHEMA_URL, "csaf_json_schema.json", "draft2020-12"),
    (PROVIDER_SCHEMA_URL, "provider_json_schema.json", "draft2020-12"),
)


class CsafError(ValueError):
    """A CSAF document (or input to this module) is unusable; the message says why."""


class ValidationReport:
    """Result of :func:`validate`.

    ``errors`` and ``warnings`` are lists of strings prefixed with the test id, e.g.
    ``"schema: /document/title: ..."`` or ``"6.1.1: product id 'X' is referenced but not
    defined (/vulnerabilities/0/product_status/fixed/0)"``. ``ok`` is True when there are
    no errors (warnings do not count).
    """

    __slots__ = ("errors", "warnings")

    def __init__(self, errors=None, warnings=None):
        self.errors = list(errors or [])
        self.warnings = list(warnings or [])

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        """Plain-data form for module results."""
        return {"ok": self.ok, "errors": list(self.errors), "warnings": list(self.warnings)}

    def __repr__(self) -> str:
        return "ValidationReport(ok=%r, errors=%d, warnings=%d)" % (self.ok, len(self.errors), len(self.warnings))


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


def _reject_constant(name):
    raise CsafError("invalid JSON: %s is not allowed" % name)


def _no_duplicates(pairs):
    obj = {}
    for key, value in pairs:
        if key in obj:
            raise CsafError("invalid JSON: duplicate object key %r" % (key[:100],))
        obj[key] = value
    return obj


_JSON_STRING_RE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_JSON_BRACKET_RE = re.compile(r"[\[\]{}]")


def _nesting_depth_ok(text: str, limit: int) -> bool:
    """Cheap pre-scan so that deeply nested input never reaches the recursive parser.

    Strings are removed first (brackets inside them do not nest); an unterminated string
    only makes the estimate conservative, and the parser rejects such input anyway.
    """
    depth = 0
    for ch in _JSON_BRACKET_RE.findall(_JSON_STRING_RE.sub("", text)):
        if ch in "[{":
            depth += 1
            if depth > limit:
                return False
        else:
            depth -= 1
    return True


def load_bytes(raw: bytes, max_size: int = DEFAULT_MAX_SIZE) -> dict:
    """Parse the bytes of a CSAF document (or any CSAF JSON file) into a dict.

    Enforces ``max_size`` bytes, strict UTF-8 (a leading BOM is tolerated), valid JSON
    without duplicate keys or ``NaN``/``Infinity``, nesting of at most 64 levels, and a
    JSON object at the top level. Raises CsafError otherwise.
    """
    if isinstance(raw, (bytearray, memoryview)):
        raw = bytes(raw)
    if not isinstance(raw, bytes):
        raise CsafError("expected bytes, got %s" % type(raw).__name__)
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size <= 0:
        raise CsafError("max_size must be a positive integer")
    if len(raw) > max_size:
        raise CsafError("document too large: %d bytes (limit %d)" % (len(raw), max_size))
    if not raw.strip():
        raise CsafError("document is empty")
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise CsafError("document is not valid UTF-8 (byte offset %d)" % exc.start) from None
    if not _nesting_depth_ok(text, _MAX_DEPTH):
        raise CsafError("invalid JSON: nesting deeper than %d levels" % _MAX_DEPTH)
    try:
        doc = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except CsafError:
        raise
    except RecursionError:
        raise CsafError("invalid JSON: nesting too deep") from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise CsafError("invalid JSON: %s" % exc) from None
    if not isinstance(doc, dict):
        raise CsafError("top-level JSON value must be an object, got %s" % _json_type(doc))
    return doc


def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


# ---------------------------------------------------------------------------
# Tolerant accessors
# ---------------------------------------------------------------------------


def _d(value) -> dict:
    return value if isinstance(value, dict) else {}


def _l(value) -> list:
    return value if isinstance(value, list) else []


def _s(value):
    return value if isinstance(value, str) else None


def _iter_dicts(value):
    """Yield (index, dict) for the dict items of a list; ignore anything else."""
    for i, item in enumerate(_l(value)):
        if isinstance(item, dict):
            yield i, item


def _iter_strs(value):
    for i, item in enumerate(_l(value)):
        if isinstance(item, str):
            yield i, item


def _ptr(*parts) -> str:
    out = []
    for p in parts:
        p = str(p).replace("~", "~0").replace("/", "~1")
        out.append(p)
    return "/" + "/".join(out)


# ---------------------------------------------------------------------------
# Product tree
# ---------------------------------------------------------------------------


def _iter_branch_products(product_tree: dict):
    """Yield (path, full_product_name dict, json pointer) for products inside branches.

    Iterative depth-first walk in document order, so hostile nesting cannot exhaust the
    Python stack. ``path`` is a list of {"category", "name"} dicts, outermost first.
    """
    stack = [(_l(product_tree.get("branches")), [], ("product_tree", "branches"), 0)]
    while stack:
        branches, path, ptr, idx = stack.pop()
        if idx >= len(branches):
            continue
        stack.append((branches, path, ptr, idx + 1))
        branch = branches[idx]
        if not isinstance(branch, dict):
            continue
        here = path + [{"category": _s(branch.get("category")) or "", "name": _s(branch.get("name")) or ""}]
        bptr = ptr + (idx,)
        product = branch.get("product")
        if isinstance(product, dict):
            yield here, product, bptr + ("product",)
        children = branch.get("branches")
        if isinstance(children, list) and children:
            stack.append((children, here, bptr + ("branches",), 0))


def _defined_products(doc: dict):
    """Yield (product_id, full_product_name dict, path, relationship dict|None, pointer)."""
    pt = _d(_d(doc).get("product_tree"))
    for path, fpn, ptr in _iter_branch_products(pt):
        yield _s(fpn.get("product_id")), fpn, path, None, ptr
    for i, fpn in _iter_dicts(pt.get("full_product_names")):
        yield _s(fpn.get("product_id")), fpn, [], None, ("product_tree", "full_product_names", i)
    for i, rel in _iter_dicts(pt.get("relationships")):
        fpn = rel.get("full_product_name")
        if isinstance(fpn, dict):
            yield _s(fpn.get("product_id")), fpn, None, rel, ("product_tree", "relationships", i, "full_product_name")


def flatten_product_tree(doc: dict) -> dict:
    """Flatten ``/product_tree`` into ``product_id -> entry``.

    Entry: ``{"product_id", "name", "path", "helper", "relationship"}`` where ``path`` is the
    branch path down to the product (list of ``{"category", "name"}``, outermost first; ``[]``
    for ``full_product_names``), ``helper`` the ``product_identification_helper`` (``{}`` if
    none) and ``relationship`` ``None`` or ``{"category", "product_reference",
    "relates_to_product_reference"}``. A relationship product takes the path of its
    ``product_reference`` (resolved through chains of relationships).

    Never raises on malformed input: items of the wrong type are skipped; for a duplicate
    product_id the first definition wins (validation reports 6.1.2).
    """
    out: dict = {}
    pending = []
    if not isinstance(doc, dict):
        return out
    for pid, fpn, path, rel, _ptr_ in _defined_products(doc):
        if not pid or pid in out:
            continue
        helper = fpn.get("product_identification_helper")
        entry = {
            "product_id": pid,
            "name": _s(fpn.get("name")) or "",
            "path": [dict(step) for step in path] if path is not None else [],
            "helper": dict(helper) if isinstance(helper, dict) else {},
            "relationship": None,
        }
        if rel is not None:
            entry["relationship"] = {
                "category": _s(rel.get("category")),
                "product_reference": _s(rel.get("product_reference")),
                "relates_to_product_reference": _s(rel.get("relates_to_product_reference")),
            }
            pending.append(entry)
        out[pid] = entry
    # Resolve relationship paths (chains allowed, cycles end with an empty path).
    resolved = {pid for pid, e in out.items() if e["relationship"] is None}
    progress = True
    while pending and progress:
        progress = False
        rest = []
        for entry in pending:
            ref = entry["relationship"]["product_reference"]
            if ref in resolved and ref in out:
                entry["path"] = [dict(p) for p in out[ref]["path"]]
                resolved.add(entry["product_id"])
                progress = True
            elif ref not in out:
                resolved.add(entry["product_id"])  # undefined reference (6.1.1): no path
                progress = True
            else:
                rest.append(entry)
        pending = rest
    return out


# ---------------------------------------------------------------------------
# Metadata and file names
# ---------------------------------------------------------------------------


def document_meta(doc: dict) -> dict:
    """Return the document-level facts needed to trust and file a CSAF document.

    Keys: ``tracking_id``, ``version``, ``status``, ``title``, ``initial_release_date``,
    ``current_release_date``, ``tlp``, ``publisher_name``, ``publisher_category``,
    ``csaf_version``, ``category``. Missing or wrongly typed values are ``None``; ``tlp`` is
    one of :data:`TLP_LABELS` or ``None`` (unlabeled or not a known label).
    """
    document = _d(_d(doc).get("document"))
    tracking = _d(document.get("tracking"))
    publisher = _d(document.get("publisher"))
    label = _s(_d(_d(document.get("distribution")).get("tlp")).get("label"))
    return {
        "tracking_id": _s(tracking.get("id")),
        "version": _s(tracking.get("version")),
        "status": _s(tracking.get("status")),
        "title": _s(document.get("title")),
        "initial_release_date": _s(tracking.get("initial_release_date")),
        "current_release_date": _s(tracking.get("current_release_date")),
        "tlp": label if label in TLP_LABELS else None,
        "publisher_name": _s(publisher.get("name")),
        "publisher_category": _s(publisher.get("category")),
        "csaf_version": _s(document.get("csaf_version")),
        "category": _s(document.get("category")),
    }


_FILENAME_RUN_RE = re.compile(r"[^+\-a-z0-9]+")


def expected_filename(tracking_id: str) -> str:
    """File name CSAF 2.0 §5.1 requires for a document with this ``/document/tracking/id``.

    Lower-case the id, replace every run of characters outside ``[+\\-a-z0-9]`` by one
    ``_`` and append ``.json`` (``'NVIDIA-2024-5586'`` -> ``'nvidia-2024-5586.json'``).
    """
    if not isinstance(tracking_id, str) or not tracking_id.strip():
        raise CsafError("tracking id must be a non-empty string")
    return _FILENAME_RUN_RE.sub("_", tracking_id.lower()) + ".json"


# ---------------------------------------------------------------------------
# Schema validation
# ---------------------------------------------------------------------------

_RFC3339_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))\Z", re.ASCII
)
_URI_RE = re.compile(
    r"^[A-Za-z][A-Za-z0-9+.\-]*:"  # scheme
    r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*\Z",
    re.ASCII,
)
_PCT_BAD_RE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def check_date_time(value) -> bool:
    """RFC 3339 ``date-time`` (the JSON schema ``format``), without third-party packages."""
    if not isinstance(value, str):
        return True
    m = _RFC3339_RE.match(value)
    if not m:
        return False
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    if not 1 <= month <= 12:
        return False
    mdays = [31, 29 if _is_leap(year) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
    if not 1 <= day <= mdays:
        return False
    if hour > 23 or minute > 59 or second > 60:
        return False
    if m.group(9) is not None and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        return False
    return True


def check_uri(value) -> bool:
    """RFC 3986 absolute URI (``format: uri``): scheme, allowed characters, valid %-escapes."""
    if not isinstance(value, str):
        return True
    return bool(_URI_RE.match(value)) and not _PCT_BAD_RE.search(value)


_VALIDATORS: dict = {}


def read_schema_bytes(name: str) -> bytes:
    """Return the exact bytes of a vendored schema.

    A schema may be stored gzip-compressed as ``<name>.gz`` (the official CSAF schema contains a
    typographic apostrophe that ansible-test's no-smart-quotes check refuses in text files, and the
    OASIS licence forbids modifying the document); SHA256SUMS lists digests of the uncompressed bytes.
    """
    path = os.path.join(_SCHEMA_DIR, name)
    if os.path.exists(path + ".gz"):
        with gzip.open(path + ".gz", "rb") as handle:
            return handle.read()
    with open(path, "rb") as handle:
        return handle.read()


def _load_schema_file(name: str):
    return json.loads(read_schema_bytes(name).decode("utf-8"))


def _format_checker():
    checker = FormatChecker(formats=())
    checker.checks("date-time")(check_date_time)
    checker.checks("uri")(check_uri)
    return checker


def _get_validator(kind: str):
    """Compiled validator for 'csaf' or 'provider' (module-level cache)."""
    if kind in _VALIDATORS:
        return _VALIDATORS[kind]
    specs = {"draft4": DRAFT4, "draft7": DRAFT7, "draft2020-12": DRAFT202012}
    resources = []
    schemas = {}
    for url, fname, draft in _SCHEMA_FILES:
        contents = _load_schema_file(fname)
        schemas[url] = contents
        resource = Resource.from_contents(contents, default_specification=specs[draft])
        resources.append((url, resource))
        own_id = contents.get("$id") or contents.get("id")
        if isinstance(own_id, str) and own_id != url:
            resources.append((own_id, resource))  # also under its own id (``...json?20170531``)
    registry = Registry().with_resources(resources)
    url = {"csaf": CSAF_SCHEMA_URL, "provider": PROVIDER_SCHEMA_URL}[kind]
    validator = Draft202012Validator(schemas[url], registry=registry, format_checker=_format_checker())
    _VALIDATORS[kind] = validator
    return validator


def _closest_alternative(context):
    """The first error of the oneOf/anyOf branch with the fewest errors (ties: jsonschema's best_match)."""
    branches = defaultdict(list)
    for sub in context:
        branches[sub.relative_schema_path[0] if sub.relative_schema_path else None].append(sub)
    fewest = min(len(errs) for errs in branches.values())
    candidates = [e for errs in branches.values() if len(errs) == fewest for e in errs]
    return best_match(candidates)


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


_DATE_ONLY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}\Z", re.ASCII)


def _is_date_only_defect(err) -> bool:
    """A ``date-time`` format error on a plain calendar date (``2026-08-18``): a known publisher defect."""
    return (getattr(err, "validator", None) == "format" and getattr(err, "validator_value", None) == "date-time"
            and isinstance(err.instance, str) and bool(_DATE_ONLY_RE.match(err.instance))
            and check_date_time(err.instance + "T00:00:00Z"))


def _schema_errors(kind: str, instance, defects=None) -> list:
    """Schema errors as strings; with a ``defects`` list, date-only timestamps go there instead."""
    if not HAS_JSONSCHEMA:
        return [
            "schema: jsonschema is required for CSAF schema validation "
            "(pip install jsonschema referencing): %s" % JSONSCHEMA_IMPORT_ERROR
        ]
    try:
        validator = _get_validator(kind)
    except (OSError, ValueError) as exc:
        return ["schema: cannot load the vendored CSAF schemas: %s" % exc]
    out = []
    try:
        errors = sorted(validator.iter_errors(instance), key=lambda e: [str(p) for p in e.absolute_path])
    except RecursionError:
        return ["schema: document nesting too deep to validate"]
    for err in errors:
        if len(out) >= _MAX_ERRORS:
            out.append("schema: ... more schema errors not shown")
            break
        ptr = _ptr(*err.absolute_path) if err.absolute_path else "/"
        if defects is not None and _is_date_only_defect(err):
            defects.append("known publisher defect: %s is a date (%s), not the date-time the schema requires; "
                           "read as %sT00:00:00Z" % (ptr, err.instance, err.instance))
            continue
        msg = _shorten(err.message)
        if err.context:
            # oneOf/anyOf: name the closest alternative instead of only "not valid under any".
            closest = _closest_alternative(err.context)
            where = _ptr(*closest.absolute_path) if closest.absolute_path else ptr
            msg = "%s (closest match: %s: %s)" % (msg, where, _shorten(closest.message))
        out.append("schema: %s: %s" % (ptr, msg))
    return out


def validate_provider_metadata(pmd: dict) -> list:
    """Schema errors of a ``provider-metadata.json`` (vendored CSAF 2.0 provider schema).

    Returns a list of strings (``"schema: /pointer: message"``); empty when valid.
    """
    if not isinstance(pmd, dict):
        return ["schema: /: provider metadata must be a JSON object, got %s" % _json_type(pmd)]
    return _schema_errors("provider", pmd)


# ---------------------------------------------------------------------------
# Mandatory tests (CSAF 2.0 §6.1)
# ---------------------------------------------------------------------------

_STATUS_GROUPS = {
    "first_affected": "affected",
    "known_affected": "affected",
    "last_affected": "affected",
    "known_not_affected": "not affected",
    "first_fixed": "fixed",
    "fixed": "fixed",
    "under_investigation": "under investigation",
}
_STATUS_LISTS = tuple(_STATUS_GROUPS) + ("recommended",)

_INT_VERSION_RE = re.compile(r"^(0|[1-9][0-9]*)\Z", re.ASCII)
_SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?\Z",
    re.ASCII,
)
# 6.1.31 range indicators: '<' / '>' anywhere, the words only as whole words (the TC's test data
# treat "after-eight" as a valid name, so a hyphen does not end a word).
_RANGE_WORDS_RE = re.compile(
    r"[<>]|(?<![\w-])(?:after|all|before|earlier|later|prior|versions)(?![\w-])", re.IGNORECASE
)
_PURL_TYPE_RE = re.compile(r"^[A-Za-z.+\-][A-Za-z0-9.+\-]*\Z", re.ASCII)
_PURL_QKEY_RE = re.compile(r"^[A-Za-z.\-_][A-Za-z0-9.\-_]*\Z", re.ASCII)


def _product_references(doc: dict):
    """Yield (product_id, pointer tuple) for every reference to a product id (6.1.1)."""
    pt = _d(doc.get("product_tree"))
    for i, grp in _iter_dicts(pt.get("product_groups")):
        for j, pid in _iter_strs(grp.get("product_ids")):
            yield pid, ("product_tree", "product_groups", i, "product_ids", j)
    for i, rel in _iter_dicts(pt.get("relationships")):
        for key in ("product_reference", "relates_to_product_reference"):
            pid = rel.get(key)
            if isinstance(pid, str):
                yield pid, ("product_tree", "relationships", i, key)
    for v, vuln in _iter_dicts(doc.get("vulnerabilities")):
        status = _d(vuln.get("product_status"))
        for lst in _STATUS_LISTS:
            for j, pid in _iter_strs(status.get(lst)):
                yield pid, ("vulnerabilities", v, "product_status", lst, j)
        for key, field in (("remediations", "product_ids"), ("scores", "products"), ("threats", "product_ids"),
                           ("flags", "product_ids")):
            for k, item in _iter_dicts(vuln.get(key)):
                for j, pid in _iter_strs(item.get(field)):
                    yield pid, ("vulnerabilities", v, key, k, field, j)


def _group_references(doc: dict):
    for v, vuln in _iter_dicts(doc.get("vulnerabilities")):
        for key in ("remediations", "threats", "flags"):
            for k, item in _iter_dicts(vuln.get(key)):
                for j, gid in _iter_strs(item.get("group_ids")):
                    yield gid, ("vulnerabilities", v, key, k, "group_ids", j)


def _test_product_ids(doc, errors):
    defined = {}
    for pid, _fpn, _path, _rel, ptr in _defined_products(doc):
        if pid is None:
            continue
        if pid in defined:
            errors.append(
                "6.1.2: product id %r is defined more than once (%s and %s)" % (pid, _ptr(*defined[pid]), _ptr(*ptr))
            )
        else:
            defined[pid] = ptr
    for pid, ptr in _product_references(doc):
        if pid not in defined:
            errors.append("6.1.1: product id %r is referenced but not defined (%s)" % (pid, _ptr(*ptr)))
    return defined


def _test_circular(doc, errors):
    pt = _d(doc.get("product_tree"))
    edges = defaultdict(set)
    rel_ptr = {}
    for i, rel in _iter_dicts(pt.get("relationships")):
        pid = _s(_d(rel.get("full_product_name")).get("product_id"))
        if pid is None:
            continue
        rel_ptr.setdefault(pid, ("product_tree", "relationships", i))
        for key in ("product_reference", "relates_to_product_reference"):
            ref = _s(rel.get(key))
            if ref is not None:
                edges[pid].add(ref)
    # Iterative DFS cycle detection (colours: 1 = on stack, 2 = done).
    colour = {}
    reported = set()
    for start in sorted(edges):
        if colour.get(start):
            continue
        stack = [(start, iter(sorted(edges.get(start, ()))))]
        colour[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                colour[node] = 2
                stack.pop()
                continue
            state = colour.get(nxt)
            if state == 1:
                if nxt not in reported:
                    reported.add(nxt)
                    errors.append(
                        "6.1.3: product id %r is defined through a circular chain of relationships (%s)"
                        % (nxt, _ptr(*rel_ptr.get(nxt, ("product_tree", "relationships"))))
                    )
            elif state is None:
                colour[nxt] = 1
                stack.append((nxt, iter(sorted(edges.get(nxt, ())))))


def _test_groups(doc, errors):
    pt = _d(doc.get("product_tree"))
    defined = {}
    for i, grp in _iter_dicts(pt.get("product_groups")):
        gid = _s(grp.get("group_id"))
        if gid is None:
            continue
        if gid in defined:
            errors.append(
                "6.1.5: product group id %r is defined more than once (%s and %s)"
                % (gid, _ptr(*defined[gid]), _ptr("product_tree", "product_groups", i))
            )
        else:
            defined[gid] = ("product_tree", "product_groups", i)
    for gid, ptr in _group_references(doc):
        if gid not in defined:
            errors.append("6.1.4: product group id %r is referenced but not defined (%s)" % (gid, _ptr(*ptr)))


def _test_contradicting_status(doc, errors):
    for v, vuln in _iter_dicts(doc.get("vulnerabilities")):
        status = _d(vuln.get("product_status"))
        seen = {}
        reported = set()
        for lst, group in _STATUS_GROUPS.items():
            for _j, pid in _iter_strs(status.get(lst)):
                first = seen.setdefault(pid, (group, lst))
                if first[0] != group and (pid, group) not in reported:
                    reported.add((pid, group))
                    errors.append(
                        "6.1.6: product id %r has contradicting status in /vulnerabilities/%d/product_status "
                        "(%s in %s, %s in %s)" % (pid, v, first[0], first[1], group, lst)
                    )


def _test_multiple_scores(doc, errors):
    for v, vuln in _iter_dicts(doc.get("vulnerabilities")):
        seen = set()
        for k, score in _iter_dicts(vuln.get("scores")):
            versions = [key for key in ("cvss_v2", "cvss_v3") if isinstance(score.get(key), dict)]
            for key in versions:
                ver = _s(score[key].get("version")) or key
                for _j, pid in _iter_strs(score.get("products")):
                    if (pid, ver) in seen:
                        errors.append(
                            "6.1.7: product id %r has more than one CVSS %s score in /vulnerabilities/%d/scores "
                            "(%s)" % (pid, ver, v, _ptr("vulnerabilities", v, "scores", k))
                        )
                    seen.add((pid, ver))


def _version_scheme(version):
    if not isinstance(version, str):
        return None
    if _INT_VERSION_RE.match(version):
        return "integer"
    if _SEMVER_RE.match(version):
        return "semver"
    return None


def _is_prerelease_or_zero(version) -> bool:
    """True for integer 0, semver 0.y.z, or any semver with a pre-release part."""
    scheme = _version_scheme(version)
    if scheme == "integer":
        return int(version) == 0
    if scheme == "semver":
        m = _SEMVER_RE.match(version)
        return m.group(1) == "0" or m.group(4) is not None
    return False


def _parse_date(value):
    """RFC 3339 date-time -> aware datetime, or None when not parsable."""
    if not isinstance(value, str) or not check_date_time(value):
        return None
    m = _RFC3339_RE.match(value)
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    frac = m.group(7)
    micro = int((frac[1:] + "000000")[:6]) if frac else 0
    if m.group(8) in ("Z", "z"):
        tz = datetime.timezone.utc
    else:
        sign = -1 if m.group(8)[0] == "-" else 1
        tz = datetime.timezone(sign * datetime.timedelta(hours=int(m.group(9)), minutes=int(m.group(10))))
    try:
        return datetime.datetime(year, month, day, hour, minute, min(second, 59), micro, tzinfo=tz)
    except (ValueError, OverflowError):
        return None


def _number_cmp(a, b):
    """Compare two version_t values of the same scheme; None when not comparable."""
    sa, sb = _version_scheme(a), _version_scheme(b)
    if sa is None or sa != sb:
        return None
    if sa == "integer":
        return (int(a) > int(b)) - (int(a) < int(b))
    return _vers.compare("semver", a, b)


def _strip_build(version):
    return version.split("+", 1)[0] if isinstance(version, str) else version


def _strip_pre(version):
    return _strip_build(version).split("-", 1)[0] if isinstance(version, str) else version


def _sorted_history(history):
    """Revision history items with parsable dates, sorted by (date, number)."""
    dated = []
    for i, item in history:
        when = _parse_date(item.get("date"))
        if when is not None and _version_scheme(item.get("number")):
            dated.append((when, i, item))
    keyfunc = functools.cmp_to_key(
        lambda x, y: ((x[0] > y[0]) - (x[0] < y[0])) or (_number_cmp(x[2]["number"], y[2]["number"]) or 0)
    )
    return sorted(dated, key=keyfunc)


def _test_tracking(doc, errors):
    tracking = _d(_d(doc.get("document")).get("tracking"))
    version = tracking.get("version")
    status = tracking.get("status")
    history = list(_iter_dicts(tracking.get("revision_history")))
    ordered = _sorted_history(history)
    # 6.1.14 Sorted Revision History
    for (_d1, i1, a), (_d2, i2, b) in zip(ordered, ordered[1:]):
        if _number_cmp(a["number"], b["number"]) == 1:
            errors.append(
                "6.1.14: revision history is not sorted: number %r (%s) is dated before number %r (%s)"
                % (a["number"], _ptr("document", "tracking", "revision_history", i1),
                   b["number"], _ptr("document", "tracking", "revision_history", i2))
            )
    # 6.1.16 Latest Document Version
    if ordered and isinstance(version, str) and _version_scheme(version):
        latest = ordered[-1][2]["number"]
        mine, theirs = _strip_build(version), _strip_build(latest)
        if status == "draft":
            mine, theirs = _strip_pre(mine), _strip_pre(theirs)
        if mine != theirs:
            errors.append(
                "6.1.16: document version %r differs from the latest revision history number %r" % (version, latest)
            )
    # 6.1.17 Document Status Draft
    if isinstance(version, str) and _is_prerelease_or_zero(version) and status != "draft":
        errors.append(
            "6.1.17: document version %r (0, 0.y.z or pre-release) requires status 'draft', found %r"
            % (version, status)
        )
    # 6.1.18 Released Revision History
    if status in ("final", "interim"):
        for i, item in history:
            number = item.get("number")
            scheme = _version_scheme(number)
            if (scheme == "integer" and int(number) == 0) or (
                scheme == "semver" and _SEMVER_RE.match(number).group(1) == "0"
            ):
                errors.append(
                    "6.1.18: document status %r but revision history contains version %r (%s)"
                    % (status, number, _ptr("document", "tracking", "revision_history", i, "number"))
                )
        # 6.1.20 Non-draft Document Version
        if _version_scheme(version) == "semver" and _SEMVER_RE.match(version).group(4) is not None:
            errors.append("6.1.20: document status %r but version %r has a pre-release part" % (status, version))
    # 6.1.19 Revision History Entries for Pre-release Versions
    for i, item in history:
        number = item.get("number")
        if _version_scheme(number) == "semver" and _SEMVER_RE.match(number).group(4) is not None:
            errors.append(
                "6.1.19: revision history number %r has a pre-release part (%s)"
                % (number, _ptr("document", "tracking", "revision_history", i, "number"))
            )
    # 6.1.22 Multiple Definition in Revision History
    numbers = defaultdict(list)
    for i, item in history:
        number = item.get("number")
        if isinstance(number, str):
            numbers[number].append(i)
    for number, idxs in numbers.items():
        if len(idxs) > 1:
            errors.append("6.1.22: revision history number %r is used %d times" % (number, len(idxs)))
    # 6.1.30 Mixed Integer and Semantic Versioning
    schemes = set()
    values = [("/document/tracking/version", version)] + [
        (_ptr("document", "tracking", "revision_history", i, "number"), item.get("number")) for i, item in history
    ]
    for _ptr_, value in values:
        scheme = _version_scheme(value)
        if scheme:
            schemes.add(scheme)
    if len(schemes) > 1:
        errors.append(
            "6.1.30: document version and revision history mix integer and semantic versioning (%s)"
            % ", ".join("%s=%r" % (p, val) for p, val in values if _version_scheme(val))
        )


def _test_languages(doc, errors):
    document = _d(doc.get("document"))
    lang, source = document.get("lang"), document.get("source_lang")
    # 6.1.15 Translator
    if _d(document.get("publisher")).get("category") == "translator" and not isinstance(source, str):
        errors.append("6.1.15: publisher category 'translator' requires /document/source_lang")
    # 6.1.28 Translation
    if isinstance(lang, str) and isinstance(source, str) and lang.lower() == source.lower():
        errors.append("6.1.28: /document/lang and /document/source_lang are both %r" % lang)


def _test_cve_duplicates(doc, errors):
    seen = {}
    for v, vuln in _iter_dicts(doc.get("vulnerabilities")):
        cve = _s(vuln.get("cve"))
        if cve is None:
            continue
        if cve in seen:
            errors.append("6.1.23: CVE %r is used in /vulnerabilities/%d and /vulnerabilities/%d" % (cve, seen[cve], v))
        else:
            seen[cve] = v


def _test_orphans(doc, errors):
    for v, vuln in _iter_dicts(doc.get("vulnerabilities")):
        for key, test in (("remediations", "6.1.29"), ("flags", "6.1.32")):
            for k, item in _iter_dicts(vuln.get(key)):
                if not _l(item.get("product_ids")) and not _l(item.get("group_ids")):
                    errors.append(
                        "%s: %s item %s has neither product_ids nor group_ids"
                        % (test, key[:-1], _ptr("vulnerabilities", v, key, k))
                    )


def _expand_groups(doc):
    groups = {}
    for _i, grp in _iter_dicts(_d(doc.get("product_tree")).get("product_groups")):
        gid = _s(grp.get("group_id"))
        if gid is not None and gid not in groups:
            groups[gid] = {pid for _j, pid in _iter_strs(grp.get("product_ids"))}
    return groups


def _covered_products(items, groups, accept=None):
    out = set()
    for _k, item in _iter_dicts(items):
        if accept is not None and not accept(item):
            continue
        out.update(pid for _j, pid in _iter_strs(item.get("product_ids")))
        for _j, gid in _iter_strs(item.get("group_ids")):
            out.update(groups.get(gid, ()))
    return out


def _test_profiles(doc, errors):
    """Profile tests 6.1.27.1-6.1.27.11 for the categories they apply to."""
    document = _d(doc.get("document"))
    category = _s(document.get("category"))
    if category in ("csaf_informational_advisory", "csaf_security_incident_response"):
        if not any(n.get("category") in ("description", "details", "general", "summary")
                   for _i, n in _iter_dicts(document.get("notes"))):
            errors.append(
                "6.1.27.1: a %s document needs a document note of category description, details, general "
                "or summary" % category
            )
        if not any(r.get("category", "external") == "external" for _i, r in _iter_dicts(document.get("references"))):
            errors.append("6.1.27.2: a %s document needs at least one external reference" % category)
        if category == "csaf_informational_advisory" and "vulnerabilities" in doc:
            errors.append("6.1.27.3: a csaf_informational_advisory document must not have /vulnerabilities")
        return
    if category not in ("csaf_security_advisory", "csaf_vex"):
        return
    if "product_tree" not in doc:
        errors.append("6.1.27.4: a %s document must have /product_tree" % category)
    if "vulnerabilities" not in doc:
        errors.append("6.1.27.11: a %s document must have /vulnerabilities" % category)
        return
    groups = _expand_groups(doc) if category == "csaf_vex" else {}
    for v, vuln in _iter_dicts(doc.get("vulnerabilities")):
        if "notes" not in vuln:
            errors.append("6.1.27.5: /vulnerabilities/%d must have notes in a %s document" % (v, category))
        if category == "csaf_security_advisory":
            if "product_status" not in vuln:
                errors.append("6.1.27.6: /vulnerabilities/%d must have product_status in a %s document" % (v, category))
            continue
        status = _d(vuln.get("product_status"))
        if not any(key in status for key in ("fixed", "known_affected", "known_not_affected", "under_investigation")):
            errors.append(
                "6.1.27.7: /vulnerabilities/%d/product_status needs fixed, known_affected, known_not_affected "
                "or under_investigation in a csaf_vex document" % v
            )
        if "cve" not in vuln and "ids" not in vuln:
            errors.append("6.1.27.8: /vulnerabilities/%d needs cve or ids in a csaf_vex document" % v)
        impact = _covered_products(vuln.get("flags"), groups) | _covered_products(
            vuln.get("threats"), groups, accept=lambda t: t.get("category") == "impact"
        )
        for _j, pid in _iter_strs(status.get("known_not_affected")):
            if pid not in impact:
                errors.append(
                    "6.1.27.9: no impact statement (flag or impact threat) for known_not_affected product %r "
                    "in /vulnerabilities/%d" % (pid, v)
                )
        action = _covered_products(vuln.get("remediations"), groups)
        for _j, pid in _iter_strs(status.get("known_affected")):
            if pid not in action:
                errors.append(
                    "6.1.27.10: no action statement (remediation) for known_affected product %r in "
                    "/vulnerabilities/%d" % (pid, v)
                )


def _purl_problem(purl: str):
    """Return why ``purl`` is not a valid package URL (purl-spec), or None."""
    if not purl.startswith("pkg:"):
        return "must start with 'pkg:'"
    rest = purl[4:].lstrip("/")
    rest, _sep, _subpath = rest.partition("#")
    rest, sep, qualifiers = rest.partition("?")
    if _PCT_BAD_RE.search(purl):
        return "invalid percent-encoding"
    ptype, sep_t, remainder = rest.partition("/")
    if not sep_t or not ptype:
        return "missing type"
    if not _PURL_TYPE_RE.match(ptype):
        return "invalid type %r" % ptype
    remainder = remainder.strip("/")
    if not remainder:
        return "missing name"
    name = remainder.rsplit("/", 1)[-1]
    if name.startswith("@") or not name.split("@", 1)[0]:
        return "missing name"
    if sep and qualifiers:
        keys = set()
        for pair in qualifiers.split("&"):
            if not pair:
                continue
            key, eq, value = pair.partition("=")
            if not eq or not value:
                return "qualifier %r has no value" % pair
            if not _PURL_QKEY_RE.match(key):
                return "invalid qualifier key %r" % key
            if key.lower() in keys:
                return "duplicate qualifier key %r" % key
            keys.add(key.lower())
    return None


def _test_purls(doc, errors):
    for pid, fpn, _path, _rel, ptr in _defined_products(doc):
        purl = _d(fpn.get("product_identification_helper")).get("purl")
        if isinstance(purl, str):
            problem = _purl_problem(purl)
            if problem:
                errors.append(
                    "6.1.13: invalid purl %r of product %r: %s (%s)"
                    % (purl[:200], pid, problem, _ptr(*(ptr + ("product_identification_helper", "purl"))))
                )


def _walk_branches(doc):
    """Yield (branch dict, pointer tuple) for all branches, iteratively."""
    pt = _d(_d(doc).get("product_tree"))
    stack = [(("product_tree", "branches"), _l(pt.get("branches")))]
    while stack:
        ptr, branches = stack.pop()
        for i, branch in enumerate(branches):
            if isinstance(branch, dict):
                yield branch, ptr + (i,)
                children = branch.get("branches")
                if isinstance(children, list):
                    stack.append((ptr + (i, "branches"), children))


def _test_branch_names(doc, warnings):
    for branch, ptr in _walk_branches(doc):
        category = branch.get("category")
        name = branch.get("name")
        if not isinstance(name, str):
            continue
        if category == "product_version" and _RANGE_WORDS_RE.search(name):
            warnings.append(
                "6.1.31: product_version branch name %r looks like a version range (%s)" % (name[:200], _ptr(*ptr))
            )
        elif category == "product_version_range":
            if not name.startswith("vers:"):
                warnings.append(
                    "6.2.18: product_version_range %r is not a vers string; only best-effort (uncertain) "
                    "matching is possible (%s)" % (name[:200], _ptr(*ptr))
                )
            else:
                try:
                    _vers.parse(name)
                except _vers.VersError as exc:
                    warnings.append("vers: %s (%s)" % (exc, _ptr(*ptr)))


def validate(doc: dict, schema: bool = True, accept_date_only: bool = False) -> ValidationReport:
    """Validate a parsed CSAF 2.0 document; never raises on malformed input.

    ``schema=True`` runs the official CSAF 2.0 JSON schema (format checks for ``date-time``
    and ``uri`` on). The mandatory tests always run and tolerate any input shape:
    6.1.1/6.1.2 (undefined/duplicate product id), 6.1.3 (circular relationships),
    6.1.4/6.1.5 (undefined/duplicate group id), 6.1.6 (contradicting status), 6.1.7 (several
    scores of one CVSS version), 6.1.13 (purl), 6.1.15/6.1.28 (translator, translation),
    6.1.14, 6.1.16-6.1.20 and 6.1.22 (revision
    history consistency; 6.1.17: version 0, 0.y.z or pre-release requires status draft),
    6.1.23 (duplicate CVE), 6.1.27.1-6.1.27.11 (profile requirements), 6.1.29/6.1.32
    (remediation/flag without products) and 6.1.30 (mixed integer/semantic versioning).
    Not implemented: 6.1.8-6.1.12 (CVSS computation, CWE and language registries), 6.1.21,
    6.1.24-6.1.26 and 6.1.33.

    ``accept_date_only``: a ``date-time`` value that is a plain date (``2026-08-18``, a known
    publisher defect, e.g. NVIDIA 2026/5817 and 5865) is reported as a warning starting with
    ``known publisher defect:`` instead of a schema error (``strict`` callers leave it False).

    Reported as warnings, never errors: 6.1.31 (version range words in a ``product_version``
    branch name; CSAF documents such as NVIDIA's keep the condition in the product name),
    6.2.18 (a ``product_version_range`` that is not a vers string: matching it is
    best-effort only) and ``vers:`` (a vers string this collection rejects, for example
    ``vers:all/<V4.3.8``).
    """
    report = ValidationReport()
    if not isinstance(doc, dict):
        report.errors.append("schema: /: a CSAF document must be a JSON object, got %s" % _json_type(doc))
        return report
    if schema:
        defects = [] if accept_date_only else None
        report.errors.extend(_schema_errors("csaf", doc, defects))
        report.warnings.extend(defects or ())
    mandatory = []
    try:
        _test_product_ids(doc, mandatory)
        _test_circular(doc, mandatory)
        _test_groups(doc, mandatory)
        _test_contradicting_status(doc, mandatory)
        _test_multiple_scores(doc, mandatory)
        _test_purls(doc, mandatory)
        _test_tracking(doc, mandatory)
        _test_cve_duplicates(doc, mandatory)
        _test_languages(doc, mandatory)
        _test_profiles(doc, mandatory)
        _test_orphans(doc, mandatory)
        _test_branch_names(doc, report.warnings)
    except RecursionError:
        mandatory.append("mandatory: document nesting too deep to test")
    if len(mandatory) > _MAX_ERRORS:
        extra = len(mandatory) - _MAX_ERRORS
        mandatory = mandatory[:_MAX_ERRORS] + ["mandatory: ... %d more errors not shown" % extra]
    report.errors.extend(mandatory)
    return report
