# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Match installed GPU host components against CSAF 2.0 advisories (controller side).

:func:`match` takes parsed CSAF documents and a list of installed components
(``{"name", "version", "family"?, "branch"?}``) and returns findings, a per-component
summary, everything it could not read (``not_understood``, also per component) and document
bookkeeping.

Semantics (CSAF 2.0 §3.2.3.9, reference notes §2, docs/csaf.md):

* ``first_affected``, ``known_affected``, ``last_affected``: affected -> a finding;
* ``first_fixed``, ``fixed``: contains a fix; ``recommended``: the vendor-preferred fix;
* ``known_not_affected``: not affected; ``under_investigation``: reported;
* a component a document does not list has **no statement** from it: it is never read as
  "not affected" (reported as ``no_statement``);
* **fail closed**: a document that names the component but could not be used for it - a
  product text outside the whitelist, a version that cannot be compared (another numbering
  scheme, a pre-release where the scheme has none), a document rejected by validation or by
  ``csaf_sync`` - makes the component ``undecided``, which outranks ``not_affected``;
* NVIDIA driver bulletins list the branches they fix and say that earlier branches not
  listed might also be affected: a driver on such a branch (older than a listed one) is
  affected, and only a branch change fixes it (``branch_change_required``).

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
    "STATUSES",
    "STATUS_ROLES",
    "VENDOR_ADAPTERS",
    "component_from_identifiers",
    "gc_paused",
    "match",
    "named_components",
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

#: Summary statuses, strongest first (a component takes the first that applies).
STATUSES = ("affected", "undecided", "under_investigation", "no_statement", "not_affected", "not_covered")

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
    "strict": False,
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
    "strict": {"type": "bool", "default": False},
    "vendor_adapters": {"type": "list", "elements": "str", "default": ["nvidia"], "choices": list(VENDOR_ADAPTERS)},
    "platforms": {"type": "list", "elements": "str", "default": ["linux"], "choices": list(PLATFORMS)},
}

# Restart categories of CSAF 2.0 remediations, least to most disruptive.
_RESTART_ORDER = ("none", "vulnerable_component", "service", "parent", "child", "dependencies",
                  "connected", "machine", "zone", "system")
_MAX_REASONS = 20  # validation errors kept per rejected document
#: Components compared on their first release parts only: TensorRT builds (10.16.1.11) belong to
#: the release NVIDIA's bulletins name (10.16.1).
_RELEASE_PARTS = {"tensorrt": 3}


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

#: An installed version: dot-separated integers, optional ``v`` prefix, optional PEP 440
#: pre-release (``1.3.0rc17``, ``1.17.0-rc.1``, ``2.0.0b2``, ``1.2.0.dev3``).
_VERSION_RE = re.compile(
    r"^[vV]?(?P<rel>\d+(?:\.\d+)*)(?:[-_.]?(?P<pl>alpha|a|beta|b|preview|pre|c|rc|dev)[-_.]?(?P<pn>\d*))?$", re.I)
_PRE_CANON = {"alpha": "a", "a": "a", "beta": "b", "b": "b", "preview": "rc", "pre": "rc", "c": "rc", "rc": "rc",
              "dev": ".dev"}
_BRANCH_RE = re.compile(r"^[Rr](\d{3,4})$")


