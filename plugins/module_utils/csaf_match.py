# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Match installed GPU host components against CSAF 2.0 advisories (controller side).

:func:`match` takes parsed CSAF documents and a list of installed components
(``{"name", "version", "family"?, "branch"?}``) and returns findings, a per-component
summary, everything it could not read (``not_understood``) and document bookkeeping.

Semantics (CSAF 2.0 §3.2.3.9, reference notes §2):

* ``first_affected``, ``known_affected``, ``last_affected``: affected -> a finding;
* ``first_fixed``, ``fixed``: contains a fix; ``recommended``: the vendor-preferred fix;
* ``known_not_affected``: not affected; ``under_investigation``: reported;
* a component a document does not list has **no statement** from it: it is never read as
  "not affected" (reported as ``no_statement``).

Products are read by a vendor adapter when one applies (NVIDIA: free-text conditions, see
``csaf_nvidia``) and otherwise by the generic path: ``product_version`` (one exact
version), ``product_version_range`` (canonical vers; vls read best-effort and flagged
uncertain), purl and CPE helpers. Each document is parsed once into a per-component index
of conditions; matching then only looks at the documents that mention a component.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import gc
import re
from urllib.parse import unquote

from ansible_collections.aisec.gpu_host.plugins.module_utils import csaf_document as _doc
from ansible_collections.aisec.gpu_host.plugins.module_utils import csaf_nvidia as _nv
from ansible_collections.aisec.gpu_host.plugins.module_utils import vers as _vers

__all__ = [
    "ARGUMENT_SPEC",
    "COMPONENTS",
    "DEFAULT_OPTIONS",
    "MatchError",
    "PLATFORMS",
    "STATUS_ROLES",
    "VENDOR_ADAPTERS",
    "component_from_identifiers",
    "gc_paused",
    "match",
    "parse_cpe",
    "parse_purl",
    "validate_components",
    "validate_options",
]

COMPONENTS = _nv.COMPONENTS
#: Vendor adapters that can be switched on; the generic path is always active.
VENDOR_ADAPTERS = ("nvidia",)
#: Operating-system keys of advisory architecture branches that can be selected.
PLATFORMS = ("linux", "vmware", "citrix", "nutanix")

#: product_status list -> role (see module docstring).
STATUS_ROLES = {
    "first_affected": "affected",
    "known_affected": "affected",
    "last_affected": "affected",
    "first_fixed": "fixed",
    "fixed": "fixed",
    "recommended": "recommended",
    "known_not_affected": "not_affected",
    "under_investigation": "under_investigation",
}

DEFAULT_OPTIONS = {
    "validate": True,
    "schema": True,
    "vendor_adapters": ["nvidia"],
    "platforms": ["linux"],
}

#: Argument spec shared by the action plugin and the module documentation stub.
ARGUMENT_SPEC = {
    "documents": {"type": "list", "elements": "path", "required": True},
    "components": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "name": {"type": "str", "required": True, "choices": list(COMPONENTS)},
            "version": {"type": "str", "required": True},
            "family": {"type": "str"},
            "branch": {"type": "str"},
        },
    },
    "validate": {"type": "bool", "default": True},
    "schema": {"type": "bool", "default": True},
    "vendor_adapters": {"type": "list", "elements": "str", "default": ["nvidia"], "choices": list(VENDOR_ADAPTERS)},
    "platforms": {"type": "list", "elements": "str", "default": ["linux"], "choices": list(PLATFORMS)},
}

# Restart categories of CSAF 2.0 remediations, least to most disruptive.
_RESTART_ORDER = ("none", "vulnerable_component", "service", "parent", "child", "dependencies",
                  "connected", "machine", "zone", "system")
_MAX_REASONS = 20  # validation errors kept per rejected document


class MatchError(ValueError):
    """Invalid components or options; the message lists every problem."""


class _Reject(Exception):
    """A document is unusable; ``reasons`` says why."""

    def __init__(self, reasons):
        super().__init__("; ".join(reasons))
        self.reasons = list(reasons)


# ---------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------

_VERSION_RE = re.compile(r"^[vV]?(\d+(?:\.\d+)*)$")
_BRANCH_RE = re.compile(r"^[Rr](\d{3,4})$")


