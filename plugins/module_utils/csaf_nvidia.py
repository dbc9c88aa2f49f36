# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""NVIDIA vendor adapter for CSAF matching: component vocabulary and free-text conditions.

NVIDIA PSIRT's CSAF 2.0 advisories (github.com/NVIDIA/product-security) carry no version
ranges. Their product tree reads::

    vendor "NVIDIA"
      architecture "Linux(R535)"                 <- operating system + driver branch
        product_version "Tesla"                  <- the product (family) label
          product "All driver versions prior to 535.216.01"   <- the version condition

This module turns such a product into structured facts:

* the component, from a fixed vocabulary (:data:`COMPONENTS`), and for the GPU driver its
  family (:data:`DRIVER_FAMILIES`), from the label;
* the operating system, driver branch (``R535``) and vGPU release line from the
  architecture name (``Linux(R535)``, ``Linux (R535)``, ``Ubuntu(R535 vGPU 16)``);
* a condition: a canonical vers range (``vers:intdot/>=535|<535.216.01``) and, for fixed
  statements, the fixed version; it is produced only by a whitelist of anchored regular
  expressions (:data:`RANGE_PATTERNS`, :data:`FIX_PATTERNS`), each named and unit-tested.

Text no pattern understands raises :class:`NotUnderstood` with a reason. Nothing is guessed:
the matching engine reports such products and never patches from them.