def _canonical_version(text):
    """``(version, is_pre_release)`` in canonical form, or None: ``v1.3.0-rc.17`` -> ``1.3.0rc17``."""
    m = _VERSION_RE.match(text) if isinstance(text, str) else None
    if not m:
        return None
    version = m.group("rel")
    if m.group("pl") is None:
        return version, False
    return "%s%s%d" % (version, _PRE_CANON[m.group("pl").lower()], int(m.group("pn") or 0)), True


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
    for key in ("validate", "schema", "strict"):
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
    optional ``v`` prefix is dropped, a PEP 440 pre-release suffix is kept in canonical form:
    ``1.3.0-rc.17`` -> ``1.3.0rc17``), ``family`` (required for ``nvidia_driver``: one of
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
        canonical = _canonical_version(version)
        if canonical is None:
            problems.append("%s: version %r must be dot-separated integers such as '535.183.01' or '1.17.8', "
                            "optionally with a pre-release suffix such as '1.3.0rc17'" % (where, version))
            continue
        version = canonical[0]
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


def _prepare(comp):
    """A validated component with what matching needs: comparison version, scheme, numbering line."""
    out = dict(comp)
    version = comp["version"]
    parts = _RELEASE_PARTS.get(comp["name"])
    m = re.match(r"^(\d+(?:\.\d+)*)(.*)$", version)
    release, suffix = m.group(1), m.group(2)
    if parts and release.count(".") >= parts:
        version = ".".join(release.split(".")[:parts]) + suffix
    out["_cmp"] = version
    out["_scheme"] = _nv.component_scheme(comp["name"])
    out["_pre"] = bool(suffix)
    try:
        out["_line"] = _nv.version_line(comp["name"], version)
    except _nv.NotUnderstood as exc:
        out["_line"] = "unknown"
        out["_line_problem"] = exc.reason
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


# ---------------------------------------------------------------------------
# Conditions and index entries
# ---------------------------------------------------------------------------

class _Entry:
    """One product of one document, read into a condition on one component."""

    __slots__ = ("component", "family", "families", "oses", "branch", "range", "vers", "scheme", "line",
                 "fix_version", "release", "uncertain", "qualifier", "text", "pattern", "label", "notes", "keys",
                 "bound")

    def __init__(self, component, family, families, oses, branch, range, vers, fix_version, release,  # noqa: A002
                 uncertain, qualifier, text, pattern, label, notes, keys=False, line=None,
                 bound=None):  # pylint: disable=redefined-builtin
        self.component = component
        self.family = family
        self.families = families
        self.oses = oses
        self.branch = branch
        self.range = range
        self.vers = vers
        self.scheme = getattr(range, "scheme", None)
        self.line = line
        self.fix_version = fix_version
        self.release = release
        self.uncertain = uncertain
        self.qualifier = qualifier
        self.text = text
        self.pattern = pattern
        self.label = label
        self.notes = notes
        self.bound = bound
        self.keys = _range_keys(range) if keys is False else keys

    def contains(self, version):
        """vers containment; intdot/pypi ranges use cached comparison keys (same result as VersRange.contains).

        Raises VersError when the version cannot be ordered in the range's scheme. A pre-release
        under ``intdot`` (which would read ``1.3.0rc17`` as ``1.3.0``) is refused by the caller.
        """
        if self.keys is None:
            return self.range.contains(version)
        return _keys_contain(self.keys, _KEYFUNCS[self.scheme](version))

    def applies_to(self, comp) -> bool:
        if self.families is not None and comp["family"] not in self.families:
            return False
        if self.branch is not None and comp["branch"] is not None and self.branch != comp["branch"]:
            return False
        return True


_ikey = functools.lru_cache(maxsize=65536)(_vers.intdot_key)
_KEYFUNCS = {"intdot": _ikey, "pypi": _vers.pypi_key}
_LOWER = (">", ">=")
_UPPER = ("<", "<=")


def _range_keys(rng):
    """Precomputed (all, equalities, bounds) of an intdot or pypi VersRange for :func:`_keys_contain`, else None."""
    keyfunc = _KEYFUNCS.get(getattr(rng, "scheme", None))
    if keyfunc is None:
        return None
    cons = rng.constraints
    if len(cons) == 1 and cons[0][0] == "*":
        return (True, (), ())
    eqs = tuple((c, keyfunc(v)) for c, v in cons)
    bounds = tuple((c, k) for c, k in eqs if c not in ("=", "!="))
    return (False, eqs, bounds)


def _intdot_keys(rng):
    """Backward-compatible name of :func:`_range_keys` for intdot ranges (None for other types)."""
    return _range_keys(rng) if getattr(rng, "scheme", None) == "intdot" else None


def _keys_contain(keys, vkey):
    """The vers-spec containment algorithm (as vers.VersRange.contains) on precomputed keys."""
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


_intdot_contains = _keys_contain

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


_SUBPRODUCT_EXEMPT = ("firmware", "nvidia_vbios")


def _entry_from_nvidia(label, arch, name, role_kind_role, platforms):
    """NVIDIA adapter -> _Entry, None (other platform) or raises NotUnderstood."""
    adapted = _nv.adapt(label, arch, name, role_kind_role, True, platforms)
    if adapted is None:
        return None
    cond = adapted["condition"]
    rng, keys = _adapter_range(cond["scheme"], tuple(cond["constraints"]))
    notes = ()
    uncertain = cond["uncertain"]
    platform = adapted["platform"]
    if (platform and not adapted["oses"] and adapted["component"] not in _SUBPRODUCT_EXEMPT
            and not re.match(r"^(?:all|all platforms|any|n/?a)$", platform, re.I)):
        # "DALI Backend" > "Triton Inference Server": only that part of the product is named.
        uncertain = True
        notes = ("the advisory names %s of %s only" % (platform, adapted["label"]),)
    return _Entry(
        component=adapted["component"], family=adapted["family"],
        families=_families(adapted["component"], adapted["families"], platform, adapted["label"]),
        oses=adapted["oses"], branch=adapted["branch"], range=rng, vers=cond["vers"], fix_version=cond["fix_version"],
        release=cond["release"], uncertain=uncertain, qualifier=cond["qualifier"], text=cond["text"],
        pattern=cond["pattern"], label=adapted["label"], notes=notes, keys=keys, line=adapted["line"],
        bound=cond.get("bound"),
    )


@functools.lru_cache(maxsize=65536)
def _adapter_range(scheme, constraints):
    """(VersRange, containment keys) of a range the NVIDIA adapter generated (canonical by construction)."""
    rng = _vers.VersRange(scheme, list(constraints))
    return rng, _range_keys(rng)


@functools.lru_cache(maxsize=4096)
def _families(component, families, platform, label):
    """Family names a component may give for an adapter entry (None: any family)."""
    if not families:
        return None
    if isinstance(families, str):
        families = (families,)
    names = set(families)
    if component in ("firmware", "nvidia_vbios") and platform:
        names.add(_nv.slug("%s %s" % (platform, label)))
    return frozenset(names)


_RANGE_WORDS_RE = re.compile(r"(?:<|>|\b(?:after|all|before|earlier|later|prior|versions)\b)", re.I)


def _classify_generic(product, products):
    """(component, family or families, identifier version, label, version branch item) of a generic product."""
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
    return classified, id_version, label, version_item


def _entry_from_generic(product, role, products):
    """Generic CSAF path -> _Entry or raises NotUnderstood (None when not in the vocabulary)."""
    classified, id_version, label, version_item = _classify_generic(product, products)
    if classified is None:
        return None
    component, family = classified
    families = _nv.label_families(family)
    context = {"component": component, "families": families or None, "oses": (), "branch": None, "label": label}
    uncertain = False
    notes = []
    if version_item is not None and version_item["category"] == "product_version_range":
        text = version_item.get("name") or ""
        try:
            rng = _parse_vers(text)
        except _vers.VersError as exc:
            try:
                rng = _vers.parse_vls(text, _nv.component_scheme(component))
            except _vers.VersError:
                raise _nv.NotUnderstood("product_version_range %r is neither vers nor readable vls (%s)" % (text, exc),
                                        "condition", context)
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
                                    % component, "condition", context)
        if _RANGE_WORDS_RE.search(text):
            raise _nv.NotUnderstood("product_version %r holds a range, not one version (CSAF 6.1.31)" % text,
                                    "condition", context)
        canonical = _canonical_version(text.strip())
        if canonical is None:
            raise _nv.NotUnderstood("product_version %r of %s is not a version of dot-separated integers"
                                    % (text, component), "condition", context)
        scheme = _nv.component_scheme(component)
        if canonical[1] and scheme == "intdot":
            raise _nv.NotUnderstood("product_version %r of %s is a pre-release, which has no defined order in its "
                                    "numbering" % (text, component), "condition", context)
        ver = canonical[0]
        rng = _parse_vers("vers:%s/%s" % (scheme, ver))
        fix_version = ver if role in ("fixed", "recommended") else None
        vers_text = str(rng)
    branch = _single_branch(rng) if component in _nv.BRANCHED_COMPONENTS else None
    line = None
    if component in _nv.VERSION_LINES:
        try:
            lines = {_nv.version_line(component, v) for c, v in rng.constraints if c != "*"}
        except _nv.NotUnderstood as exc:
            raise _nv.NotUnderstood(exc.reason, "condition", context)
        if len(lines) > 1:
            raise _nv.NotUnderstood("range %r mixes the numbering schemes %s of %s" % (
                vers_text, " and ".join(sorted(lines)), component), "condition", context)
        line = lines.pop() if lines else None
    return _Entry(
        component=component, family=families[0] if families else None, families=frozenset(families) or None,
        oses=(), branch=branch, range=rng, vers=vers_text, fix_version=fix_version, release=None, uncertain=uncertain,
        qualifier=None, text=text, pattern="generic", label=label or product.get("name"), notes=notes, line=line,
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


def named_components(doc) -> list:
    """Components of the vocabulary a document names anywhere in its product tree (sorted).

    Used to report a document that cannot be used (rejected, invalid) for every component it
    names. Reads NVIDIA-style labels (``product_version`` branches, with the architecture for
    firmware) and the generic product names, purl and CPE helpers; never raises. None when the
    document has no readable product tree at all.
    """
    try:
        if not isinstance(doc, dict) or not isinstance(doc.get("product_tree"), dict):
            return None
        products = _doc.flatten_product_tree(doc)
        names = set()
        for product in products.values():
            path = product.get("path") or []
            arch = None
            for item in path:
                if item.get("category") == "architecture":
                    arch = item.get("name")
            for item in path:
                if item.get("category") in ("product_version", "product_name", "product_family"):
                    found = _nv.classify_label(item.get("name") or "", arch)
                    if found:
                        names.add(found[0])
            classified = _classify_generic(product, products)[0]
            if classified:
                names.add(classified[0])
        return sorted(names)
    except (AttributeError, KeyError, TypeError, ValueError, RecursionError):
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


class _Doc:
    __slots__ = ("source", "meta", "key", "sort_key", "url", "nvidia", "aggregate_severity", "vulns", "statements",
                 "unread", "listings")

    def __init__(self):
        self.statements = {}
        self.unread = {}  # component (None: unknown) -> [(note, families, branch)]
        self.listings = {}  # driver family -> (listed branches, other families' branches)


_ALL_PLATFORMS_RE = re.compile(r"^(?:all|all platforms|any|n/?a)$", re.I)


class _Products:
    """Products of a document by id, as ``csaf_document.flatten_product_tree`` gives them, built on demand.

    NVIDIA documents define products in branches only; those are walked once without copying
    (about a third of the indexing time of 10,000 documents went into full flattening). Documents
    with ``full_product_names`` or ``relationships`` are flattened completely.
    """

    __slots__ = ("raw", "full", "built")

    def __init__(self, doc):
        self.raw = {}
        self.built = {}
        self.full = None
        pt = doc.get("product_tree")
        if not isinstance(pt, dict):
            self.full = {}
            return
        if pt.get("full_product_names") or pt.get("relationships"):
            self.full = _doc.flatten_product_tree(doc)
            return
        branches = pt.get("branches")
        # (iterator over sibling branches, path so far, nearest architecture name)
        stack = [(iter(branches if isinstance(branches, list) else ()), (), None)]
        raw = self.raw
        pop, push = stack.pop, stack.append
        while stack:
            siblings, path, arch = stack[-1]
            branch = next(siblings, None)
            if branch is None:
                pop()
                continue
            if branch.__class__ is not dict:
                continue
            cat = branch.get("category")
            name = branch.get("name")
            cat = cat if cat.__class__ is str else ""
            name = name if name.__class__ is str else ""
            here = path + ((cat, name),)
            if cat == "architecture":
                arch = name
            product = branch.get("product")
            if product.__class__ is dict:
                pid = product.get("product_id")
                if pid.__class__ is str and pid and pid not in raw:
                    raw[pid] = (here, product, name if cat == "product_version" else None, arch)
            children = branch.get("branches")
            if children.__class__ is list and children:
                push((iter(children), here, arch))

    def raw_entry(self, pid):
        """(path as ((category, name), ...), full_product_name dict, product_version label or None, nearest
        architecture name or None) of a branch product, else None."""
        return self.raw.get(pid) if self.full is None else None

    def __contains__(self, pid):
        return pid in self.raw if self.full is None else pid in self.full

    def get(self, pid, default=None):
        if self.full is not None:
            return self.full.get(pid, default)
        entry = self.built.get(pid)
        if entry is None:
            raw = self.raw.get(pid)
            if raw is None:
                return default
            path, fpn = raw[0], raw[1]
            name = fpn.get("name")
            helper = fpn.get("product_identification_helper")
            entry = {"product_id": pid, "name": name if isinstance(name, str) else "",
                     "path": [{"category": c, "name": n} for c, n in path],
                     "helper": dict(helper) if isinstance(helper, dict) else {}, "relationship": None}
            self.built[pid] = entry
        return entry


class _Indexer:
    """Parses documents once; caches adapter results across documents."""

    def __init__(self, opts):
        self.opts = opts
        self.nvidia_enabled = "nvidia" in opts["vendor_adapters"]
        self.platforms = frozenset(opts["platforms"])
        self.cache = {}
        self.not_understood = []
        self.outside = {}  # (tracking id, source) -> {label: count}
        self._noted = set()

    def note(self, meta, source, pid, text, reason, component=None, category="condition"):
        """Record a product that cannot be read (once per source, product and reason); returns the note or None."""
        key = (source, meta.get("tracking_id"), pid, reason)
        if key in self._noted:
            return None
        self._noted.add(key)
        note = {
            "document": meta.get("tracking_id"), "source": source, "product_id": pid,
            "text": text, "reason": reason, "component": component, "category": category,
        }
        self.not_understood.append(note)
        return note

    def outside_vocabulary(self, meta, source, label):
        per_doc = self.outside.setdefault((meta.get("tracking_id"), source), {})
        label = _nv._norm(label) or "(no product_version label)"  # pylint: disable=protected-access
        per_doc[label] = per_doc.get(label, 0) + 1

    def _classify(self, pid, role, products, nvidia):
        if nvidia:
            raw = products.raw_entry(pid)
            if raw is not None:
                pname, label, arch = raw[1].get("name"), raw[2], raw[3]
            else:
                product = products.get(pid)
                path = product.get("path") or ()
                label = path[-1].get("name") if path and path[-1].get("category") == "product_version" else None
                arch = None
                for step in path:
                    if step.get("category") == "architecture":
                        arch = step.get("name")  # the nearest one wins
                pname = product.get("name")
            if label is not None:
                kind = _nv.ROLE_KINDS[role]
                pname = pname if isinstance(pname, str) else ""
                key = (label, arch, pname, kind)
                cached = self.cache.get(key)
                if cached is None:
                    if isinstance(label, str) and _VERSION_RE.match(label.strip()):
                        cached = ("generic", None)  # a real product_version: the generic path reads it
                    else:
                        try:
                            cached = ("ok", _entry_from_nvidia(label, arch, pname, "fixed" if kind == "fix"
                                                               else "affected", self.platforms))
                        except _nv.NotUnderstood as exc:
                            cached = ("nu", exc)
                    self.cache[key] = cached
                status, value = cached
                if status == "ok":
                    return value  # shared between products with the same label/architecture/text
                if status == "nu":
                    raise value
        return _entry_from_generic(products.get(pid), role, products)

    def index(self, doc, source):
        if not isinstance(doc, dict) or not isinstance(doc.get("document"), dict):
            raise _Reject(["not a CSAF document (no /document object)"])
        meta = _doc.document_meta(doc)
        if meta.get("status") == "draft":
            raise _Reject(["tracking.status is 'draft': drafts are never acted on"])
        if self.opts["validate"]:
            report = _doc.validate(doc, schema=self.opts["schema"], accept_date_only=not self.opts["strict"])
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
        products = _Products(doc)
        entries = {}  # (product id, role kind) -> _Entry | None
        for (pid, role), vidxs in refs.items():
            ekey = (pid, _nv.ROLE_KINDS[role])
            if ekey in entries:
                entry = entries[ekey]
            else:
                entry = None
                if pid not in products:
                    note = self.note(meta, source, pid, None, "product id is referenced but not defined (CSAF 6.1.1)",
                                     category="reference")
                    if note is not None:
                        d.unread.setdefault(None, []).append((note, None, None))
                else:
                    try:
                        entry = self._classify(pid, role, products, nvidia)
                    except _nv.NotUnderstood as exc:
                        self._not_understood(d, products.get(pid), exc)
                entries[ekey] = entry
            if entry is not None:
                d.statements.setdefault(entry.component, []).append((role, entry, pid, vidxs))
        return d

    def _not_understood(self, d, product, exc):
        ctx = exc.context or {}
        if exc.category == "product":
            label = ctx.get("label")
            if label is None:
                path = product.get("path") or []
                label = next((i.get("name") for i in reversed(path) if i.get("category") == "product_version"), None)
            self.outside_vocabulary(d.meta, d.source, label)
            return
        component = ctx.get("component") or _guess_component(product)
        note = self.note(d.meta, d.source, product.get("product_id"), product.get("name"), exc.reason, component,
                         exc.category)
        if note is not None:
            families = ctx.get("families")
            d.unread.setdefault(component, []).append(
                (note, frozenset(families) if families else None, ctx.get("branch")))


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

def _cmp(scheme, a, b):
    return _vers.compare(scheme, a, b)


def _max_version(versions, scheme="intdot"):
    best = None
    for v in versions:
        if best is None or _vers.compare(scheme, v, best) > 0:
            best = v
    return best


def _natural(text):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text or "")]