def validate_options(options) -> dict:
    """Return options with defaults filled in; raise MatchError on unknown keys or bad values."""
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise MatchError("options must be a dict, got %s" % type(options).__name__)
    problems = []
    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        problems.append("unknown option(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(DEFAULT_OPTIONS))))
    out = dict(DEFAULT_OPTIONS)
    out.update({k: v for k, v in options.items() if k in DEFAULT_OPTIONS})
    for key in ("validate", "schema"):
        if not isinstance(out[key], bool):
            problems.append("option %s must be a boolean" % key)
    for key, allowed in (("vendor_adapters", VENDOR_ADAPTERS), ("platforms", PLATFORMS)):
        value = out[key]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            problems.append("option %s must be a list of strings" % key)
            continue
        bad = [v for v in value if v not in allowed]
        if bad:
            problems.append("option %s: unknown value(s) %s; use any of: %s" % (key, ", ".join(bad), ", ".join(allowed)))
        out[key] = list(value)
    if problems:
        raise MatchError("; ".join(problems))
    return out


def validate_components(components) -> list:
    """Check and normalise the installed components.

    Each item: ``name`` (one of :data:`COMPONENTS`), ``version`` (dotted integers, an
    optional ``v`` prefix is dropped), ``family`` (required for ``nvidia_driver``: one of
    ``datacenter, geforce, rtx, vgpu_host, vgpu_guest``; for ``firmware`` and
    ``nvidia_vbios``: the hardware as the advisories name it, compared as a slug),
    ``branch`` (``nvidia_driver``/``nvidia_fabric_manager`` only; must agree with the
    version: ``535.x`` is ``R535``). Returns new dicts with ``key`` (summary key), ``name``,
    ``version``, ``family``, ``branch``. Raises MatchError listing every problem.
    """
    if not isinstance(components, (list, tuple)):
        raise MatchError("components must be a list of dicts, got %s" % type(components).__name__)
    problems = []
    out = []
    seen = {}
    for i, comp in enumerate(components):
        where = "components[%d]" % i
        if not isinstance(comp, dict):
            problems.append("%s must be a dict with name and version, got %s" % (where, type(comp).__name__))
            continue
        unknown = sorted(set(comp) - {"name", "version", "family", "branch"})
        if unknown:
            problems.append("%s: unknown key(s) %s; allowed: name, version, family, branch" % (where, ", ".join(unknown)))
        name = comp.get("name")
        if name not in COMPONENTS:
            problems.append("%s: name %r is not a known component; use one of: %s" % (where, name, ", ".join(COMPONENTS)))
            continue
        where = "%s (%s)" % (where, name)
        version = comp.get("version")
        if isinstance(version, (int, float)) and not isinstance(version, bool):
            problems.append("%s: version must be a quoted string (YAML turned %r into a number)" % (where, version))
            continue
        m = _VERSION_RE.match(version) if isinstance(version, str) else None
        if not m:
            problems.append("%s: version %r must be dot-separated integers such as '535.183.01' or '1.17.8'" % (where, version))
            continue
        version = m.group(1)
        family = comp.get("family")
        if family is not None and (not isinstance(family, str) or not family.strip()):
            problems.append("%s: family must be a non-empty string" % where)
            continue
        if name == "nvidia_driver":
            if family not in _nv.DRIVER_FAMILIES:
                problems.append("%s: family is required and must be one of: %s (got %r)"
                                % (where, ", ".join(_nv.DRIVER_FAMILIES), family))
                continue
        elif name in _nv.FAMILY_REQUIRED:
            if family is None:
                problems.append("%s: family is required: the hardware as the advisories name it, e.g. 'Hopper HGX 8-GPU'"
                                % where)
                continue
            family = _nv.slug(family)
        elif family is not None:
            problems.append("%s: family applies only to %s" % (where, ", ".join(sorted(_nv.FAMILY_REQUIRED))))
            continue
        branch = comp.get("branch")
        if name in _nv.BRANCHED_COMPONENTS:
            derived = "R%d" % int(version.split(".")[0])
            if branch is not None:
                b = _BRANCH_RE.match(branch) if isinstance(branch, str) else None
                if not b or "R%d" % int(b.group(1)) != derived:
                    problems.append("%s: branch %r does not match version %s (branch %s)" % (where, branch, version, derived))
                    continue
            branch = derived
        elif branch is not None:
            problems.append("%s: branch applies only to %s" % (where, ", ".join(sorted(_nv.BRANCHED_COMPONENTS))))
            continue
        key = name if family is None else "%s:%s" % (name, family)
        if key in seen:
            problems.append("%s: duplicate of components[%d] (%s)" % (where, seen[key], key))
            continue
        seen[key] = i
        out.append({"key": key, "name": name, "version": version, "family": family, "branch": branch})
    if problems:
        raise MatchError("invalid components: " + "; ".join(problems))
    return out


# ---------------------------------------------------------------------------
# purl / CPE helpers
# ---------------------------------------------------------------------------

_PURL_RE = re.compile(r"^pkg:(?P<type>[A-Za-z][A-Za-z0-9.+\-]*)/(?P<rest>[^?#]+?)(?:\?(?P<q>[^#]*))?(?:#(?P<sub>.*))?$")


def parse_purl(purl):
    """Split a package URL: ``{"type", "namespace", "name", "version"}`` (decoded), or None.

    ``pkg:deb/ubuntu/nvidia-container-toolkit@1.17.8-1`` -> type ``deb``, namespace
    ``ubuntu``, name ``nvidia-container-toolkit``, version ``1.17.8-1``. The non-canonical
    ``pkg://`` form is rejected (None).
    """
    if not isinstance(purl, str):
        return None
    m = _PURL_RE.match(purl.strip())
    if not m or m.group("rest").startswith("/"):
        return None
    rest = m.group("rest").strip("/")
    version = None
    if "@" in rest:
        rest, version = rest.rsplit("@", 1)
        version = unquote(version) or None
    parts = [unquote(p) for p in rest.split("/") if p]
    if not parts:
        return None
    return {
        "type": m.group("type").lower(),
        "namespace": "/".join(parts[:-1]) or None,
        "name": parts[-1],
        "version": version,
    }


def parse_cpe(cpe):
    """Split a CPE 2.3 formatted string or CPE 2.2 URI: ``{"part", "vendor", "product", "version"}``.

    ``*``, ``-`` and empty versions give ``version`` None. Returns None when not a CPE.
    """
    if not isinstance(cpe, str):
        return None
    text = cpe.strip()
    if text.startswith("cpe:2.3:"):
        fields = re.split(r"(?<!\\):", text)
        if len(fields) != 13:
            return None
        part, vendor, product, version = fields[2:6]
    elif text.startswith("cpe:/"):
        fields = text[5:].split(":")
        fields += [""] * (4 - len(fields))
        part, vendor, product, version = [unquote(f) for f in fields[:4]]
    else:
        return None
    out = {}
    for key, value in (("part", part), ("vendor", vendor), ("product", product), ("version", version)):
        value = value.replace("\\", "")
        if value in ("", "*", "-"):
            value = None
        elif key != "version":
            value = value.lower()
        out[key] = value
    return out


# Package / CPE product names of the vocabulary (lower case).
_IDENTIFIER_NAMES = {
    "nvidia-container-toolkit": "nvidia_container_toolkit",
    "nvidia-container-toolkit-base": "nvidia_container_toolkit",
    "nvidia_container_toolkit": "nvidia_container_toolkit",
    "container_toolkit": "nvidia_container_toolkit",
    "gpu-operator": "nvidia_gpu_operator",
    "nvidia_gpu_operator": "nvidia_gpu_operator",
    "gpu_operator": "nvidia_gpu_operator",
    "k8s-device-plugin": "k8s_device_plugin",
    "nvidia-device-plugin": "k8s_device_plugin",
    "nvidia_kubernetes_device_plugin": "k8s_device_plugin",
    "mig-parted": "mig_manager",
    "k8s-mig-manager": "mig_manager",
    "nvidia_mig_manager": "mig_manager",
    "nvidia-fabricmanager": "nvidia_fabric_manager",
    "nvidia-fabric-manager": "nvidia_fabric_manager",
    "fabric_manager": "nvidia_fabric_manager",
    "datacenter-gpu-manager": "nvidia_dcgm",
    "datacenter-gpu-manager-4-core": "nvidia_dcgm",
    "dcgm": "nvidia_dcgm",
    "data_center_gpu_manager": "nvidia_dcgm",
    "dcgm-exporter": "dcgm_exporter",
    "dcgm_exporter": "dcgm_exporter",
    "cuda-toolkit": "cuda_toolkit",
    "cuda_toolkit": "cuda_toolkit",
    "tritonserver": "triton_inference_server",
    "triton_inference_server": "triton_inference_server",
    "tensorrt": "tensorrt",
    "tensorrt-llm": "tensorrt_llm",
    "tensorrt_llm": "tensorrt_llm",
    "nemo-toolkit": "nemo_framework",
    "nemo_toolkit": "nemo_framework",
    "nemo_framework": "nemo_framework",
    "ai-dynamo": "dynamo",
    "dynamo": "dynamo",
}
_DRIVER_FAMILY_IDENTIFIERS = {
    "tesla": "datacenter",
    "geforce": "geforce",
    "nvidia_rtx_quadro_nvs": "rtx",
    "quadro": "rtx",
    "guest_driver": "vgpu_guest",
    "virtual_gpu_manager": "vgpu_host",
}


def component_from_identifiers(helper) -> tuple:
    """Map a product_identification_helper to ``(component, family, version)`` or None.

    Uses the purl name (``nvidia-container-toolkit``) or the CPE product
    (``cpe:2.3:a:nvidia:container_toolkit:1.17.8:...``); only NVIDIA CPEs are considered.
    ``version`` is the purl/CPE version when it is a concrete value, else None.
    """
    if not isinstance(helper, dict):
        return None
    purl = parse_purl(helper.get("purl"))
    if purl:
        comp = _IDENTIFIER_NAMES.get(purl["name"].lower())
        if comp is None and purl["type"] in ("deb", "rpm") and re.match(r"^nvidia-driver(?:-\d+)?$", purl["name"].lower()):
            return "nvidia_driver", None, purl["version"]
        if comp:
            return comp, None, purl["version"]
    cpe = parse_cpe(helper.get("cpe"))
    if cpe and cpe["vendor"] == "nvidia" and cpe["product"]:
        product = cpe["product"]
        version = cpe["version"]
        if version and not _VERSION_RE.match(version):
            version = None  # NVIDIA puts the condition text into the version field
        if product in _IDENTIFIER_NAMES:
            return _IDENTIFIER_NAMES[product], None, version
        if product in _DRIVER_FAMILY_IDENTIFIERS:
            return "nvidia_driver", _DRIVER_FAMILY_IDENTIFIERS[product], version
    return None


# ---------------------------------------------------------------------------
# Conditions and index entries
# ---------------------------------------------------------------------------

class _Entry:
    """One product of one document, read into a condition on one component."""

    __slots__ = ("component", "family", "families", "os", "branch", "range", "vers",
                 "fix_version", "release", "uncertain", "qualifier", "text", "pattern", "label", "notes", "keys")

    def __init__(self, component, family, families, os, branch, range, vers, fix_version, release,  # noqa: A002
                 uncertain, qualifier, text, pattern, label, notes, keys=False):  # pylint: disable=redefined-builtin
        self.component = component
        self.family = family
        self.families = families
        self.os = os
        self.branch = branch
        self.range = range
        self.vers = vers
        self.fix_version = fix_version
        self.release = release
        self.uncertain = uncertain
        self.qualifier = qualifier
        self.text = text
        self.pattern = pattern
        self.label = label
        self.notes = notes
        self.keys = _intdot_keys(range) if keys is False else keys

    def contains(self, version):
        """vers containment; intdot ranges use cached comparison keys (same result as VersRange.contains)."""
        if self.keys is None:
            return self.range.contains(version)
        return _intdot_contains(self.keys, _ikey(version))

    def applies_to(self, comp) -> bool:
        if self.families is not None and comp["family"] not in self.families:
            return False
        if self.branch is not None and comp["branch"] is not None and self.branch != comp["branch"]:
            return False
        return True


_ikey = functools.lru_cache(maxsize=65536)(_vers.intdot_key)
_LOWER = (">", ">=")
_UPPER = ("<", "<=")


def _intdot_keys(rng):
    """Precomputed (all, equalities, bounds) of an intdot VersRange for :func:`_intdot_contains`, else None."""
    if getattr(rng, "scheme", None) != "intdot":
        return None
    cons = rng.constraints
    if len(cons) == 1 and cons[0][0] == "*":
        return (True, (), ())
    eqs = tuple((c, _ikey(v)) for c, v in cons)
    bounds = tuple((c, k) for c, k in eqs if c not in ("=", "!="))
    return (False, eqs, bounds)


def _intdot_contains(keys, vkey):
    """The vers-spec containment algorithm (as vers.VersRange.contains) on precomputed intdot keys."""
    every, eqs, bounds = keys
    if every:
        return True
    for comp, k in eqs:
        if vkey == k:
            if comp in ("=", "<=", ">="):
                return True
            if comp == "!=":
                return False
    if not bounds:
        return False
    if bounds[0][0] in _UPPER and vkey < bounds[0][1]:
        return True
    if bounds[-1][0] in _LOWER and vkey > bounds[-1][1]:
        return True
    for (c1, k1), (c2, k2) in zip(bounds, bounds[1:]):
        if c1 in _LOWER and c2 in _UPPER and k1 < vkey < k2:
            return True
    return False


_VERS_CACHE = {}


def _parse_vers(spec):
    """vers.parse with a cache (ranges repeat across documents)."""
    try:
        return _VERS_CACHE[spec]
    except KeyError:
        pass
    value = _vers.parse(spec)
    if len(_VERS_CACHE) > 50000:
        _VERS_CACHE.clear()
    _VERS_CACHE[spec] = value
    return value


def _entry_from_nvidia(product, role_kind_role, platforms):
    """NVIDIA adapter -> _Entry, None (other platform) or raises NotUnderstood."""
    adapted = _nv.adapt_product(product, role_kind_role, cumulative=True, platforms=platforms)
    if adapted is None:
        return None
    cond = adapted["condition"]
    rng, keys = _adapter_range(cond["vers"], tuple(cond["constraints"]))
    return _Entry(
        component=adapted["component"], family=adapted["family"],
        families=_families(adapted["component"], adapted["family"], adapted["platform"], adapted["label"]),
        os=adapted["os"], branch=adapted["branch"], range=rng, vers=cond["vers"], fix_version=cond["fix_version"],
        release=cond["release"], uncertain=cond["uncertain"], qualifier=cond["qualifier"], text=cond["text"],
        pattern=cond["pattern"], label=adapted["label"], notes=(), keys=keys,
    )


@functools.lru_cache(maxsize=65536)
def _adapter_range(vers_string, constraints):
    """(VersRange, containment keys) of a range the NVIDIA adapter generated (canonical by construction)."""
    rng = _vers.VersRange("intdot", list(constraints))
    return rng, _intdot_keys(rng)


@functools.lru_cache(maxsize=4096)
def _families(component, family, platform, label):
    """Family names a component may give for an adapter entry (None: any family)."""
    if family is None:
        return None
    names = {family}
    if component in ("firmware", "nvidia_vbios") and platform:
        names.add(_nv.slug("%s %s" % (platform, label)))
    return frozenset(names)


_RANGE_WORDS_RE = re.compile(r"(?:<|>|\b(?:after|all|before|earlier|later|prior|versions)\b)", re.I)


def _entry_from_generic(product, role, products):
    """Generic CSAF path -> _Entry or raises NotUnderstood (None when not in the vocabulary)."""
    path = product.get("path") or []
    helper = product.get("helper") or {}
    rel = product.get("relationship")
    if rel and not helper:
        ref = products.get(rel.get("product_reference") or "")
        if ref:
            helper = ref.get("helper") or {}
    label = None
    version_item = None
    for item in reversed(path):
        cat = item.get("category")
        if version_item is None and cat in ("product_version", "product_version_range"):
            version_item = item
        elif label is None and cat in ("product_name", "product_family"):
            label = item.get("name")
    classified = _nv.classify_label(label) if label else None
    if classified is None and not path:
        classified = _nv.classify_label(product.get("name"))
    id_version = None
    by_id = component_from_identifiers(helper)
    if by_id is not None:
        if classified is None:
            classified = by_id[:2]
        id_version = by_id[2]
    if classified is None:
        return None
    component, family = classified
    uncertain = False
    notes = []
    if version_item is not None and version_item["category"] == "product_version_range":
        text = version_item.get("name") or ""
        try:
            rng = _parse_vers(text)
        except _vers.VersError as exc:
            try:
                rng = _vers.parse_vls(text)
            except _vers.VersError:
                raise _nv.NotUnderstood("product_version_range %r is neither vers nor readable vls (%s)" % (text, exc))
            uncertain = True
            notes.append("range %r is not a valid vers string; read best-effort" % text)
        fix_version = None
        if role in ("fixed", "recommended"):
            lows = [v for c, v in rng.constraints if c in (">=", "=")]
            if rng.constraints and rng.constraints[0][0] in (">=", "=") and len(lows) >= 1:
                fix_version = lows[0]
        vers_text = str(rng)
    else:
        text = version_item.get("name") if version_item is not None else id_version
        if not text:
            raise _nv.NotUnderstood("%s product has no version (no product_version branch, purl or CPE version)"
                                    % component)
        if _RANGE_WORDS_RE.search(text):
            raise _nv.NotUnderstood("product_version %r holds a range, not one version (CSAF 6.1.31)" % text)
        m = _VERSION_RE.match(text.strip())
        if not m:
            raise _nv.NotUnderstood("product_version %r of %s is not a version of dot-separated integers"
                                    % (text, component))
        ver = m.group(1)
        rng = _parse_vers("vers:intdot/" + ver)
        fix_version = ver if role in ("fixed", "recommended") else None
        vers_text = str(rng)
    branch = _single_branch(rng) if component in _nv.BRANCHED_COMPONENTS else None
    families = {family} if family is not None else None
    return _Entry(
        component=component, family=family, families=families, os=None,
        branch=branch, range=rng, vers=vers_text, fix_version=fix_version, release=None, uncertain=uncertain,
        qualifier=None, text=text, pattern="generic", label=label or product.get("name"), notes=notes,
    )


def _single_branch(rng):
    """``R<major>`` when an intdot range lies within one major version, else None.

    ``>=535|<535.183.01``, ``535.183.01`` and ``>=535.183.01|<536`` lie in R535; a literal
    ``<535.183.01`` also covers R470 and so belongs to no single branch.
    """
    if rng.scheme != "intdot" or not rng.constraints or rng.constraints[0][0] == "*":
        return None
    keys = [(c, _ikey(v)) for c, v in rng.constraints if c != "!="]
    if not keys:
        return None
    first, last = keys[0], keys[-1]
    major = first[1][0] if first[1] else 0
    if first[0] not in ("=", ">=", ">"):
        return None
    if last[0] in ("<", "<=", "="):
        top = last[1]
        if last[0] == "<" and top == (major + 1,):
            return "R%d" % major
        if top and top[0] == major:
            return "R%d" % major
    return None


# ---------------------------------------------------------------------------
# Document index
# ---------------------------------------------------------------------------

class _Vuln:
    """One vulnerability; scores and remediations are read only when a finding needs them."""

    __slots__ = ("raw", "doc", "cve", "ids", "_scores", "_remediations")

    def __init__(self, raw, doc):
        self.raw = raw
        self.doc = doc
        self.cve = raw.get("cve") if isinstance(raw.get("cve"), str) else None
        self.ids = [i.get("text") for i in _as_list(raw.get("ids"))
                    if isinstance(i, dict) and isinstance(i.get("text"), str)]
        self._scores = None
        self._remediations = None

    @property
    def scores(self):
        if self._scores is None:
            self._scores = _read_scores(self.raw)
        return self._scores

    @property
    def remediations(self):
        if self._remediations is None:
            self._remediations = _read_remediations(self.raw, _groups(self.doc))
        return self._remediations


class _Doc:
    __slots__ = ("source", "meta", "key", "sort_key", "url", "nvidia", "aggregate_severity", "vulns", "statements")

    def __init__(self):
        self.statements = {}


def _as_list(value):
    return value if isinstance(value, list) else []


def _as_dict(value):
    return value if isinstance(value, dict) else {}


def _cvss_version(text):
    try:
        return tuple(int(p) for p in str(text).split("."))
    except ValueError:
        return (0,)


def _severity_for(score, version):
    if score is None:
        return None
    if version[0] == 2:
        return "LOW" if score < 4.0 else "MEDIUM" if score < 7.0 else "HIGH"
    if score == 0:
        return "NONE"
    return "LOW" if score < 4.0 else "MEDIUM" if score < 7.0 else "HIGH" if score < 9.0 else "CRITICAL"


def _read_scores(vuln):
    """[(products set, version tuple, base score, severity)] from scores (2.0) and metrics (2.1)."""
    out = []
    items = [(s.get("products"), s) for s in _as_list(vuln.get("scores")) if isinstance(s, dict)]
    items += [(m.get("products"), _as_dict(m.get("content"))) for m in _as_list(vuln.get("metrics")) if isinstance(m, dict)]
    for products, content in items:
        pset = {p for p in _as_list(products) if isinstance(p, str)}
        for key in ("cvss_v4", "cvss_v3", "cvss_v2"):
            cvss = content.get(key)
            if not isinstance(cvss, dict):
                continue
            score = cvss.get("baseScore")
            if isinstance(score, bool) or not isinstance(score, (int, float)):
                continue
            version = _cvss_version(cvss.get("version") or key[-1])
            severity = cvss.get("baseSeverity")
            if not isinstance(severity, str):
                severity = _severity_for(float(score), version)
            out.append((pset, version, float(score), severity.upper()))
    return out


def _groups(doc):
    out = {}
    for g in _as_list(_as_dict(doc.get("product_tree")).get("product_groups")):
        if isinstance(g, dict) and isinstance(g.get("group_id"), str):
            out[g["group_id"]] = {p for p in _as_list(g.get("product_ids")) if isinstance(p, str)}
    return out


def _read_remediations(vuln, groups):
    out = []
    for r in _as_list(vuln.get("remediations")):
        if not isinstance(r, dict) or not isinstance(r.get("category"), str):
            continue
        ids = {p for p in _as_list(r.get("product_ids")) if isinstance(p, str)}
        for g in _as_list(r.get("group_ids")):
            ids |= groups.get(g, set())
        restart = _as_dict(r.get("restart_required")).get("category")
        out.append({
            "category": r["category"],
            "details": r.get("details") if isinstance(r.get("details"), str) else None,
            "url": r.get("url") if isinstance(r.get("url"), str) else None,
            "restart_required": restart if isinstance(restart, str) else None,
            "ids": ids,
        })
    return out


def _date_key(text):
    if not isinstance(text, str):
        return ""
    try:
        value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    except ValueError:
        return text


def _version_key(text):
    if not isinstance(text, str):
        return (0,)
    nums = re.findall(r"\d+", text.split("-", 1)[0].split("+", 1)[0])
    return tuple(int(n) for n in nums) or (0,)


def _document_url(doc, meta, nvidia):
    refs = _as_list(_as_dict(doc.get("document")).get("references"))
    urls = [(r.get("category"), r.get("url")) for r in refs if isinstance(r, dict) and isinstance(r.get("url"), str)]
    for cat, url in urls:
        if cat == "self":
            return url
    if nvidia:
        url = _nv.advisory_url(meta.get("tracking_id"))
        if url:
            return url
    return urls[0][1] if urls else None


class _Indexer:
    """Parses documents once; caches adapter results across documents."""

    def __init__(self, opts):
        self.opts = opts
        self.nvidia_enabled = "nvidia" in opts["vendor_adapters"]
        self.platforms = frozenset(opts["platforms"])
        self.cache = {}
        self.not_understood = []
        self._noted = set()

    def note(self, meta, source, pid, text, reason, component=None, category="condition"):
        """Record a product that cannot be read (once per source, product and reason)."""
        key = (source, meta.get("tracking_id"), pid, reason)
        if key in self._noted:
            return
        self._noted.add(key)
        self.not_understood.append({
            "document": meta.get("tracking_id"), "source": source, "product_id": pid,
            "text": text, "reason": reason, "component": component, "category": category,
        })

    def _classify(self, product, role, products, nvidia):
        path = product.get("path")
        if nvidia and path and path[-1].get("category") == "product_version":
            kind = _nv.ROLE_KINDS[role]
            label = path[-1].get("name")
            arch = None
            for step in path:
                if step.get("category") == "architecture":
                    arch = step.get("name")  # the nearest one wins
            key = (label, arch, product.get("name"), kind)
            cached = self.cache.get(key)
            if cached is None:
                if isinstance(label, str) and _VERSION_RE.match(label.strip()):
                    cached = ("generic", None)  # a real product_version: the generic path reads it
                else:
                    try:
                        cached = ("ok", _entry_from_nvidia(product, "fixed" if kind == "fix" else "affected",
                                                           self.platforms))
                    except _nv.NotUnderstood as exc:
                        cached = ("nu", exc)
                self.cache[key] = cached
            status, value = cached
            if status == "ok":
                return value  # shared between products with the same label/architecture/text
            if status == "nu":
                raise _nv.NotUnderstood(value.reason, value.category)
        return _entry_from_generic(product, role, products)

    def index(self, doc, source):
        if not isinstance(doc, dict) or not isinstance(doc.get("document"), dict):
            raise _Reject(["not a CSAF document (no /document object)"])
        meta = _doc.document_meta(doc)
        if meta.get("status") == "draft":
            raise _Reject(["tracking.status is 'draft': drafts are never acted on"])
        if self.opts["validate"]:
            report = _doc.validate(doc, schema=self.opts["schema"])
            if not report.ok:
                reasons = report.errors[:_MAX_REASONS]
                if len(report.errors) > _MAX_REASONS:
                    reasons.append("... %d more errors" % (len(report.errors) - _MAX_REASONS))
                raise _Reject(reasons)
        nvidia = self.nvidia_enabled and _nv.is_nvidia_document(meta, doc)
        d = _Doc()
        d.source = source
        d.meta = meta
        publisher = _as_dict(_as_dict(doc["document"].get("publisher")))
        d.key = (publisher.get("namespace") if isinstance(publisher.get("namespace"), str) else meta.get("publisher_name"),
                 meta.get("tracking_id"))
        d.sort_key = (_date_key(meta.get("current_release_date")), _version_key(meta.get("version")))
        d.url = _document_url(doc, meta, nvidia)
        d.nvidia = nvidia
        agg = _as_dict(doc["document"].get("aggregate_severity")).get("text")
        d.aggregate_severity = agg.upper() if isinstance(agg, str) else None
        d.vulns = []
        vulns = _as_list(doc.get("vulnerabilities"))
        if not vulns:
            return d
        # (product id, role) -> indexes of the vulnerabilities stating it
        refs = {}
        for vuln in vulns:
            if not isinstance(vuln, dict):
                continue
            vidx = len(d.vulns)
            d.vulns.append(_Vuln(vuln, doc))
            status = vuln.get("product_status")
            if not isinstance(status, dict):
                continue
            for list_name, pids in status.items():
                role = STATUS_ROLES.get(list_name)
                if role is None or not isinstance(pids, list):
                    continue
                for pid in pids:
                    if isinstance(pid, str):
                        key = (pid, role)
                        seen = refs.get(key)
                        if seen is None:
                            refs[key] = [vidx]
                        elif seen[-1] != vidx:
                            seen.append(vidx)
        if not refs:
            return d
        products = _doc.flatten_product_tree(doc)
        entries = {}  # (product id, role kind) -> _Entry | None
        for (pid, role), vidxs in refs.items():
            ekey = (pid, _nv.ROLE_KINDS[role])
            if ekey in entries:
                entry = entries[ekey]
            else:
                entry = None
                product = products.get(pid)
                if product is None:
                    self.note(meta, source, pid, None, "product id is referenced but not defined (CSAF 6.1.1)",
                              category="reference")
                else:
                    try:
                        entry = self._classify(product, role, products, nvidia)
                    except _nv.NotUnderstood as exc:
                        self.note(meta, source, pid, product.get("name"), exc.reason, _guess_component(product),
                                  exc.category)
                entries[ekey] = entry
            if entry is not None:
                d.statements.setdefault(entry.component, []).append((role, entry, pid, vidxs))
        return d


def _guess_component(product):
    path = product.get("path") or []
    for item in reversed(path):
        if item.get("category") in ("product_version", "product_name", "product_family"):
            found = _nv.classify_label(item.get("name"))
            if found:
                return found[0]
    return None


# ---------------------------------------------------------------------------
# Matching
# ---------------------------------------------------------------------------

def _scheme(entry):
    rng = entry.range
    scheme = getattr(rng, "scheme", None)
    return scheme if scheme in ("intdot", "semver", "deb") else "intdot"


def _cmp(scheme, a, b):
    return _vers.compare(scheme, a, b)


def _max_version(versions):
    best = None
    for v in versions:
        if best is None or _vers.compare("intdot", v, best) > 0:
            best = v
    return best


def _natural(text):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text or "")]


