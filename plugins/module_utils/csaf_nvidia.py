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
* the operating systems, driver branch (``R535``) and vGPU release line from the
  architecture name (``Linux(R535)``, ``Linux (R535)``, ``Ubuntu(R535 vGPU 16)``,
  ``Windows, Linux``, ``Citrix Hypervisor, VMware vSphere, Red Hat Enterprise Linux KVM,
  Ubuntu(R535 vGPU 16)``); parenthesised text that is not a branch (``All(4.5)``,
  ``Linux(v22)``) is a product line, ``(Gaming)`` marks NVIDIA Cloud Gaming;
* a condition: a canonical vers range (``vers:intdot/>=535|<535.216.01`` for the driver
  branch scheme and firmware, ``vers:pypi/<=1.3.0rc14`` for software, whose pre-releases sort
  before the release) and, for fixed statements, the fixed version; it is produced only by a
  whitelist of anchored regular expressions (:data:`RANGE_PATTERNS`, :data:`FIX_PATTERNS`),
  each named and unit-tested;
* for components published in two numbering schemes (Triton: container ``24.11`` or server
  ``2.40``; NeMo: container ``24.12`` or package ``2.1.0``) the line of the condition, so that
  versions of different lines are never compared (:data:`VERSION_LINES`).

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
    "INTDOT_COMPONENTS",
    "NotUnderstood",
    "RANGE_PATTERNS",
    "ROLE_KINDS",
    "VERSION_LINES",
    "adapt",
    "adapt_product",
    "advisory_url",
    "applies_to_platforms",
    "classify_label",
    "component_scheme",
    "is_nvidia_document",
    "label_families",
    "normalize_version",
    "parse_architecture",
    "parse_condition",
    "slug",
    "version_line",
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
    ``product`` (a product outside the component vocabulary). ``context`` (or None) says what
    the product was recognised as: ``{"component", "families", "oses", "branch", "label"}``.
    """

    def __init__(self, reason: str, category: str = "condition", context: dict = None):
        super().__init__(reason)
        self.reason = reason
        self.category = category
        self.context = context


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
# with the vGPU ones but are outside the vocabulary (see also the "(Gaming)" architectures).
_EXCLUDED_LABEL_RE = re.compile(r"cloud gaming", re.I)
_RTX_WORD = r"(?:rtx(?: pro)?|quadro|nvs)"
_RTX_LIST = r"(?:nvidia )?%s(?: ?[,/] ?(?:nvidia )?%s)*(?:,? and (?:nvidia )?%s)?" % (_RTX_WORD, _RTX_WORD, _RTX_WORD)
_FAMILY_PATTERNS = (
    (("vgpu_guest",), re.compile(
        r"^(?:nvidia )?(?:vgpu )?guest driver$|^vgpu guest$|^(?:nvidia )?vgpu software \(guest driver\)$", re.I)),
    (("vgpu_host",), re.compile(
        r"^(?:nvidia )?(?:virtual gpu manager|vgpu manager|vgpu host driver)$"
        r"|^(?:nvidia )?vgpu software \((?:virtual gpu manager|vgpu manager)\)$", re.I)),
    (("geforce",), re.compile(r"^(?:nvidia )?geforce$", re.I)),
    (("rtx",), re.compile(r"^%s$" % _RTX_LIST, re.I)),
    # "GeForce, NVIDIA RTX/Quadro, NVS": one row for both families.
    (("geforce", "rtx"), re.compile(r"^(?:nvidia )?geforce ?(?:,|and) ?%s$" % _RTX_LIST, re.I)),
    # NVIDIA Studio drivers are the GeForce and NVIDIA RTX/Quadro drivers of the Studio release line.
    (("geforce", "rtx"), re.compile(r"^(?:nvidia )?studio(?: driver)?$", re.I)),
    (("datacenter",), re.compile(r"^(?:nvidia )?(?:tesla|data ?center(?: gpu)?(?: driver)?)$", re.I)),
)
# A label naming the driver without a family (generic CSAF): applies to every family.
_DRIVER_RE = re.compile(r"^(?:nvidia )?(?:gpu )?(?:display )?driver$|^nvidia gpu display driver$", re.I)
# Architecture names (or labels) of management controllers and other firmware.
_FIRMWARE_RE = re.compile(r"\b(?:hmc|bmc|firmware|ls10|nvswitch|cec|erot)\b", re.I)


@functools.lru_cache(maxsize=4096)
def classify_label(label: str, architecture: str = None):
    """Map a product label to ``(component, family)``; None when it is not in the vocabulary.

    ``family`` is a :data:`DRIVER_FAMILIES` value for ``nvidia_driver`` (a tuple of them for
    labels naming several families, such as ``GeForce, NVIDIA RTX/Quadro, NVS`` or ``Studio``;
    None when the label names the driver without a family), the :func:`slug` of the label for
    ``nvidia_vbios`` and ``firmware`` (the hardware), else None. ``architecture`` is consulted
    only for firmware and VBIOS (NVIDIA puts ``HMC``/``BMC``/``VBIOS`` there and the hardware,
    such as ``Hopper HGX 8-GPU``, in the label).
    """
    text = _norm(label)
    if not text or _EXCLUDED_LABEL_RE.search(text):
        return None
    for component, regex in _COMPONENT_PATTERNS:
        if regex.search(text):
            if component == "nvidia_vbios":
                return component, slug(text)
            return component, None
    for families, regex in _FAMILY_PATTERNS:
        if regex.search(text):
            return "nvidia_driver", families[0] if len(families) == 1 else families
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


def label_families(family):
    """``classify_label``'s family as a tuple (``()`` for None)."""
    if family is None:
        return ()
    return family if isinstance(family, tuple) else (family,)