def _branch_number(branch):
    return int(branch[1:])


class _MatchState:
    def __init__(self, comp):
        self.comp = comp
        self.findings = []
        self.no_statement = []
        self.under_investigation = []
        self.ok = []
        self.undecided = []  # (tracking id or source, reason dict)
        self.not_understood = []
        self.rejected = []


def _reason(d, text, category, note=None):
    out = {"document": d.meta.get("tracking_id"), "source": d.source, "reason": text, "category": category}
    if note is not None:
        out["product_id"] = note["product_id"]
        out["text"] = note["text"]
    return out


def _unread_for(d, comp):
    """Not-understood notes of a document that concern this component (family and branch included)."""
    out = []
    for component in (comp["name"], None):
        for note, families, branch in d.unread.get(component, ()):
            if families is not None and comp["family"] not in families:
                continue
            if branch is not None and comp["branch"] is not None and comp["branch"] not in (
                    branch if isinstance(branch, tuple) else (branch,)):
                continue
            out.append(note)
    return out


#: Bare-metal driver families share one Linux driver per branch; the vGPU guest driver and the
#: vGPU Manager are separate software with their own release lines.
_BARE_METAL = frozenset(("datacenter", "geforce", "rtx"))


def _driver_listing(d, family):
    """Branches a document lists for a driver family: ``({branch: {"affected": vidxs, "fixes": {vidx: [v]}}},
    branches listed only for other bare-metal families)``."""
    cached = d.listings.get(family)
    if cached is not None:
        return cached
    listed = {}
    other = set()
    group = _BARE_METAL if family in _BARE_METAL else frozenset((family,))
    for role, e, _pid, vidxs in d.statements.get("nvidia_driver", ()):
        if e.branch is None:
            continue
        if e.families is None or family in e.families:
            rec = listed.setdefault(e.branch, {"affected": set(), "fixes": {}})
            if role == "affected":
                rec["affected"].update(vidxs)
            elif role in ("fixed", "recommended") and e.fix_version is not None:
                for v in vidxs:
                    rec["fixes"].setdefault(v, []).append(e.fix_version)
        elif e.families & group:
            other.add(e.branch)
    cached = (listed, other - set(listed))
    d.listings[family] = cached
    return cached