class _MatchState:
    def __init__(self, comp):
        self.comp = comp
        self.findings = []
        self.no_statement = []
        self.under_investigation = []
        self.ok = []


def _match_document(d, comp, indexer):
    """Return ('affected', finding) | ('ok'|'no_statement'|'under_investigation', None)."""
    version = comp["version"]
    stmts = [s for s in d.statements.get(comp["name"], ()) if s[1].applies_to(comp)]
    if not stmts:
        return "no_statement", None
    affected = {}  # vidx -> [(entry, product_id)]
    covered = False
    investigating = False
    contradictions = set()
    contains = {}
    for role, entry, pid, vidxs in stmts:
        key = id(entry)
        if key not in contains:
            try:
                contains[key] = entry.contains(version)
            except _vers.VersError as exc:
                indexer.note(d.meta, d.source, pid, entry.text,
                             "installed version %s cannot be compared with %s: %s" % (version, entry.vers, exc),
                             comp["name"], "comparison")
                contains[key] = False
        if not contains[key]:
            continue
        if role == "affected":
            for vidx in vidxs:
                affected.setdefault(vidx, []).append((entry, pid))
        elif role == "under_investigation":
            investigating = True
        else:
            covered = True
            contradictions.update(vidxs)
    if not affected:
        if covered:
            return "ok", None
        return ("under_investigation" if investigating else "no_statement"), None
    return "affected", _finding(d, comp, stmts, affected, contradictions)