# ---------------------------------------------------------------------------
# Version schemes
# ---------------------------------------------------------------------------

#: Components numbered like the driver branch or as firmware: compared as ``intdot``, so a
#: pre-release text (``rc57``, ``dev drop``) cannot be ordered and is never guessed.
INTDOT_COMPONENTS = frozenset(("nvidia_driver", "nvidia_fabric_manager", "nvidia_vbios", "firmware"))

#: Components published in two numbering schemes: ``(line, first major, last major)``.
#: Triton Inference Server: the container release ``YY.MM`` (``24.11``) or the server version
#: ``2.x`` (``2.40``); NeMo Framework: the container ``YY.MM`` (``24.12``) or the Python
#: package ``nemo_toolkit`` ``1.x``/``2.x``. Versions of different lines are never compared.
VERSION_LINES = {
    "triton_inference_server": (("server", 0, 9), ("container", 19, 99)),
    "nemo_framework": (("package", 0, 9), ("container", 19, 99)),
}


def component_scheme(component) -> str:
    """vers type used for a component: ``intdot`` (driver branch scheme, firmware) or ``pypi``.

    Software (Container Toolkit, CUDA, Triton, TensorRT, NeMo ...) is ordered with PEP 440
    (vers type ``pypi``): a release candidate sorts before its release (``1.3.0rc15`` <
    ``1.3.0``), which matches the semver order of the Go components' ``-rc.N`` tags too.
    """
    return "intdot" if component in INTDOT_COMPONENTS else "pypi"


def version_line(component, version):
    """The numbering line of a version (see :data:`VERSION_LINES`), None for single-line components.

    Raises NotUnderstood when the major version fits no known line of the component.
    """
    lines = VERSION_LINES.get(component)
    if not lines:
        return None
    m = re.match(r"^\D*(\d+)", version or "")
    if not m:
        raise NotUnderstood("version %r has no major number" % (version,))
    major = int(m.group(1))
    for name, low, high in lines:
        if low <= major <= high:
            return name
    raise NotUnderstood("version %r of %s fits none of its numbering schemes (%s)" % (
        version, component, ", ".join("%s %d-%d" % (n, lo, hi) for n, lo, hi in lines)), "condition")


# ---------------------------------------------------------------------------
# Architecture: operating systems, driver branch, vGPU line
# ---------------------------------------------------------------------------

_BRANCH_RE = re.compile(r"^R(?P<major>\d{3,4})(?:\s+vGPU(?:\s*(?P<vgpu>\d+))?)?$", re.I)
_VGPU_ONLY_RE = re.compile(r"^vGPU\s*(?P<vgpu>\d+)$", re.I)
_GAMING_RE = re.compile(r"^(?:R(?P<major>\d{3,4})\s+)?(?:cloud\s+)?gaming$", re.I)
_ALL_PLATFORMS_RE = re.compile(r"^(?:all|all platforms|any|n/?a)$", re.I)