def _branch_target(rec):
    """Version on a listed branch that fixes every vulnerability the document lists for it, None if one has no fix."""
    need = None
    for vidx in rec["affected"]:
        fixes = rec["fixes"].get(vidx)
        if not fixes:
            return None
        first = min(fixes, key=_ikey)
        if need is None or _ikey(first) > _ikey(need):
            need = first
    return need


def _match_document(d, comp, indexer):
    """Return ``(status, finding or None, [undecided reasons])``; status: affected, ok, no_statement,
    under_investigation or undecided."""
    version = comp["_cmp"]
    reasons = [_reason(d, n["reason"], n["category"], n) for n in _unread_for(d, comp)]
    all_stmts = d.statements.get(comp["name"], ())
    if d.nvidia and comp["name"] == "nvidia_driver" and comp["branch"] is not None:
        listed, other = _driver_listing(d, comp["family"])
        if listed and comp["branch"] not in listed:
            if _branch_number(comp["branch"]) < max(_branch_number(b) for b in listed):
                return "affected", _branch_change_finding(d, comp, listed), reasons
            if comp["branch"] in other:
                text = ("the advisory lists %s only for other driver families than %s; it makes no statement for "
                        "%s on this branch" % (comp["branch"], comp["family"], comp["family"]))
                reasons.append(_reason(d, text, "family"))
    stmts = []
    incomparable = []
    for s in all_stmts:
        if not s[1].applies_to(comp):
            continue
        if s[1].line is not None and comp["_line"] is not None and s[1].line != comp["_line"]:
            incomparable.append(s)
        else:
            stmts.append(s)
    if not stmts:
        if incomparable:
            reasons.append(_reason(d, "%s %s is a %s version; the advisory gives only %s versions (%s); versions of "
                                   "different numbering schemes are never compared" % (
                                       comp["name"], comp["version"], comp["_line"],
                                       "/".join(sorted({s[1].line for s in incomparable})),
                                       "; ".join(sorted({s[1].text for s in incomparable})[:3])), "scheme"))
        return ("undecided" if reasons else "no_statement"), None, reasons
    affected = {}  # vidx -> [(entry, product_id)]
    covered = False
    investigating = False
    contradictions = set()
    bounds = []
    contains = {}
    for role, entry, pid, vidxs in stmts:
        key = id(entry)
        if key not in contains:
            try:
                if comp["_pre"] and entry.scheme == "intdot":
                    raise _vers.VersError("the pre-release %s has no defined order in the intdot range %s"
                                          % (comp["version"], entry.vers))
                if comp["_line"] == "unknown":
                    raise _vers.VersError(comp.get("_line_problem") or "unknown numbering scheme")
                contains[key] = entry.contains(version)
            except _vers.VersError as exc:
                text = "installed version %s cannot be compared with %s: %s" % (comp["version"], entry.vers, exc)
                note = indexer.note(d.meta, d.source, pid, entry.text, text, comp["name"], "comparison")
                reasons.append(_reason(d, text, "comparison", note or {"product_id": pid, "text": entry.text}))
                contains[key] = False
            if not contains[key] and role == "affected" and entry.bound is not None:
                try:
                    if _cmp(entry.scheme or comp["_scheme"], version, entry.bound) == 0:
                        bounds.append(entry)
                except _vers.VersError:
                    pass
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
    if bounds and not covered and not affected:
        reasons.append(_reason(d, "%r leaves open whether %s itself is affected, and the advisory lists no fix "
                               "covering it" % (bounds[0].text, comp["version"]), "condition"))
    if not covered and not affected and not bounds:
        gap = _gap(stmts, version)
        if gap is not None:
            reasons.append(_reason(d, "%s lies above the affected range(s) %s but below the first fixed version %s of "
                                   "the same vulnerability; the advisory makes no statement on it" % (
                                       comp["version"], ", ".join(repr(e.text) for e in gap[0][:3]),
                                       gap[1].fix_version), "condition"))
    if not affected:
        if reasons:
            return "undecided", None, reasons
        if covered:
            return "ok", None, reasons
        return ("under_investigation" if investigating else "no_statement"), None, reasons
    return "affected", _finding(d, comp, stmts, affected, contradictions), reasons