def _finding(d, comp, stmts, affected, contradictions):
    version = comp["version"]
    uncertain = False
    notes = []
    fixes = {}
    recommended = {}
    releases = {}
    fix_ids = set()
    for vidx, pairs in affected.items():
        entries = [e for e, _pid in pairs]
        for e in entries:
            if e.uncertain:
                if e.qualifier and e.qualifier.get("below"):
                    if _vers.compare("intdot", version, e.qualifier["below"]) < 0:
                        uncertain = True
                        notes.append("affected only with %s" % e.qualifier["text"])
                else:
                    uncertain = True
                    if e.qualifier:
                        notes.append("affected only %s" % e.qualifier["text"]
                                     if e.qualifier["text"].lower().startswith("only") else e.qualifier["text"])
                    notes.extend(e.notes or ())
        if vidx in contradictions:
            uncertain = True
            notes.append("%s: the document also lists the installed version as fixed or not affected"
                         % (d.vulns[vidx].cve or "vulnerability %d" % vidx))
        # First fix on the same branch: the smallest fixed version above the installed one
        # that the same vulnerability does not list as affected.
        for target, role_name in ((fixes, "fixed"), (recommended, "recommended")):
            best = None
            for role, e, pid, vidxs in stmts:
                if e.fix_version is None or vidx not in vidxs:
                    continue
                if comp["branch"] is not None and not _same_branch(e.fix_version, comp["branch"]):
                    continue  # never recommend a branch change
                if role_name == "fixed" and role not in ("fixed", "recommended"):
                    continue
                if role_name == "recommended" and role != "recommended":
                    continue
                scheme = _scheme(e)
                try:
                    if _cmp(scheme, e.fix_version, version) <= 0:
                        continue
                    if any(a.contains(e.fix_version) for a in entries):
                        continue
                    if best is None or _cmp(scheme, e.fix_version, best[0].fix_version) < 0:
                        best = (e, pid)
                except _vers.VersError:
                    continue
            if best is not None:
                target[vidx] = best[0].fix_version
                if role_name == "fixed":
                    fix_ids.add(best[1])
                    if best[0].release:
                        releases[vidx] = best[0].release
    cves = sorted({d.vulns[v].cve or (d.vulns[v].ids[0] if d.vulns[v].ids else "") for v in affected} - {""},
                  key=_natural)
    unfixed = sorted({d.vulns[v].cve or "vulnerability %d" % v for v in affected if v not in fixes}, key=_natural)
    fixed_version = _safe_max(fixes.values())
    recommended_version = _safe_max(recommended.values())
    fixed_release = None
    if fixed_version is not None:
        fixed_release = next((releases[v] for v in releases if fixes.get(v) == fixed_version), None)
    affected_ids = {pid for pairs in affected.values() for _e, pid in pairs}
    # Severity: the newest CVSS version, then the highest base score.
    candidates = []
    for vidx in affected:
        scores = d.vulns[vidx].scores
        relevant = [s for s in scores if s[0] & affected_ids] or scores
        candidates.extend(relevant)
    severity = base_score = cvss_version = None
    if candidates:
        best = max(candidates, key=lambda s: (s[1], s[2]))
        base_score, severity, cvss_version = best[2], best[3], ".".join(str(p) for p in best[1])
    elif d.aggregate_severity:
        severity = d.aggregate_severity
    remediations = []
    restart = None
    seen = set()
    for vidx in affected:
        for r in d.vulns[vidx].remediations:
            if not r["ids"] & (affected_ids | fix_ids):
                continue
            item = (r["category"], r["details"], r["url"], r["restart_required"])
            if item in seen:
                continue
            seen.add(item)
            remediations.append({"category": r["category"], "details": r["details"], "url": r["url"],
                                 "restart_required": r["restart_required"]})
            if r["category"] == "vendor_fix" and r["restart_required"] in _RESTART_ORDER:
                if restart is None or _RESTART_ORDER.index(r["restart_required"]) > _RESTART_ORDER.index(restart):
                    restart = r["restart_required"]
    affected_products = []
    for pairs in affected.values():
        for e, pid in pairs:
            item = {"product_id": pid, "text": e.text, "range": e.vers}
            if item not in affected_products:
                affected_products.append(item)
    meta = d.meta
    return {
        "tracking_id": meta.get("tracking_id"),
        "document_version": meta.get("version"),
        "title": meta.get("title"),
        "publisher": meta.get("publisher_name"),
        "source": d.source,
        "url": d.url,
        "cves": cves,
        "component": comp["name"],
        "component_key": comp["key"],
        "family": comp["family"],
        "branch": comp["branch"],
        "installed_version": version,
        "fixed_version": fixed_version,
        "fixed_release": fixed_release,
        "recommended_version": recommended_version,
        "unfixed_cves": unfixed,
        "severity": severity,
        "base_score": base_score,
        "cvss_version": cvss_version,
        "restart_required": restart,
        "remediations": remediations,
        "uncertain": uncertain,
        "notes": _unique(notes),
        "affected_products": affected_products,
        "_affected_entries": [e for pairs in affected.values() for e, _pid in pairs],
    }