# Operating-system names seen in architecture branches, mapped to a platform key. Every key
# whose pattern occurs counts ("Windows, Linux" is both); a name with none is a hardware or
# sub-product name (HMC, BMC, VBIOS, DALI Backend), not an OS.
_OS_PATTERNS = (
    ("windows", re.compile(r"\bwindows\b", re.I)),
    ("azure_local", re.compile(r"\bazure (?:local|stack)\b", re.I)),
    ("vmware", re.compile(r"\bvmware\b|\bvsphere\b|\besxi\b", re.I)),
    ("citrix", re.compile(r"\bcitrix\b|\bxenserver\b", re.I)),
    ("nutanix", re.compile(r"\bnutanix\b", re.I)),
    ("freebsd", re.compile(r"\bfreebsd\b", re.I)),
    ("solaris", re.compile(r"\bsolaris\b", re.I)),
    ("android", re.compile(r"\bandroid\b", re.I)),
    ("macos", re.compile(r"\bmac ?os\b|\bos x\b", re.I)),
    ("linux", re.compile(
        r"\blinux\b|\bubuntu\d*\b|\bdebian\b|\brhel\b|\bred hat\b|\bsuse\b|\bsles\b|\bcentos\b|\brocky\b"
        r"|\balmalinux\b|\boracle linux\b|\bfedora\b|\bopenshift\b|\bkvm\b|\bjetpack\b",
        re.I,
    )),
)


def parse_architecture(name: str) -> dict:
    """Read an NVIDIA architecture branch name.

    Returns ``{"os", "oses", "platform", "branch", "vgpu", "line", "gaming", "raw"}``:

    * ``oses``: tuple of the platform keys named (``("linux", "windows")`` for ``Windows, Linux``,
      ``("citrix", "linux", "vmware")`` for ``Citrix Hypervisor, VMware vSphere, Red Hat
      Enterprise Linux KVM, Ubuntu``), ``()`` when the name is not an operating system
      (``All``, ``HMC``, ``DALI Backend``); ``os`` is the first of them or None;
    * ``platform``: the name outside the trailing parentheses;
    * ``branch``/``vgpu``: ``R535``/``16`` for ``(R535 vGPU 16)``; ``(vGPU 16)`` gives only the
      vGPU line, ``(R580 vGPU)`` only the branch;
    * ``gaming``: the parentheses name NVIDIA Cloud Gaming (``(Gaming)``, ``(R580 Gaming)``,
      ``(Cloud Gaming)``), a product outside the vocabulary;
    * ``line``: any other parenthesised text (``All(4.5)``, ``Linux(v22)``, ``Jetson Linux(35)``):
      a product line, never a driver branch.
    """
    return dict(_parse_architecture(name if isinstance(name, str) else ""))


@functools.lru_cache(maxsize=4096)
def _parse_architecture(name: str) -> dict:
    """Cached worker of :func:`parse_architecture` (callers get a copy)."""
    raw = _norm(name)
    out = {"os": None, "oses": (), "platform": raw or None, "branch": None, "vgpu": None, "line": None,
           "gaming": False, "raw": raw}
    if not raw:
        return out
    platform, inner = raw, None
    if raw.endswith(")"):
        depth = 0
        for i in range(len(raw) - 1, -1, -1):
            if raw[i] == ")":
                depth += 1
            elif raw[i] == "(":
                depth -= 1
                if depth == 0:
                    platform, inner = raw[:i].strip(), raw[i + 1:-1].strip()
                    break
        if inner is None:
            raise NotUnderstood("architecture %r has unbalanced parentheses" % (raw,), "architecture")
    out["platform"] = platform or None
    if inner is not None:
        b = _BRANCH_RE.match(inner)
        g = _GAMING_RE.match(inner)
        v = _VGPU_ONLY_RE.match(inner)
        if b:
            out["branch"] = "R%d" % int(b.group("major"))
            out["vgpu"] = b.group("vgpu")
        elif v:
            out["vgpu"] = v.group("vgpu")
        elif g:
            out["gaming"] = True
            if g.group("major"):
                out["branch"] = "R%d" % int(g.group("major"))
        else:
            out["line"] = inner
    if not platform or _ALL_PLATFORMS_RE.match(platform):
        return out
    oses = tuple(key for key, regex in _OS_PATTERNS if regex.search(platform))
    out["oses"] = oses
    out["os"] = oses[0] if oses else None
    return out


def applies_to_platforms(arch: dict, platforms) -> bool:
    """True when an architecture (``parse_architecture``) names no OS or one of ``platforms``."""
    oses = arch.get("oses") or ()
    return not oses or any(o in platforms for o in oses)


# ---------------------------------------------------------------------------
# Conditions: the whitelist
# ---------------------------------------------------------------------------