def _gap(stmts, version):
    """(affected entries, fix entry) when ``version`` lies between a vulnerability's affected ranges and its fix.

    "All versions prior to CUDA Toolkit v12.4" with the fix "CUDA Toolkit v12.4U1" (5517) says nothing about
    12.4 itself: that is no statement, never "not affected".
    """
    affected = {}
    for role, e, _pid, vidxs in stmts:
        if role == "affected":
            for v in vidxs:
                affected.setdefault(v, []).append(e)
    if not affected:
        return None
    for role, e, _pid, vidxs in stmts:
        if role not in ("fixed", "recommended") or e.fix_version is None:
            continue
        for v in vidxs:
            entries = affected.get(v)
            if not entries:
                continue
            try:
                if _cmp(e.scheme, version, e.fix_version) >= 0:
                    continue
                if all(_above(a, version) for a in entries):
                    return entries, e
            except _vers.VersError:
                continue
    return None


def _above(entry, version):
    """True when ``version`` lies above every version of an affected range with an upper end."""
    cons = entry.range.constraints if entry.range is not None else []
    if not cons or cons[-1][0] in ("*", ">", ">=", "!="):
        return False
    comp, top = cons[-1]
    c = _cmp(entry.scheme, version, top)
    return c > 0 or (c == 0 and comp == "<")