def _same_branch(version, branch):
    try:
        key = _ikey(version)
    except _vers.VersError:
        return False
    return bool(key) and "R%d" % key[0] == branch


def _safe_max(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    try:
        return _max_version(values)
    except _vers.VersError:
        return sorted(values)[-1]


def _unique(items):
    out = []
    for i in items:
        if i not in out:
            out.append(i)
    return out


def _required_version(findings, version):
    """Smallest fixed version fixing every finding that has a fix (None when none has)."""
    fixes = [f["fixed_version"] for f in findings if f["fixed_version"] is not None]
    if not fixes:
        return None
    try:
        ordered = sorted(set(fixes), key=_vers.intdot_key)
    except _vers.VersError:
        return None
    for cand in ordered:
        ok = True
        for f in findings:
            if f["fixed_version"] is not None and _vers.compare("intdot", cand, f["fixed_version"]) < 0:
                ok = False
                break
            for e in f["_affected_entries"]:
                try:
                    if e.contains(cand):
                        ok = False
                        break
                except _vers.VersError:
                    continue
            if not ok:
                break
        if ok:
            return cand
    return None


def _normalize_documents(documents):
    if isinstance(documents, dict):
        documents = [documents]
    if not isinstance(documents, (list, tuple)):
        try:
            documents = list(documents)
        except TypeError:
            raise MatchError("documents must be a list of CSAF documents or (source, document) pairs") from None
    out = []
    for item in documents:
        if isinstance(item, (tuple, list)) and len(item) == 2:
            out.append((str(item[0]) if item[0] is not None else None, item[1]))
        else:
            out.append((None, item))
    return out


@contextlib.contextmanager
def gc_paused():
    """Pause the cyclic garbage collector (reference counting still frees memory).

    Indexing allocates many small objects while thousands of parsed documents are alive; each
    full collection would traverse all of them again (about two thirds of the run time on
    10,000 documents). The code run inside creates no reference cycles.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def match(documents, components, options=None) -> dict:
    """Match ``components`` against CSAF ``documents``.

    ``documents``: parsed CSAF documents (dicts) or ``(source, document)`` pairs; ``source``
    (a path or URL) is echoed in the results. ``components``: see
    :func:`validate_components`. ``options``: ``validate`` (run
    ``csaf_document.validate``; invalid documents are rejected, default True), ``schema``
    (include the JSON schema in that validation, default True), ``vendor_adapters``
    (default ``["nvidia"]``), ``platforms`` (OS keys of advisory entries to consider,
    default ``["linux"]``; entries without an OS always count).

    Returns ``{"findings", "summary", "not_understood", "documents"}``; raises MatchError on
    invalid components/options. Drafts, invalid and non-CSAF documents are rejected (listed
    with reasons), older revisions of a document are superseded by the newest one.
    """
    with gc_paused():
        return _match(documents, components, options)


def _match(documents, components, options=None) -> dict:
    """Worker of :func:`match`."""
    opts = validate_options(options)
    comps = validate_components(components)
    if opts["validate"] and opts["schema"] and not getattr(_doc, "HAS_JSONSCHEMA", True):
        raise MatchError("schema validation needs the Python packages jsonschema and referencing on the controller "
                         "(%s); install them or set schema=false" % getattr(_doc, "JSONSCHEMA_IMPORT_ERROR", ""))
    indexer = _Indexer(opts)
    rejected = []
    newest = {}
    superseded = []
    for source, doc in _normalize_documents(documents):
        meta_id = None
        if isinstance(doc, dict):
            tracking = _as_dict(_as_dict(doc.get("document")).get("tracking"))
            meta_id = tracking.get("id") if isinstance(tracking.get("id"), str) else None
        try:
            d = indexer.index(doc, source)
        except _Reject as exc:
            rejected.append({"source": source, "tracking_id": meta_id, "reasons": exc.reasons})
            continue
        except (AttributeError, KeyError, TypeError, ValueError, RecursionError) as exc:
            # Malformed input that validation was told not to check.
            rejected.append({"source": source, "tracking_id": meta_id,
                             "reasons": ["malformed document (%s: %s)" % (type(exc).__name__, exc)]})
            continue
        old = newest.get(d.key)
        if old is None:
            newest[d.key] = d
        else:
            keep, drop = (d, old) if d.sort_key > old.sort_key else (old, d)
            newest[d.key] = keep
            superseded.append({"source": drop.source, "tracking_id": drop.meta.get("tracking_id"),
                               "version": drop.meta.get("version"), "superseded_by": keep.source})
    docs = sorted(newest.values(), key=lambda x: (_natural(x.meta.get("tracking_id")), x.source or ""))
    by_component = {}
    for d in docs:
        for name in d.statements:
            by_component.setdefault(name, []).append(d)
    findings = []
    summary = {}
    for comp in comps:
        state = _MatchState(comp)
        mentioned = by_component.get(comp["name"], [])
        for d in mentioned:
            status, finding = _match_document(d, comp, indexer)
            tid = d.meta.get("tracking_id")
            if status == "affected":
                state.findings.append(finding)
            elif status == "ok":
                state.ok.append(tid)
            elif status == "under_investigation":
                state.under_investigation.append(tid)
            else:
                state.no_statement.append(tid)
        required = _required_version(state.findings, comp["version"])
        unfixed = [f["tracking_id"] for f in state.findings if f["fixed_version"] is None or f["unfixed_cves"]]
        if state.findings:
            status = "affected"
        elif state.under_investigation:
            status = "under_investigation"
        elif state.no_statement and not state.ok:
            status = "no_statement"
        elif state.ok:
            status = "not_affected"
        else:
            status = "not_covered"
        summary[comp["key"]] = {
            "name": comp["name"],
            "family": comp["family"],
            "installed_version": comp["version"],
            "branch": comp["branch"],
            "status": status,
            "required_version": required,
            "finding_count": len(state.findings),
            "findings": [f["tracking_id"] for f in state.findings],
            "unfixed": unfixed,
            "no_statement": state.no_statement,
            "under_investigation": state.under_investigation,
            "not_affected": state.ok,
            "uncertain": any(f["uncertain"] for f in state.findings),
        }
        findings.extend(state.findings)
    for f in findings:
        del f["_affected_entries"]
    # Drop not-understood notes of superseded revisions.
    live_sources = {(d.meta.get("tracking_id"), d.source) for d in docs}
    not_understood = [n for n in indexer.not_understood if (n["document"], n["source"]) in live_sources]
    return {
        "findings": findings,
        "summary": summary,
        "not_understood": not_understood,
        "documents": {"loaded": len(docs), "rejected": rejected, "superseded": superseded},
    }