# A version token: optional "CUDA Toolkit " and v/r prefix (v1.16.2, r25.10), at least one dot,
# an optional CUDA update ("12.9 Update 1", "12.4U1" = 12.9.1, 12.4.1) and an optional
# pre-release ("1.3.0rc15", "v1.3.0 rc15", "r2.0.0rc0"). _V0 also allows a bare number
# ("0", "v0"), used only as the lower bound of a range.
_TOKEN_BODY = r"(?:cuda toolkit )?[vr]?\d+%s(?:(?: ?u| update )\d+)?(?: ?(?:rc|a|b|dev)\.?\d+)?"
_V = _TOKEN_BODY % r"(?:\.\d+)+"
_V0 = _TOKEN_BODY % r"(?:\.\d+)*"
_REL = r"\d+(?:\.\d+)*"  # a vGPU software release: 16.5
_MONTH = (r"(?:january|february|march|april|may|june|july|august|september|october|november|december) "
          r"\d{4}")  # a monthly driver release: "January 2024"
# Up to two words naming what is versioned: "All driver versions", "All BMC firmware versions".
_WHAT = r"(?:(?!prior\b|before\b|up\b|through\b)[a-z][a-z0-9\-]* ){0,2}"
_TO = r"(?: ?(?:-|\u2013) ?| (?:through|to) )"  # range separators: "0.0 - 26.03", "0.0-26.05", "0 to v1.1.0"


def _rx(body: str):
    return re.compile("^" + body + "$", re.I)


#: Patterns for "range" roles (affected, not affected, under investigation).
#: (name, compiled regex, kind); kinds: lt, le, upto, exact, set, all, between.
RANGE_PATTERNS = (
    ("prior_to", _rx(r"(?:all )?%sversions? (?:prior to|before|earlier than) (?P<v>%s)" % (_WHAT, _V)), "lt"),
    ("up_to_including", _rx(
        r"(?:all )?%sversions? (?:up to and including|prior to and including|through) (?P<v>%s)" % (_WHAT, _V)), "le"),
    # "All versions up to CUDA Toolkit 12.8": whether 12.8 itself is affected is left open.
    ("up_to", _rx(r"(?:all )?%sversions? up to (?P<v>%s)" % (_WHAT, _V)), "upto"),
    ("and_earlier", _rx(r"(?P<v>%s),? (?:and|or) (?:earlier|prior|older|below)" % _V), "le"),
    ("vgpu_up_to", _rx(
        r"(?P<v>%s) ?\(all versions (?:up to and including|prior to and including) vgpu(?: software)? ?(?P<rel>%s)\)"
        % (_V, _REL)), "le"),
    ("release_up_to", _rx(
        r"(?P<v>%s) ?\(all versions (?:up to and including|prior to and including) the (?P<rel>%s) release\)"
        % (_V, _MONTH)), "le"),
    ("exact", _rx(r"(?P<v>%s)" % _V), "exact"),
    ("exact_vgpu", _rx(r"(?P<v>%s) ?\(vgpu(?: software)? ?(?P<rel>%s)\)" % (_V, _REL)), "exact"),
    ("exact_release", _rx(r"(?P<v>%s) ?\((?P<rel>%s) release\)" % (_V, _MONTH)), "exact"),
    ("labelled_set", _rx(r"(?P<label>[A-Za-z][A-Za-z0-9_.\-]*) ?\((?P<vs>%s(?: ?/ ?%s)*)\)" % (_V, _V)), "set"),
    ("all_versions", _rx(r"all (?:driver )?versions"), "all"),
    ("between", _rx(r"(?:versions? )?(?P<lo>%s)%s(?P<v>%s)" % (_V0, _TO, _V)), "between"),
)