def _document_fields(d, comp):
    meta = d.meta
    return {
        "tracking_id": meta.get("tracking_id"),
        "document_version": meta.get("version"),
        "title": meta.get("title"),
        "publisher": meta.get("publisher_name"),
        "source": d.source,
        "url": d.url,
        "component": comp["name"],
        "component_key": comp["key"],
        "family": comp["family"],
        "branch": comp["branch"],
        "installed_version": comp["version"],
    }


def _severity(d, vidxs, affected_ids):
    """(severity, base score, CVSS version): the newest CVSS version, then the highest base score."""
    candidates = []
    for vidx in vidxs:
        scores = d.vulns[vidx].scores
        relevant = [s for s in scores if s[0] & affected_ids] or scores
        candidates.extend(relevant)
    if candidates:
        best = max(candidates, key=lambda s: (s[1], s[2]))
        return best[3], best[2], ".".join(str(p) for p in best[1])
    return d.aggregate_severity, None, None


def _branch_change_finding(d, comp, listed):
    """Finding for a driver on a branch the bulletin does not list although it lists a newer one."""
    installed = _branch_number(comp["branch"])
    newer = sorted((b for b in listed if _branch_number(b) > installed), key=_branch_number)
    branch_fixes = {b: _branch_target(listed[b]) for b in newer}
    vidxs = set()
    affected_ids = set()
    products = []
    for role, e, pid, evidxs in d.statements.get("nvidia_driver", ()):
        if role == "affected" and e.branch in branch_fixes and (e.families is None or comp["family"] in e.families):
            vidxs.update(evidxs)
            affected_ids.add(pid)
            item = {"product_id": pid, "text": e.text, "range": e.vers}
            if item not in products:
                products.append(item)
    cves = sorted({d.vulns[v].cve or (d.vulns[v].ids[0] if d.vulns[v].ids else "vulnerability %d" % v)
                   for v in vidxs}, key=_natural)
    severity, base_score, cvss_version = _severity(d, vidxs, affected_ids)
    target = next((branch_fixes[b] for b in newer if branch_fixes[b] is not None), None)
    listed_text = ", ".join(sorted(listed, key=_branch_number))
    out = _document_fields(d, comp)
    out.update({
        "cves": cves,
        "fixed_version": None,
        "fixed_release": None,
        "recommended_version": None,
        "unfixed_cves": cves,
        "severity": severity,
        "base_score": base_score,
        "cvss_version": cvss_version,
        "restart_required": None,
        "remediations": [],
        "uncertain": True,
        "notes": ["the bulletin fixes %s only on %s; NVIDIA states that earlier branches not listed might also be "
                  "affected and recommends the latest release of a listed branch: a branch change is needed"
                  % (comp["family"], listed_text)],
        "affected_products": products,
        "branch_change_required": True,
        "branch_change_version": target,
        "branch_fixes": branch_fixes,
        "_affected_entries": [],
    })
    return out


def _finding(d, comp, stmts, affected, contradictions):
    version = comp["_cmp"]
    scheme = comp["_scheme"]
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
                    if _cmp(e.scheme or scheme, version, e.qualifier["below"]) < 0:
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
                escheme = e.scheme if e.scheme in _KEYFUNCS or e.scheme in ("semver", "deb") else scheme
                try:
                    if _cmp(escheme, e.fix_version, version) <= 0:
                        continue
                    if any(a.contains(e.fix_version) for a in entries):
                        if role_name == "fixed":
                            notes.append("the advisory lists %s as fixed but also inside its affected range %r; "
                                         "it is not used as a fix" % (e.fix_version, entries[0].text))
                        continue
                    if best is None or _cmp(escheme, e.fix_version, best[0].fix_version) < 0:
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
    fixed_version = _safe_max(fixes.values(), scheme)
    recommended_version = _safe_max(recommended.values(), scheme)
    fixed_release = None
    if fixed_version is not None:
        fixed_release = next((releases[v] for v in releases if fixes.get(v) == fixed_version), None)
    affected_ids = {pid for pairs in affected.values() for _e, pid in pairs}
    severity, base_score, cvss_version = _severity(d, affected, affected_ids)
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
    out = _document_fields(d, comp)
    out.update({
        "cves": cves,
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
        "branch_change_required": False,
        "branch_change_version": None,
        "branch_fixes": {},
        "_affected_entries": [e for pairs in affected.values() for e, _pid in pairs],
    })
    return out


def _same_branch(version, branch):
    try:
        key = _ikey(version)
    except _vers.VersError:
        return False
    return bool(key) and "R%d" % key[0] == branch


def _safe_max(values, scheme="intdot"):
    values = [v for v in values if v is not None]
    if not values:
        return None
    try:
        return _max_version(values, scheme)
    except _vers.VersError:
        return sorted(values)[-1]