Only the Python standard library is used; the module is pure and side-effect free.
"""

from __future__ import annotations

import functools
import re

from ansible_collections.aisec.gpu_host.plugins.module_utils import vers as _vers
from ansible_collections.aisec.gpu_host.plugins.module_utils.components import COMPONENT_NAMES, DRIVER_FAMILIES

COMPONENTS = COMPONENT_NAMES

__all__ = [
    "ADVISORY_URL",
    "BRANCHED_COMPONENTS",
    "COMPONENTS",
    "DRIVER_FAMILIES",
    "FAMILY_REQUIRED",
    "FIX_PATTERNS",
    "NotUnderstood",
    "RANGE_PATTERNS",
    "ROLE_KINDS",
    "adapt_product",
    "advisory_url",
    "classify_label",
    "is_nvidia_document",
    "normalize_version",
    "parse_architecture",
    "parse_condition",
    "slug",
]


#: Components whose version follows the driver branch (``535.x`` = branch ``R535``).
BRANCHED_COMPONENTS = frozenset(("nvidia_driver", "nvidia_fabric_manager"))

#: Components that need a ``family``: the driver family, or the hardware for firmware/VBIOS.
FAMILY_REQUIRED = frozenset(("nvidia_driver", "nvidia_vbios", "firmware"))

#: Human-readable bulletin page; ``%s`` is the numeric bulletin id (``tracking.id``).
ADVISORY_URL = "https://nvidia.custhelp.com/app/answers/detail/a_id/%s"

#: Status roles: the product_status lists map to one of these; "range" roles describe a set
#: of versions, "fix" roles a version that contains a fix.
ROLE_KINDS = {
    "affected": "range",
    "not_affected": "range",
    "under_investigation": "range",
    "fixed": "fix",
    "recommended": "fix",
}


class NotUnderstood(ValueError):
    """A product or condition the adapter cannot read; ``reason`` says why (never guessed).

    ``category``: ``condition`` (version text), ``architecture`` (OS/branch text) or
    ``product`` (a product outside the component vocabulary).
    """

    def __init__(self, reason: str, category: str = "condition"):
        super().__init__(reason)
        self.reason = reason
        self.category = category


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

_WS_RE = re.compile(r"\s+")
_SLUG_RE = re.compile(r"[^a-z0-9]+")


def _norm(text) -> str:
    """Collapse whitespace and strip; non-strings give ''."""
    if not isinstance(text, str):
        return ""
    return _WS_RE.sub(" ", text).strip()


def slug(text) -> str:
    """Lower-case identifier form of a label: ``'Hopper HGX 8-GPU'`` -> ``'hopper_hgx_8_gpu'``."""
    return _SLUG_RE.sub("_", _norm(text).lower()).strip("_")


_VERSION_TEXT_RE = re.compile(r"^[vV]?(\d+(?:\.\d+)*)$")


def normalize_version(text: str, pad_v_prefixed: bool = True) -> str:
    """Return a version token without its ``v`` prefix.

    ``'v1.17'`` -> ``'1.17.0'`` (a ``v``-prefixed two-part version is a release name such as
    NVIDIA's "v1.17" for 1.17.0; ``pad_v_prefixed`` pads it to three parts), ``'535.183.01'``
    -> ``'535.183.01'`` (leading zeros are kept for display; intdot comparison ignores them).
    Raises NotUnderstood for anything that is not dotted integers.
    """
    m = _VERSION_TEXT_RE.match(text or "")
    if not m:
        raise NotUnderstood("%r is not a version of dot-separated integers" % (text,))
    ver = m.group(1)
    if pad_v_prefixed and text[0] in "vV" and ver.count(".") == 1:
        ver += ".0"
    return ver


def is_nvidia_document(meta: dict, doc: dict = None) -> bool:
    """True when the document was published by NVIDIA (publisher name or namespace)."""
    name = (meta or {}).get("publisher_name") or ""
    if "nvidia" in name.lower():
        return True
    if isinstance(doc, dict):
        document = doc.get("document")
        publisher = document.get("publisher") if isinstance(document, dict) else None
        namespace = publisher.get("namespace") if isinstance(publisher, dict) else None
        if isinstance(namespace, str) and re.match(r"^https?://([a-z0-9-]+\.)*nvidia\.com(/|$)", namespace, re.I):
            return True
    return False


def advisory_url(tracking_id) -> str:
    """Bulletin page for a numeric NVIDIA tracking id, else None."""
    if isinstance(tracking_id, str) and tracking_id.isdigit():
        return ADVISORY_URL % tracking_id
    return None


# ---------------------------------------------------------------------------
# Component vocabulary
# ---------------------------------------------------------------------------

# Order matters: first match wins. Labels are matched case-insensitively after whitespace
# normalisation. Anchored where NVIDIA ships several products with a shared word (NeMo
# Curator/Guardrails, TensorRT Model Optimizer, ...): those stay unknown, not misfiled.
_COMPONENT_PATTERNS = (
    ("dcgm_exporter", re.compile(r"\bdcgm[- ]?exporter\b", re.I)),
    ("nvidia_dcgm", re.compile(r"^(?:nvidia )?(?:data ?center gpu manager|dcgm)(?: \(dcgm\))?$", re.I)),
    ("nvidia_container_toolkit", re.compile(r"^(?:nvidia )?container toolkit$|^libnvidia-container$", re.I)),
    ("nvidia_gpu_operator", re.compile(r"^(?:nvidia )?gpu operator$", re.I)),
    ("k8s_device_plugin", re.compile(r"^(?:nvidia )?(?:kubernetes |k8s )?device plugin$|^k8s-device-plugin$", re.I)),
    ("mig_manager", re.compile(r"^(?:nvidia )?mig manager$", re.I)),
    ("nvidia_fabric_manager", re.compile(r"^(?:nvidia )?fabric ?manager$", re.I)),
    ("cuda_toolkit", re.compile(r"^(?:nvidia )?cuda toolkit\b", re.I)),
    ("tensorrt_llm", re.compile(r"^(?:nvidia )?tensorrt[- ]llm$", re.I)),
    ("tensorrt", re.compile(r"^(?:nvidia )?tensorrt$", re.I)),
    ("triton_inference_server", re.compile(r"^(?:nvidia )?triton inference server(?: \(.*\))?$", re.I)),
    ("nemo_framework", re.compile(r"^(?:nvidia )?nemo(?: framework)?$", re.I)),
    ("dynamo", re.compile(r"^(?:nvidia )?dynamo$", re.I)),
    ("nvidia_vbios", re.compile(r"\bvbios\b", re.I)),
)

# Driver families, checked after the components above. "Cloud Gaming" products share words
# with the vGPU ones but are outside the vocabulary.
_EXCLUDED_LABEL_RE = re.compile(r"cloud gaming", re.I)
_FAMILY_PATTERNS = (
    ("vgpu_guest", re.compile(r"^(?:nvidia )?(?:vgpu )?guest driver$|^vgpu guest$", re.I)),
    ("vgpu_host", re.compile(r"^(?:nvidia )?(?:virtual gpu manager|vgpu manager|vgpu host driver)$", re.I)),
    ("geforce", re.compile(r"^(?:nvidia )?geforce$", re.I)),
    ("rtx", re.compile(r"^(?:nvidia )?(?:rtx|quadro|nvs)(?:, ?(?:rtx|quadro|nvs))*(?:,? and (?:rtx|quadro|nvs))?$", re.I)),
    ("datacenter", re.compile(r"^(?:nvidia )?(?:tesla|data ?center(?: gpu)?(?: driver)?)$", re.I)),
)
# A label naming the driver without a family (generic CSAF): applies to every family.
_DRIVER_RE = re.compile(r"^(?:nvidia )?(?:gpu )?(?:display )?driver$|^nvidia gpu display driver$", re.I)
# Architecture names (or labels) of management controllers and other firmware.
_FIRMWARE_RE = re.compile(r"\b(?:hmc|bmc|firmware|ls10|nvswitch|cec|erot)\b", re.I)


@functools.lru_cache(maxsize=4096)
def classify_label(label: str, architecture: str = None):
    """Map a product label to ``(component, family)``; None when it is not in the vocabulary.

    ``family`` is a :data:`DRIVER_FAMILIES` value for ``nvidia_driver`` (None when the label
    names the driver without a family), the :func:`slug` of the label for ``nvidia_vbios``
    and ``firmware`` (the hardware), else None. ``architecture`` is consulted only for
    firmware and VBIOS (NVIDIA puts ``HMC``/``BMC``/``VBIOS`` there and the hardware, such
    as ``Hopper HGX 8-GPU``, in the label).
    """
    text = _norm(label)
    if not text or _EXCLUDED_LABEL_RE.search(text):
        return None
    for component, regex in _COMPONENT_PATTERNS:
        if regex.search(text):
            if component == "nvidia_vbios":
                return component, slug(text)
            return component, None
    for family, regex in _FAMILY_PATTERNS:
        if regex.search(text):
            return "nvidia_driver", family
    if _DRIVER_RE.search(text):
        return "nvidia_driver", None
    arch = _norm(architecture)
    if arch:
        if re.search(r"\bvbios\b", arch, re.I):
            return "nvidia_vbios", slug(text)
        if _FIRMWARE_RE.search(arch) or _FIRMWARE_RE.search(text):
            return "firmware", slug(text)
    elif _FIRMWARE_RE.search(text):
        return "firmware", slug(text)
    return None


# ---------------------------------------------------------------------------
# Architecture: operating system, driver branch, vGPU line
# ---------------------------------------------------------------------------

_ARCH_RE = re.compile(
    r"^(?P<os>[^()]*?)\s*(?:\(\s*(?P<inner>[^()]*?)\s*\))?$"
)
_BRANCH_RE = re.compile(r"^R(?P<major>\d{3,4})(?:\s+vGPU\s+(?P<vgpu>\d+))?$", re.I)

# Operating-system names seen in architecture branches, mapped to a platform key. Anything
# not listed is taken as a hardware/platform name (HMC, BMC, VBIOS ...), not an OS.
_OS_PATTERNS = (
    ("windows", re.compile(r"\bwindows\b", re.I)),
    ("azure_local", re.compile(r"\bazure (?:local|stack)\b", re.I)),
    ("vmware", re.compile(r"\bvmware\b|\bvsphere\b|\besxi\b", re.I)),
    ("citrix", re.compile(r"\bcitrix\b|\bxenserver\b", re.I)),
    ("nutanix", re.compile(r"\bnutanix\b", re.I)),
    ("freebsd", re.compile(r"\bfreebsd\b", re.I)),
    ("solaris", re.compile(r"\bsolaris\b", re.I)),
    ("android", re.compile(r"\bandroid\b", re.I)),
    ("linux", re.compile(
        r"\blinux\b|\bubuntu\b|\bdebian\b|\brhel\b|\bred hat\b|\bsuse\b|\bsles\b|\bcentos\b|\brocky\b"
        r"|\balmalinux\b|\boracle linux\b|\bfedora\b|\bopenshift\b|\bkvm\b",
        re.I,
    )),
)


def parse_architecture(name: str) -> dict:
    """Read an NVIDIA architecture branch name.

    Returns ``{"os", "platform", "branch", "vgpu", "raw"}``: ``os`` is a platform key
    (``linux``, ``windows``, ``vmware``, ``citrix``, ``azure_local`` ...) or None when the
    name is not an operating system (``All``, ``HMC``); ``platform`` is the name outside the
    parentheses; ``branch`` is ``R535`` for ``(R535 ...)``; ``vgpu`` the vGPU release line
    (``16`` for ``R535 vGPU 16``). ``Linux(R535)``, ``Linux (R535)`` and
    ``Linux(R550 vGPU 17)`` are understood. Parenthesised text that is not a branch raises
    NotUnderstood.
    """
    return dict(_parse_architecture(name if isinstance(name, str) else ""))


@functools.lru_cache(maxsize=4096)
def _parse_architecture(name: str) -> dict:
    """Cached worker of :func:`parse_architecture` (callers get a copy)."""
    raw = _norm(name)
    out = {"os": None, "platform": raw or None, "branch": None, "vgpu": None, "raw": raw}
    if not raw:
        return out
    m = _ARCH_RE.match(raw)
    if not m:
        raise NotUnderstood("architecture %r is not of the form 'OS(Rnnn)' or 'OS'" % (raw,), "architecture")
    platform = m.group("os").strip()
    inner = m.group("inner")
    out["platform"] = platform or None
    if inner is not None:
        b = _BRANCH_RE.match(inner)
        if not b:
            raise NotUnderstood("architecture %r: %r is not a driver branch such as 'R535' or 'R550 vGPU 17'"
                                % (raw, inner), "architecture")
        out["branch"] = "R%d" % int(b.group("major"))
        out["vgpu"] = b.group("vgpu")
    if platform.lower() in ("all", "all platforms", "any"):
        return out
    for key, regex in _OS_PATTERNS:
        if regex.search(platform):
            out["os"] = key
            break
    return out


# ---------------------------------------------------------------------------
# Conditions: the whitelist
# ---------------------------------------------------------------------------

_V = r"[vV]?\d+(?:\.\d+)+"  # a version token: at least one dot, optional v prefix
_REL = r"\d+(?:\.\d+)*"  # a vGPU software release: 16.5
_MONTH = (r"(?:january|february|march|april|may|june|july|august|september|october|november|december) "
          r"\d{4}")  # a monthly driver release: "January 2024"
# Up to two words naming what is versioned: "All driver versions", "All BMC firmware versions".
_WHAT = r"(?:(?!prior\b|before\b|up\b|through\b)[a-z][a-z0-9\-]* ){0,2}"


def _rx(body: str):
    return re.compile("^" + body + "$", re.I)


#: Patterns for "range" roles (affected, not affected, under investigation).
#: (name, compiled regex, kind); kinds: lt, le, exact, set, all, between.
RANGE_PATTERNS = (
    ("prior_to", _rx(r"(?:all )?%sversions? (?:prior to|before|earlier than) (?P<v>%s)" % (_WHAT, _V)), "lt"),
    ("up_to_including", _rx(
        r"(?:all )?%sversions? (?:up to and including|prior to and including|through) (?P<v>%s)" % (_WHAT, _V)), "le"),
    ("and_earlier", _rx(r"(?P<v>%s),? (?:and|or) (?:earlier|prior|older|below)" % _V), "le"),
    ("vgpu_up_to", _rx(
        r"(?P<v>%s) ?\(all versions (?:up to and including|prior to and including) vgpu (?P<rel>%s)\)" % (_V, _REL)), "le"),
    ("release_up_to", _rx(
        r"(?P<v>%s) ?\(all versions (?:up to and including|prior to and including) the (?P<rel>%s) release\)"
        % (_V, _MONTH)), "le"),
    ("exact", _rx(r"(?P<v>%s)" % _V), "exact"),
    ("exact_vgpu", _rx(r"(?P<v>%s) ?\(vgpu (?P<rel>%s)\)" % (_V, _REL)), "exact"),
    ("exact_release", _rx(r"(?P<v>%s) ?\((?P<rel>%s) release\)" % (_V, _MONTH)), "exact"),
    ("labelled_set", _rx(r"(?P<label>[A-Za-z][A-Za-z0-9_.\-]*) ?\((?P<vs>%s(?: ?/ ?%s)*)\)" % (_V, _V)), "set"),
    ("all_versions", _rx(r"all (?:driver )?versions"), "all"),
    ("between", _rx(r"(?:versions? )?(?P<lo>%s) (?:through|to) (?P<v>%s)" % (_V, _V)), "between"),
)

#: Patterns for "fix" roles (fixed, first fixed, recommended). kinds: exact, from.
FIX_PATTERNS = (
    ("exact", _rx(r"(?P<v>%s)" % _V), "exact"),
    ("exact_vgpu", _rx(r"(?P<v>%s) ?\(vgpu (?P<rel>%s)\)" % (_V, _REL)), "exact"),
    ("exact_release", _rx(r"(?P<v>%s) ?\((?P<rel>%s) release\)" % (_V, _MONTH)), "exact"),
    ("or_later", _rx(r"(?:version )?(?P<v>%s),? (?:or|and) (?:later|newer|above|higher)" % _V), "from"),
    ("labelled", _rx(r"(?P<label>[A-Za-z][A-Za-z0-9_.\-]*) ?\((?P<v>%s)\)" % _V), "exact"),
)

#: ``<model> <version>`` (``GB300 0.8``): understood only when the model word is a word of
#: the product label or architecture, so "GB300 0.8" under label "GB300 NVL72" is 0.8.
_MODEL_VERSION_RE = _rx(r"(?P<model>[A-Za-z][A-Za-z0-9\-]*) (?P<v>%s)" % _V)

#: Trailing configuration qualifiers NVIDIA appends to an affected range.
_QUALIFIER_RE = re.compile(
    r"^(?P<base>.+?) ?\((?P<q>cdi mode only for versions prior to (?P<qv>%s)|only when [^()]+)\)$" % _V, re.I
)

#: Words marking builds that have no defined order relative to releases.
_PRERELEASE_RE = re.compile(r"\b(?:dev drop|pre-?release|beta|alpha|preview|engineering (?:build|sample))\b", re.I)


_key = functools.lru_cache(maxsize=65536)(_vers.intdot_key)


def _major(version: str) -> int:
    return int(version.split(".", 1)[0])


def _mk(constraints) -> str:
    return "vers:intdot/" + "|".join(constraints)


def _check_branch(version: str, branch: str, text: str) -> None:
    if branch is not None and "R%d" % _major(version) != branch:
        raise NotUnderstood("version %s in %r is outside driver branch %s" % (version, text, branch))


def _branch_bounds(branch):
    """(lower, upper) vers constraints that keep a range inside a driver branch."""
    if branch is None:
        return None, None
    major = int(branch[1:])
    return ">=%d" % major, "<%d" % (major + 1)


def _range_condition(kind: str, m, text: str, branch):
    lo_b, hi_b = _branch_bounds(branch)
    out = {"fix_version": None, "release": None, "versions": None}
    if kind == "all":
        cons = [lo_b, hi_b] if branch else None
        out["vers"] = _mk(cons) if cons else "vers:intdot/*"
        return out
    if kind == "set":
        versions = [normalize_version(v.strip()) for v in m.group("vs").split("/")]
        for v in versions:
            _check_branch(v, branch, text)
        if len({_key(v) for v in versions}) != len(versions):
            raise NotUnderstood("versions in %r repeat" % (text,))
        uniq = sorted(versions, key=_key)
        out["vers"] = _mk(uniq)
        out["versions"] = uniq
        out["label"] = m.group("label")
        return out
    ver = normalize_version(m.group("v"))
    _check_branch(ver, branch, text)
    if "rel" in m.re.groupindex and m.group("rel"):
        out["release"] = m.group("rel")
    if kind == "exact":
        out["vers"] = _mk([ver])
        out["versions"] = [ver]
    elif kind in ("lt", "le"):
        comp = "<" if kind == "lt" else "<="
        cons = [comp + ver]
        if lo_b and _key(ver) > _key(lo_b[2:]):
            cons.insert(0, lo_b)
        out["vers"] = _mk(cons)
    elif kind == "between":
        lo = normalize_version(m.group("lo"))
        _check_branch(lo, branch, text)
        if _key(lo) >= _key(ver):
            raise NotUnderstood("range %r is empty or reversed" % (text,))
        out["vers"] = _mk([">=" + lo, "<=" + ver])
    else:  # pragma: no cover - table and code agree
        raise NotUnderstood("internal: unknown pattern kind %r" % kind)
    return out


def _fix_condition(kind: str, m, text: str, branch, cumulative: bool):
    ver = normalize_version(m.group("v"))
    _check_branch(ver, branch, text)
    out = {"fix_version": ver, "release": None, "versions": None}
    if "rel" in m.re.groupindex and m.group("rel"):
        out["release"] = m.group("rel")
    if kind == "from" or cumulative:
        # NVIDIA fixes are cumulative within a branch: the fixed version and every later
        # version of the same branch (or product line) contain the fix.
        cons = [">=" + ver]
        _lo, hi_b = _branch_bounds(branch)
        if hi_b:
            cons.append(hi_b)
        out["vers"] = _mk(cons)
    else:
        out["vers"] = _mk([ver])
        out["versions"] = [ver]
    return out


def parse_condition(text: str, role: str, branch: str = None, model_words=(), cumulative: bool = True) -> dict:
    """Turn NVIDIA's free-text version condition into a structured condition.

    ``role`` is a key of :data:`ROLE_KINDS`; ``branch`` (``'R535'`` or None) bounds ranges to
    the driver branch and every version must belong to it; ``model_words`` are lower-case
    words of the label/architecture accepted as a ``<model> <version>`` prefix;
    ``cumulative`` makes a fixed version stand for itself and every later version of the
    branch (NVIDIA's convention). ``release`` carries NVIDIA's release name when the text has
    one: a vGPU software release (``'16.6'``) or a monthly driver release (``'February 2024'``).

    Returns ``{"vers", "constraints", "fix_version", "release", "versions", "pattern",
    "qualifier", "uncertain", "text"}``: ``vers`` is a canonical vers string (``constraints``
    its ``(comparator, version)`` list, as ``vers.VersRange``), ``fix_version`` the fixed
    version (fix roles), ``release`` a vGPU software release (``'16.6'``), ``versions`` the
    exact versions listed (or None), ``qualifier`` None or ``{"text", "below"}`` for
    configuration-dependent ranges (``below``: versions under it are affected only in that
    configuration; None: the whole range is). Raises NotUnderstood otherwise.
    """
    kind = ROLE_KINDS.get(role)
    if kind is None:
        raise NotUnderstood("unknown status role %r" % (role,))
    result = _parse_condition(text if isinstance(text, str) else "", _KIND_ROLE[kind], branch,
                              frozenset(model_words or ()), bool(cumulative))
    return dict(result, constraints=list(result["constraints"]),
                versions=list(result["versions"]) if result["versions"] is not None else None,
                qualifier=dict(result["qualifier"]) if result["qualifier"] else None)


_KIND_ROLE = {"range": "affected", "fix": "fixed"}


@functools.lru_cache(maxsize=16384)
def _parse_condition(text: str, role: str, branch: str, model_words: frozenset, cumulative: bool) -> dict:
    """Cached worker of :func:`parse_condition` (``role`` is ``affected`` or ``fixed``); do not mutate the result."""
    kind_of_role = ROLE_KINDS.get(role)
    if kind_of_role is None:
        raise NotUnderstood("unknown status role %r" % (role,))
    original = text
    text = _norm(text)
    if not text:
        raise NotUnderstood("empty version condition")
    if _PRERELEASE_RE.search(text):
        raise NotUnderstood(
            "%r names a pre-release build, which has no defined order relative to releases" % (text,)
        )
    qualifier = None
    if kind_of_role == "range":
        q = _QUALIFIER_RE.match(text)
        if q:
            base = q.group("base")
            below = normalize_version(q.group("qv")) if q.group("qv") else None
            qualifier = {"text": q.group("q"), "below": below}
            text_for_patterns = base
        else:
            text_for_patterns = text
        patterns = RANGE_PATTERNS
    else:
        text_for_patterns = text
        patterns = FIX_PATTERNS
    result = None
    for name, regex, kind in patterns:
        m = regex.match(text_for_patterns)
        if not m:
            continue
        if qualifier is not None and kind not in ("lt", "le", "all", "between"):
            raise NotUnderstood("qualifier %r on a %s condition is not understood" % (qualifier["text"], name))
        if kind_of_role == "range":
            result = _range_condition(kind, m, original, branch)
        else:
            result = _fix_condition(kind, m, original, branch, cumulative)
        result["pattern"] = name
        break
    if result is None:
        mv = _MODEL_VERSION_RE.match(text_for_patterns)
        if mv and mv.group("model").lower() in model_words:
            ver = normalize_version(mv.group("v"))
            _check_branch(ver, branch, original)
            if kind_of_role == "range":
                result = {"vers": _mk([ver]), "fix_version": None, "release": None, "versions": [ver]}
            else:
                result = _fix_condition("exact", mv, original, branch, cumulative)
            result["pattern"] = "model_version"
    if result is None:
        other = FIX_PATTERNS if kind_of_role == "range" else RANGE_PATTERNS
        if any(regex.match(text) for _n, regex, _k in other):
            raise NotUnderstood("%r is not a valid condition for %s status" % (
                text, "an affected, not affected or under investigation" if kind_of_role == "range"
                else "a fixed or recommended"))
        raise NotUnderstood("no whitelisted pattern matches %r" % (text,))
    # The generated range is canonical by construction (the unit tests run every pattern
    # through vers.parse); checking that versions ascend is enough here and much cheaper.
    result["constraints"] = _constraints(result["vers"])
    keys = [_key(v) for c, v in result["constraints"] if c != "*"]
    if any(a >= b for a, b in zip(keys, keys[1:])):
        raise NotUnderstood("%r gives an empty or unordered range" % (text,))
    if qualifier is not None and qualifier["below"] is not None and keys:
        # "All versions up to and including 1.17.7 (CDI mode only for versions prior to 1.17.5)"
        if _key(qualifier["below"]) > keys[-1]:
            raise NotUnderstood("qualifier bound %s in %r lies above the range" % (qualifier["below"], text))
    result["qualifier"] = qualifier
    result["uncertain"] = qualifier is not None
    result["text"] = _norm(original)
    return result


def _constraints(vers_string: str):
    """[(comparator, version)] of a vers string this module generated."""
    body = vers_string.split("/", 1)[1]
    if body == "*":
        return [("*", "")]
    out = []
    for item in body.split("|"):
        comp = item[:2] if item[:2] in (">=", "<=") else item[:1] if item[:1] in "<>" else "="
        out.append((comp, item[len(comp) if comp != "=" else 0:]))
    return out


# ---------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------

_WORD_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]*")


def adapt_product(product: dict, role: str, cumulative: bool = True, platforms=None) -> dict:
    """Read one flattened NVIDIA product (``csaf_document.flatten_product_tree`` entry).

    The label is the nearest ``product_version`` branch name (NVIDIA's shape), the condition
    the product's full name, OS and branch come from the nearest ``architecture`` branch.
    Returns ``{"component", "family", "os", "platform", "branch", "vgpu", "label",
    "condition"}`` (``condition`` as :func:`parse_condition`, shared: do not mutate it), or
    None when ``platforms`` (a
    collection of OS keys) is given and the product is for another operating system; such
    products are skipped before their condition is read (Windows drivers are numbered
    outside the Linux branch scheme). Raises NotUnderstood when the product is outside the
    vocabulary or its condition is not understood.
    """
    path = product.get("path") or []
    label = None
    arch_name = None
    for item in reversed(path):
        cat = item.get("category")
        if label is None and cat == "product_version":
            label = item.get("name")
        elif arch_name is None and cat == "architecture":
            arch_name = item.get("name")
    arch = _parse_architecture(arch_name) if arch_name else {
        "os": None, "platform": None, "branch": None, "vgpu": None, "raw": ""}
    if platforms is not None and arch["os"] is not None and arch["os"] not in platforms:
        return None
    if label is None:
        raise NotUnderstood("no product_version branch names the product", "product")
    classified = classify_label(label, arch_name)
    if classified is None:
        raise NotUnderstood("product %r is not in the component vocabulary" % (_norm(label),), "product")
    component, family = classified
    branch = arch["branch"] if component in BRANCHED_COMPONENTS else None
    words = _model_words(label, arch.get("platform") or "")
    kind = ROLE_KINDS.get(role)
    if kind is None:
        raise NotUnderstood("unknown status role %r" % (role,))
    name = product.get("name")
    name = name if isinstance(name, str) else ""
    try:
        # Model words only matter to the last-resort "<model> <version>" pattern; leaving them
        # out of the first try lets labels that share a text share the cached result.
        condition = _parse_condition(name, _KIND_ROLE[kind], branch, frozenset(), bool(cumulative))
    except NotUnderstood:
        if not words:
            raise
        condition = _parse_condition(name, _KIND_ROLE[kind], branch, words, bool(cumulative))
    if component in BRANCHED_COMPONENTS and branch is None:
        # No branch in the architecture: derive it from the versions, which must agree.
        majors = {_major(v) for v in _condition_versions(condition)}
        if len(majors) == 1:
            branch = "R%d" % majors.pop()
    return {
        "component": component,
        "family": family,
        "os": arch["os"],
        "platform": arch["platform"],
        "branch": branch,
        "vgpu": arch["vgpu"],
        "label": _norm(label),
        "condition": condition,
    }


@functools.lru_cache(maxsize=4096)
def _model_words(label, platform):
    return frozenset(w.lower() for w in _WORD_RE.findall("%s %s" % (label, platform)))


def _condition_versions(condition: dict):
    return [v for c, v in condition["constraints"] if c != "*"]