#: Patterns for "fix" roles (fixed, first fixed, recommended). kinds: exact, from, set.
FIX_PATTERNS = (
    ("exact", _rx(r"(?P<v>%s)" % _V), "exact"),
    ("exact_vgpu", _rx(r"(?P<v>%s) ?\(vgpu(?: software)? ?(?P<rel>%s)\)" % (_V, _REL)), "exact"),
    ("exact_release", _rx(r"(?P<v>%s) ?\((?P<rel>%s) release\)" % (_V, _MONTH)), "exact"),
    ("or_later", _rx(r"(?:version )?(?P<v>%s),? (?:or|and) (?:later|newer|above|higher)" % _V), "from"),
    ("labelled", _rx(r"(?P<label>[A-Za-z][A-Za-z0-9_.\-]*) ?\((?P<v>%s)\)" % _V), "exact"),
    # "2.3.4 and 2.3.5 (latest)": both contain the fix; the first is the fixed version.
    ("two_versions", _rx(r"(?P<v>%s) and (?P<v2>%s)(?: \(latest\))?" % (_V, _V)), "set"),
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

_TOKEN_RE = re.compile(
    r"^(?:cuda toolkit )?(?P<prefix>[vr]?)(?P<rel>\d+(?:\.\d+)*)(?:(?: ?u| update )(?P<upd>\d+))?"
    r"(?: ?(?P<pl>rc|a|b|dev)\.?(?P<pn>\d+))?$",
    re.I,
)

_intdot_key = functools.lru_cache(maxsize=65536)(_vers.intdot_key)
_KEYS = {"intdot": _intdot_key, "pypi": _vers.pypi_key}


def _key(version, scheme="intdot"):
    try:
        return _KEYS[scheme](version)
    except _vers.VersError as exc:
        raise NotUnderstood(str(exc)) from None


@functools.lru_cache(maxsize=16384)
def _token(text, pad_v_prefixed=True):
    """``(version, is_pre_release)`` of a version token; raises NotUnderstood."""
    m = _TOKEN_RE.match(_norm(text))
    if not m:
        raise NotUnderstood("%r is not a version of dot-separated integers" % (text,))
    ver = m.group("rel")
    if m.group("upd") is not None:
        if ver.count(".") != 1:
            raise NotUnderstood("%r: an update number needs a two-part release such as '12.9 Update 1'" % (text,))
        ver = "%s.%d" % (ver, int(m.group("upd")))
    elif pad_v_prefixed and m.group("prefix") in ("v", "V") and ver.count(".") == 1:
        ver += ".0"
    pre = m.group("pl")
    if pre is not None:
        pre = pre.lower()
        ver += (".dev" if pre == "dev" else pre) + str(int(m.group("pn")))
    return ver, pre is not None


def normalize_version(text: str, pad_v_prefixed: bool = True) -> str:
    """Return a version token in canonical form.

    ``'v1.17'`` -> ``'1.17.0'`` (a ``v``-prefixed two-part version is a release name such as
    NVIDIA's "v1.17" for 1.17.0; ``pad_v_prefixed`` pads it to three parts), ``'535.183.01'``
    -> ``'535.183.01'`` (leading zeros are kept for display; comparison ignores them),
    ``'r25.10'`` -> ``'25.10'``, ``'CUDA Toolkit 12.9 Update 1'`` and ``'v12.4U1'`` ->
    ``'12.9.1'``/``'12.4.1'``, ``'v1.3.0 rc15'`` -> ``'1.3.0rc15'`` (PEP 440 form).
    Raises NotUnderstood for anything else.
    """
    return _token(text or "", bool(pad_v_prefixed))[0]


def _major(version: str) -> int:
    return int(re.match(r"\d+", version).group(0))


def _mk(constraints, scheme="intdot") -> str:
    return "vers:%s/%s" % (scheme, "|".join(constraints))


def _check_branch(version: str, branch: str, text: str) -> None:
    if branch is not None and "R%d" % _major(version) != branch:
        raise NotUnderstood("version %s in %r is outside driver branch %s" % (version, text, branch))


def _branch_bounds(branch):
    """(lower, upper) vers constraints that keep a range inside a driver branch."""
    if branch is None:
        return None, None
    major = int(branch[1:])
    return ">=%d" % major, "<%d" % (major + 1)


def _version(text, scheme, original):
    """Canonical version of a token for ``scheme``; a pre-release needs a pre-release aware scheme."""
    ver, pre = _token(text.strip())
    if pre and scheme == "intdot":
        raise NotUnderstood("%r names a pre-release (%s), which has no defined order in this product's numbering"
                            % (_norm(original), ver))
    return ver


def _is_zero(version, scheme):
    return not any(_key(version, scheme)[1]) if scheme == "pypi" else not _key(version, scheme)


def _range_condition(kind: str, m, text: str, branch, scheme="intdot"):
    lo_b, hi_b = _branch_bounds(branch)
    out = {"fix_version": None, "release": None, "versions": None, "bound": None}
    if kind == "all":
        cons = [lo_b, hi_b] if branch else None
        out["vers"] = _mk(cons, scheme) if cons else "vers:%s/*" % scheme
        return out
    if kind == "set":
        versions = [_version(v, scheme, text) for v in m.group("vs").split("/")]
        for v in versions:
            _check_branch(v, branch, text)
        if len({_key(v, scheme) for v in versions}) != len(versions):
            raise NotUnderstood("versions in %r repeat" % (text,))
        uniq = sorted(versions, key=lambda v: _key(v, scheme))
        out["vers"] = _mk(uniq, scheme)
        out["versions"] = uniq
        out["label"] = m.group("label")
        return out
    ver = _version(m.group("v"), scheme, text)
    _check_branch(ver, branch, text)
    if "rel" in m.re.groupindex and m.group("rel"):
        out["release"] = m.group("rel")
    if kind == "exact":
        out["vers"] = _mk([ver], scheme)
        out["versions"] = [ver]
    elif kind in ("lt", "le", "upto"):
        comp = "<=" if kind == "le" else "<"
        cons = [comp + ver]
        if lo_b and _key(ver, scheme) > _key(lo_b[2:], scheme):
            cons.insert(0, lo_b)
        out["vers"] = _mk(cons, scheme)
        if kind == "upto":
            out["bound"] = ver  # may or may not be affected itself: decided by the fixed statements
    elif kind == "between":
        lo = _version(m.group("lo"), scheme, text)
        if _is_zero(lo, scheme):
            # "0.0 to 2.7.2", "v0 - v10.16.1": every version up to and including the upper bound.
            cons = ["<=" + ver]
            if lo_b and _key(ver, scheme) > _key(lo_b[2:], scheme):
                cons.insert(0, lo_b)
            out["vers"] = _mk(cons, scheme)
        else:
            _check_branch(lo, branch, text)
            if _key(lo, scheme) >= _key(ver, scheme):
                raise NotUnderstood("range %r is empty or reversed" % (text,))
            out["vers"] = _mk([">=" + lo, "<=" + ver], scheme)
    else:  # pragma: no cover - table and code agree
        raise NotUnderstood("internal: unknown pattern kind %r" % kind)
    return out


def _fix_condition(kind: str, m, text: str, branch, cumulative: bool, scheme="intdot"):
    ver = _version(m.group("v"), scheme, text)
    _check_branch(ver, branch, text)
    out = {"fix_version": ver, "release": None, "versions": None, "bound": None}
    if kind == "set":
        other = _version(m.group("v2"), scheme, text)
        _check_branch(other, branch, text)
        if _key(other, scheme) <= _key(ver, scheme):
            raise NotUnderstood("versions in %r are not ascending" % (text,))
    if "rel" in m.re.groupindex and m.group("rel"):
        out["release"] = m.group("rel")
    if kind in ("from", "set") or cumulative:
        # NVIDIA fixes are cumulative within a branch: the fixed version and every later
        # version of the same branch (or product line) contain the fix.
        cons = [">=" + ver]
        _lo, hi_b = _branch_bounds(branch)
        if hi_b:
            cons.append(hi_b)
        out["vers"] = _mk(cons, scheme)
    else:
        out["vers"] = _mk([ver], scheme)
        out["versions"] = [ver]
    return out


def parse_condition(text: str, role: str, branch: str = None, model_words=(), cumulative: bool = True,
                    scheme: str = "intdot") -> dict:
    """Turn NVIDIA's free-text version condition into a structured condition.

    ``role`` is a key of :data:`ROLE_KINDS`; ``branch`` (``'R535'`` or None) bounds ranges to
    the driver branch and every version must belong to it; ``model_words`` are lower-case
    words of the label/architecture accepted as a ``<model> <version>`` prefix;
    ``cumulative`` makes a fixed version stand for itself and every later version of the
    branch (NVIDIA's convention); ``scheme`` is the vers type of the product
    (:func:`component_scheme`): ``intdot`` or ``pypi`` (pre-release aware; a pre-release such as
    ``v1.3.0 rc15`` is only understood there). ``release`` carries NVIDIA's release name when
    the text has one: a vGPU software release (``'16.6'``) or a monthly driver release
    (``'February 2024'``).

    Returns ``{"vers", "constraints", "fix_version", "release", "versions", "bound", "pattern",
    "qualifier", "uncertain", "scheme", "text"}``: ``vers`` is a canonical vers string
    (``constraints`` its ``(comparator, version)`` list, as ``vers.VersRange``),
    ``fix_version`` the fixed version (fix roles), ``versions`` the exact versions listed (or
    None), ``bound`` the upper bound of an ``up to X`` range, which the text leaves open (X is
    outside ``vers``; whoever matches must not read X as unaffected unless the document lists
    it as fixed), ``qualifier`` None or ``{"text", "below"}`` for configuration-dependent
    ranges (``below``: versions under it are affected only in that configuration; None: the
    whole range is). Raises NotUnderstood otherwise.
    """
    kind = ROLE_KINDS.get(role)
    if kind is None:
        raise NotUnderstood("unknown status role %r" % (role,))
    if scheme not in _KEYS:
        raise NotUnderstood("unknown version scheme %r" % (scheme,))
    result = _parse_condition(text if isinstance(text, str) else "", _KIND_ROLE[kind], branch,
                              frozenset(model_words or ()), bool(cumulative), scheme)
    return dict(result, constraints=list(result["constraints"]),
                versions=list(result["versions"]) if result["versions"] is not None else None,
                qualifier=dict(result["qualifier"]) if result["qualifier"] else None)


_KIND_ROLE = {"range": "affected", "fix": "fixed"}


@functools.lru_cache(maxsize=16384)
def _parse_condition(text: str, role: str, branch: str, model_words: frozenset, cumulative: bool,
                     scheme: str = "intdot") -> dict:
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
            below = _version(q.group("qv"), scheme, text) if q.group("qv") else None
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
            result = _range_condition(kind, m, original, branch, scheme)
        else:
            result = _fix_condition(kind, m, original, branch, cumulative, scheme)
        result["pattern"] = name
        break
    if result is None:
        mv = _MODEL_VERSION_RE.match(text_for_patterns)
        if mv and mv.group("model").lower() in model_words:
            ver = _version(mv.group("v"), scheme, original)
            _check_branch(ver, branch, original)
            if kind_of_role == "range":
                result = {"vers": _mk([ver], scheme), "fix_version": None, "release": None, "versions": [ver],
                          "bound": None}
            else:
                result = _fix_condition("exact", mv, original, branch, cumulative, scheme)
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
    keys = [_key(v, scheme) for c, v in result["constraints"] if c != "*"]
    if any(a >= b for a, b in zip(keys, keys[1:])):
        raise NotUnderstood("%r gives an empty or unordered range" % (text,))
    if qualifier is not None and qualifier["below"] is not None and keys:
        # "All versions up to and including 1.17.7 (CDI mode only for versions prior to 1.17.5)"
        if _key(qualifier["below"], scheme) > keys[-1]:
            raise NotUnderstood("qualifier bound %s in %r lies above the range" % (qualifier["below"], text))
    result["qualifier"] = qualifier
    result["uncertain"] = qualifier is not None
    result["scheme"] = scheme
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


def _context(component=None, families=None, oses=(), branch=None, label=None):
    return {"component": component, "families": families, "oses": tuple(oses or ()), "branch": branch,
            "label": label}


def adapt_product(product: dict, role: str, cumulative: bool = True, platforms=None) -> dict:
    """Read one flattened NVIDIA product (``csaf_document.flatten_product_tree`` entry).

    The label is the nearest ``product_version`` branch name (NVIDIA's shape), the condition
    the product's full name, OS and branch come from the nearest ``architecture`` branch.
    Returns ``{"component", "family", "families", "os", "oses", "platform", "branch", "vgpu",
    "line", "scheme", "label", "condition"}`` (``condition`` as :func:`parse_condition`, shared:
    do not mutate it; ``families`` the tuple of driver families of the label, ``line`` the
    numbering line of the versions, see :func:`version_line`), or None when ``platforms`` (a
    collection of OS keys) is given and the product names only other operating systems; such
    products are skipped before their condition is read (Windows drivers are numbered outside
    the Linux branch scheme). Raises NotUnderstood when the product is outside the vocabulary
    (category ``product``) or its architecture or condition is not understood; the exception's
    ``context`` then names the component, families, operating systems and branch (a tuple of
    branches when the architecture and the versions disagree) as far as they are known, so that
    the matching engine reports it for exactly those components.
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
    name = product.get("name")
    return adapt(label, arch_name, name if isinstance(name, str) else "", role, cumulative,
                 frozenset(platforms) if platforms is not None else None)


def adapt(label, arch_name, name, role, cumulative=True, platforms=None):
    """:func:`adapt_product` on the parts of a product: its label, architecture name and name (the condition).

    ``platforms``: a frozenset of OS keys or None.
    """
    frame = _frame(label, arch_name, platforms)
    if frame is None:
        return None
    if isinstance(frame, NotUnderstood):
        raise NotUnderstood(frame.reason, frame.category, frame.context)
    component, families, branched, context, branch, scheme, words, arch, norm_label = frame
    kind = ROLE_KINDS.get(role)
    if kind is None:
        raise NotUnderstood("unknown status role %r" % (role,))
    try:
        try:
            # Model words only matter to the last-resort "<model> <version>" pattern; leaving them
            # out of the first try lets labels that share a text share the cached result.
            condition = _parse_condition(name, _KIND_ROLE[kind], branch, frozenset(), bool(cumulative), scheme)
        except NotUnderstood:
            if not words:
                raise
            condition = _parse_condition(name, _KIND_ROLE[kind], branch, words, bool(cumulative), scheme)
        line = _condition_line(component, condition)
    except NotUnderstood as exc:
        if branched and "outside driver branch" in exc.reason:
            # The architecture and the versions disagree (a misfiled row): it concerns either branch.
            majors = {"R%d" % int(m) for m in re.findall(r"(?<![\d.])(\d{3,4})\.\d", name)}
            context = dict(context, branch=tuple(sorted(majors | {branch} - {None})) or None)
        raise NotUnderstood(exc.reason, exc.category, context) from None
    if branched and branch is None:
        # No branch in the architecture: derive it from the versions, which must agree.
        majors = {_major(v) for v in _condition_versions(condition)}
        if len(majors) == 1:
            branch = "R%d" % majors.pop()
    return {
        "component": component,
        "family": families[0] if families else None,
        "families": families,
        "os": arch["os"],
        "oses": arch["oses"],
        "platform": arch["platform"],
        "branch": branch,
        "vgpu": arch["vgpu"],
        "line": line,
        "scheme": scheme,
        "label": norm_label,
        "condition": condition,
    }


@functools.lru_cache(maxsize=8192)
def _frame(label, arch_name, platforms):
    """What a label and an architecture say, shared by every product under them (cached).

    None: another platform; a NotUnderstood instance: the label or architecture is not understood;
    else ``(component, families, branched, context, branch, scheme, model words, arch, label)``.
    """
    arch_error = None
    try:
        arch = _parse_architecture(arch_name) if arch_name else _NO_ARCH
    except NotUnderstood as exc:
        arch, arch_error = _NO_ARCH, exc
    if platforms is not None and not applies_to_platforms(arch, platforms):
        return None
    if label is None:
        return NotUnderstood("no product_version branch names the product", "product")
    classified = classify_label(label, arch_name)
    if classified is None or arch["gaming"]:
        what = "NVIDIA Cloud Gaming %s" % _norm(label) if classified is not None else _norm(label)
        return NotUnderstood("product %r is not in the component vocabulary" % (what,), "product", _context(label=what))
    component, family = classified
    families = label_families(family)
    branched = component in BRANCHED_COMPONENTS
    context = _context(component, families or None, arch["oses"], arch["branch"] if branched else None, _norm(label))
    if arch_error is not None:
        return NotUnderstood(arch_error.reason, "architecture", context)
    if branched and arch["line"] is not None:
        return NotUnderstood("architecture %r: %r is not a driver branch such as 'R535' or 'R550 vGPU 17'"
                             % (arch["raw"], arch["line"]), "architecture", context)
    branch = arch["branch"] if branched else None
    return (component, families, branched, context, branch, component_scheme(component),
            _model_words(label, arch.get("platform") or ""), arch, _norm(label))


_NO_ARCH = {"os": None, "oses": (), "platform": None, "branch": None, "vgpu": None, "line": None, "gaming": False,
            "raw": ""}


@functools.lru_cache(maxsize=4096)
def _model_words(label, platform):
    return frozenset(w.lower() for w in _WORD_RE.findall("%s %s" % (label, platform)))


def _condition_versions(condition: dict):
    return [v for c, v in condition["constraints"] if c != "*"]


def _condition_line(component, condition):
    """The one numbering line of a condition's versions (a lower bound of 0 belongs to every line)."""
    if component not in VERSION_LINES:
        return None
    scheme = condition.get("scheme", "intdot")
    lines = {version_line(component, v) for v in _condition_versions(condition) if not _is_zero(v, scheme)}
    if len(lines) > 1:
        raise NotUnderstood("%r mixes the numbering schemes %s of %s" % (
            condition["text"], " and ".join(sorted(lines)), component))
    return lines.pop() if lines else None