def _unique(items):
    out = []
    for i in items:
        if i not in out:
            out.append(i)
    return out


def _required_version(findings, scheme="intdot"):
    """Smallest fixed version fixing every finding that has a fix (None when none has)."""
    fixes = [f["fixed_version"] for f in findings if f["fixed_version"] is not None]
    if not fixes:
        return None
    try:
        ordered = sorted(set(fixes), key=functools.cmp_to_key(lambda a, b: _vers.compare(scheme, a, b)))
    except _vers.VersError:
        return None
    for cand in ordered:
        ok = True
        for f in findings:
            if f["fixed_version"] is not None and _vers.compare(scheme, cand, f["fixed_version"]) < 0:
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


def _branch_change_version(findings, mentioned, comp):
    """Lowest version on a newer listed branch that every bulletin naming the driver family accepts.

    A candidate branch is viable when each NVIDIA bulletin that lists branches for the family
    either lists it (then its fix there is needed; a vulnerability without a fix there rules
    the branch out) or lists only older branches; a bulletin that lists a newer branch but not
    the candidate rules it out ("earlier branches not listed might also be affected").
    """
    candidates = set()
    for f in findings:
        candidates.update(b for b, v in f.get("branch_fixes", {}).items() if v is not None)
    for branch in sorted(candidates, key=_branch_number):
        need = []
        viable = True
        for d in mentioned:
            if not d.nvidia:
                continue
            listed, _other = _driver_listing(d, comp["family"])
            if not listed:
                continue
            if branch in listed:
                target = _branch_target(listed[branch])
                if target is None:
                    viable = False
                    break
                need.append(target)
            elif _branch_number(branch) < max(_branch_number(b) for b in listed):
                viable = False
                break
        if viable and need:
            return _max_version(need)
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


def _normalize_rejected(rejected):
    """Documents rejected before matching (unreadable files, csaf_sync rejections): checked copies."""
    if rejected is None:
        return []
    if not isinstance(rejected, (list, tuple)):
        raise MatchError("rejected must be a list of {source, tracking_id, reasons, components} dicts")
    out = []
    for i, item in enumerate(rejected):
        if not isinstance(item, dict):
            raise MatchError("rejected[%d] must be a dict, got %s" % (i, type(item).__name__))
        components = item.get("components")
        if components is not None and (not isinstance(components, (list, tuple))
                                       or not all(isinstance(c, str) for c in components)):
            raise MatchError("rejected[%d].components must be a list of component names or null" % i)
        reasons = item.get("reasons")
        if reasons is None and isinstance(item.get("reason"), str):
            reasons = [item["reason"]]
        out.append({
            "source": str(item["source"]) if item.get("source") is not None else None,
            "tracking_id": item.get("tracking_id") if isinstance(item.get("tracking_id"), str) else None,
            "reasons": [str(r) for r in (reasons or ["rejected"])],
            "components": list(components) if components is not None else None,
        })
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


def match(documents, components, options=None, rejected=None) -> dict:
    """Match ``components`` against CSAF ``documents``.

    ``documents``: parsed CSAF documents (dicts) or ``(source, document)`` pairs; ``source``
    (a path or URL) is echoed in the results. ``components``: see
    :func:`validate_components`. ``options``: ``validate`` (run
    ``csaf_document.validate``; invalid documents are rejected, default True), ``schema``
    (include the JSON schema in that validation, default True), ``strict`` (reject documents
    with known publisher defects, such as a date-only timestamp, instead of accepting them with
    a warning; default False), ``vendor_adapters`` (default ``["nvidia"]``), ``platforms`` (OS
    keys of advisory entries to consider, default ``["linux"]``; entries without an OS always
    count). ``rejected``: documents that could not be used before matching (unreadable files,
    documents ``csaf_sync`` rejected), ``{source, tracking_id, reasons, components}`` with
    ``components`` the component names they name or None when unknown (then every component).

    Returns ``{"findings", "summary", "not_understood", "outside_vocabulary", "documents"}``;
    raises MatchError on invalid components/options. Drafts, invalid and non-CSAF documents
    are rejected (listed with reasons), older revisions of a document are superseded by the
    newest one. Every rejected document, and every product of a loaded one that could not be
    read, is reported in the summary of each component it names, which is then ``undecided``
    unless it is ``affected``.
    """
    with gc_paused():
        return _match(documents, components, options, rejected)


def _match(documents, components, options=None, rejected=None) -> dict:
    """Worker of :func:`match`."""
    opts = validate_options(options)
    comps = [_prepare(c) for c in validate_components(components)]
    external = _normalize_rejected(rejected)
    if opts["validate"] and opts["schema"] and not getattr(_doc, "HAS_JSONSCHEMA", True):
        raise MatchError("schema validation needs the Python packages jsonschema and referencing on the controller "
                         "(%s); install them or set schema=false" % getattr(_doc, "JSONSCHEMA_IMPORT_ERROR", ""))
    indexer = _Indexer(opts)
    rejected_docs = []  # (entry, document key, sort key)
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
            rejected_docs.append(_rejection(source, meta_id, exc.reasons, doc))
            continue
        except (AttributeError, KeyError, TypeError, ValueError, RecursionError) as exc:
            # Malformed input that validation was told not to check.
            rejected_docs.append(_rejection(source, meta_id, ["malformed document (%s: %s)" % (type(exc).__name__, exc)],
                                            doc))
            continue
        old = newest.get(d.key)
        if old is None:
            newest[d.key] = d
        else:
            keep, drop = (d, old) if d.sort_key > old.sort_key else (old, d)
            newest[d.key] = keep
            superseded.append({"source": drop.source, "tracking_id": drop.meta.get("tracking_id"),
                               "version": drop.meta.get("version"), "superseded_by": keep.source})
    rejected_out = []
    for entry, key, sort_key in rejected_docs:
        keep = newest.get(key) if key is not None else None
        if keep is not None and sort_key is not None and keep.sort_key >= sort_key:
            # An older (or equal) revision that could not be used while a newer one is loaded.
            superseded.append({"source": entry["source"], "tracking_id": entry["tracking_id"],
                               "version": entry.get("_version"), "superseded_by": keep.source,
                               "rejected": entry["reasons"]})
            entry["components"] = []
        rejected_out.append(entry)
    rejected_all = external + rejected_out
    docs = sorted(newest.values(), key=lambda x: (_natural(x.meta.get("tracking_id")), x.source or ""))
    by_component = {}
    for d in docs:
        names = set(d.statements) | {c for c in d.unread if c is not None}
        if None in d.unread:
            names |= set(COMPONENTS) if not names else set()
        for name in names:
            by_component.setdefault(name, []).append(d)
    findings = []
    summary = {}
    for comp in comps:
        state = _MatchState(comp)
        mentioned = by_component.get(comp["name"], [])
        for d in mentioned:
            status, finding, reasons = _match_document(d, comp, indexer)
            tid = d.meta.get("tracking_id")
            if status == "affected":
                state.findings.append(finding)
            elif status == "ok":
                state.ok.append(tid)
            elif status == "under_investigation":
                state.under_investigation.append(tid)
            elif status == "no_statement":
                state.no_statement.append(tid)
            for r in reasons:
                state.undecided.append((tid or d.source, r))
                if "product_id" in r:  # a product that could not be read or compared (not a scheme or gap note)
                    keys = ("document", "source", "product_id", "text", "reason", "category")
                    state.not_understood.append({k: r.get(k) for k in keys})
        for r in rejected_all:
            if r["components"] is None or comp["name"] in r["components"]:
                state.rejected.append({"source": r["source"], "tracking_id": r["tracking_id"],
                                       "reasons": list(r["reasons"])})
                state.undecided.append((r["tracking_id"] or r["source"], {
                    "document": r["tracking_id"], "source": r["source"], "category": "rejected",
                    "reason": "the document could not be used: %s" % "; ".join(r["reasons"][:3])}))
        summary[comp["key"]] = _summary(comp, state, mentioned)
        findings.extend(state.findings)
    for f in findings:
        del f["_affected_entries"]
    # Drop not-understood notes of superseded revisions.
    live_sources = {(d.meta.get("tracking_id"), d.source) for d in docs}
    not_understood = [n for n in indexer.not_understood if (n["document"], n["source"]) in live_sources]
    labels = {}
    outside_docs = 0
    for key, per_doc in indexer.outside.items():
        if key not in live_sources:
            continue
        outside_docs += 1
        for label, count in per_doc.items():
            labels[label] = labels.get(label, 0) + count
    for r in rejected_out:
        r.pop("_version", None)
    return {
        "findings": findings,
        "summary": summary,
        "not_understood": not_understood,
        "outside_vocabulary": {"products": sum(labels.values()), "documents": outside_docs,
                               "labels": dict(sorted(labels.items()))},
        "documents": {"loaded": len(docs), "rejected": rejected_all, "superseded": superseded},
    }


def _rejection(source, tracking_id, reasons, doc):
    """(rejected entry with the components the document names, document key, sort key)."""
    entry = {"source": source, "tracking_id": tracking_id, "reasons": list(reasons), "components": None}
    key = sort_key = None
    if isinstance(doc, dict) and not isinstance(doc.get("document"), dict):
        entry["components"] = []  # not an advisory at all (a CVE record, a provider-metadata.json)
        return entry, key, sort_key
    entry["components"] = named_components(doc)
    try:
        meta = _doc.document_meta(doc)
        publisher = _as_dict(_as_dict(doc["document"]).get("publisher"))
        namespace = publisher.get("namespace")
        key = (namespace if isinstance(namespace, str) else meta.get("publisher_name"), meta.get("tracking_id"))
        sort_key = (_date_key(meta.get("current_release_date")), _version_key(meta.get("version")))
        entry["_version"] = meta.get("version")
    except (AttributeError, KeyError, TypeError, ValueError):
        key = sort_key = None
    return entry, key, sort_key


def _summary(comp, state, mentioned):
    scheme = comp["_scheme"]
    required = _required_version(state.findings, scheme)
    unfixed = [f["tracking_id"] for f in state.findings if f["fixed_version"] is None or f["unfixed_cves"]]
    branch_change = [f["tracking_id"] for f in state.findings if f.get("branch_change_required")]
    undecided_ids = _unique([tid for tid, _r in state.undecided])
    if state.findings:
        status = "affected"
    elif undecided_ids:
        status = "undecided"
    elif state.under_investigation:
        status = "under_investigation"
    elif state.no_statement and not state.ok:
        status = "no_statement"
    elif state.ok:
        status = "not_affected"
    else:
        status = "not_covered"
    reasons = _unique(["%s: %s" % (tid, r["reason"]) for tid, r in state.undecided])
    return {
        "name": comp["name"],
        "family": comp["family"],
        "installed_version": comp["version"],
        "branch": comp["branch"],
        "status": status,
        "required_version": required,
        "finding_count": len(state.findings),
        "findings": [f["tracking_id"] for f in state.findings],
        "unfixed": unfixed,
        "branch_change_required": bool(branch_change),
        "branch_change": branch_change,
        "branch_change_version": _branch_change_version(state.findings, mentioned, comp) if branch_change else None,
        "undecided": undecided_ids,
        "undecided_reasons": reasons,
        "not_understood": state.not_understood,
        "rejected": state.rejected,
        "no_statement": state.no_statement,
        "under_investigation": state.under_investigation,
        "not_affected": state.ok,
        "uncertain": any(f["uncertain"] for f in state.findings),
    }
