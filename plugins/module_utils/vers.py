# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Strict parser and containment check for package-url *vers* version ranges.

Implements the subset of the vers specification (package-url/vers-spec) that CSAF
``product_version_range`` values use for GPU host software:

* ``intdot``: dot-separated integers; leading zeros are ignored, parsing stops at the
  first character that is neither a digit nor a dot, trailing ``.0`` components are
  insignificant (``535.183.01`` == ``535.183.1``, ``1.17`` == ``1.17.0``);
* ``semver``: Semantic Versioning 2.0.0 precedence (pre-release aware, build ignored);
* ``deb``: Debian version comparison (epoch, upstream, revision, ``~``), dpkg's algorithm;
* ``pypi``: PEP 440 ordering (epoch, release, pre-release ``a``/``b``/``rc``, post-release,
  development release; a local label sorts after its public version): ``1.3.0rc15`` <
  ``1.3.0rc17`` < ``1.3.0`` < ``1.3.0.post1``; the spellings PEP 440 normalises (``v1.3.0-rc.15``,
  ``1.3.0 RC15`` without the blank) are accepted;
* ``all``: only ``vers:all/*`` (every version); ``none``: only ``vers:none/*`` (no version).

The canonical form is mandatory: strings with whitespace, unsorted or duplicate versions,
or a comparator sequence that is not an alternation of lower and upper bounds are rejected
with :class:`VersError`; they are never normalised. ``vers:generic/...`` (no defined
comparison), unknown types and the ``vers:all/<x`` misuse seen in the wild are rejected too.

:func:`parse_vls` reads the discouraged CSAF *vls* form (``<=2``, ``<V3.0.29``) on a best
effort basis; callers must flag results obtained through it as uncertain.

Only the Python standard library is used (the module may run on targets, Python >= 3.8).
"""

from __future__ import annotations

import functools
import re

__all__ = [
    "VersError",
    "VersRange",
    "parse",
    "compare",
    "intdot_key",
    "pypi_key",
    "is_prerelease",
    "parse_vls",
    "SUPPORTED_TYPES",
]

#: vers types this module can parse; ``compare`` supports the first three.
SUPPORTED_TYPES = ("intdot", "semver", "deb", "pypi", "all", "none")
_COMPARABLE_TYPES = ("intdot", "semver", "deb", "pypi")

_COMPARATORS = (">=", "<=", "!=", "<", ">")  # longest first
_LOWER = (">", ">=")
_UPPER = ("<", "<=")
_RESERVED_IN_VERSION = "<>=!*|"
_TYPE_RE = re.compile(r"^[a-z][a-z0-9.\-]*\Z")
_PCT_RE = re.compile(r"%(..)?", re.S)
_HEX_UPPER = frozenset("0123456789ABCDEF")
_MAX_SPEC_LEN = 4096


class VersError(ValueError):
    """A vers string, version or scheme is invalid or unsupported; the message says why."""


# ---------------------------------------------------------------------------
# Version schemes
# ---------------------------------------------------------------------------

_INTDOT_PREFIX_RE = re.compile(r"^[0-9.]*")


def intdot_key(version: str) -> tuple[int, ...]:
    """Return the comparison key of an ``intdot`` version.

    Leading zeros are ignored and parsing stops at the first character that is neither a
    digit nor a dot (``'1.2rc1'`` -> ``(1, 2)``). Trailing zero components are dropped so
    that plain tuple comparison of keys equals :func:`compare` (``'1.17.0'`` and ``'1.17'``
    both give ``(1, 17)``; ``'535.183.01'`` gives ``(535, 183, 1)``).

    A version that does not start with a digit (for example ``'v1.16.2'``; stripping such a
    prefix is the caller's job) or has an empty component (``'1..2'``) raises VersError.
    """
    if not isinstance(version, str):
        raise VersError("intdot version must be a string, got %s" % type(version).__name__)
    prefix = _INTDOT_PREFIX_RE.match(version).group(0)
    if prefix.endswith(".") and len(prefix) < len(version):
        # '1.2.rc1': the dot before the non-digit suffix ends the number.
        prefix = prefix[:-1]
    if not prefix or not prefix[0].isdigit() or prefix.endswith(".") or ".." in prefix:
        raise VersError("invalid intdot version %r: expected dot-separated integers such as '535.183.01'" % (version,))
    parts = [int(p) for p in prefix.split(".")]
    while parts and parts[-1] == 0:
        parts.pop()
    return tuple(parts)


_SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?\Z",
    re.ASCII,
)


def _semver_parse(version: str):
    if not isinstance(version, str):
        raise VersError("semver version must be a string, got %s" % type(version).__name__)
    m = _SEMVER_RE.match(version)
    if not m:
        raise VersError("invalid semver version %r: expected MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]" % (version,))
    pre = m.group(4)
    pre_ids = tuple(pre.split(".")) if pre is not None else None
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))), pre_ids


def _cmp(a, b) -> int:
    return (a > b) - (a < b)


def _semver_compare(a: str, b: str) -> int:
    (core_a, pre_a), (core_b, pre_b) = _semver_parse(a), _semver_parse(b)
    c = _cmp(core_a, core_b)
    if c:
        return c
    if pre_a is None or pre_b is None:
        # A version without pre-release has higher precedence than one with.
        return _cmp(pre_a is None, pre_b is None)
    for x, y in zip(pre_a, pre_b):
        xn, yn = x.isdigit(), y.isdigit()
        if xn and yn:
            c = _cmp(int(x), int(y))
        elif xn != yn:
            c = -1 if xn else 1  # numeric identifiers sort before alphanumeric ones
        else:
            c = _cmp(x, y)
        if c:
            return c
    return _cmp(len(pre_a), len(pre_b))


_DEB_UPSTREAM_RE = re.compile(r"^[0-9][A-Za-z0-9.+~:\-]*\Z", re.ASCII)
_DEB_REVISION_RE = re.compile(r"^[A-Za-z0-9.+~]+\Z", re.ASCII)


def _deb_parse(version: str):
    if not isinstance(version, str):
        raise VersError("deb version must be a string, got %s" % type(version).__name__)
    epoch = 0
    rest = version
    if ":" in version:
        ep, rest = version.split(":", 1)
        if not ep.isdigit() or not ep.isascii():
            raise VersError("invalid deb version %r: epoch must be an unsigned integer" % (version,))
        epoch = int(ep)
    revision = ""
    upstream = rest
    if "-" in rest:
        upstream, revision = rest.rsplit("-", 1)
        if not _DEB_REVISION_RE.match(revision):
            raise VersError("invalid deb version %r: bad Debian revision %r" % (version, revision))
    if not _DEB_UPSTREAM_RE.match(upstream):
        raise VersError(
            "invalid deb version %r: upstream version must start with a digit and contain only "
            "letters, digits and '.+~-:'" % (version,)
        )
    return epoch, upstream, revision


def _deb_order(ch: str) -> int:
    # dpkg lib/dpkg/version.c order(): digits 0, letters by code, '~' before everything
    # (even the end of the string), other characters after letters.
    if ch == "~":
        return -1
    if ch.isdigit():
        return 0
    if ch.isalpha():
        return ord(ch)
    return ord(ch) + 256


def _verrevcmp(a: str, b: str) -> int:
    """dpkg's verrevcmp(): compare upstream versions or revisions."""
    i = j = 0
    la, lb = len(a), len(b)
    while i < la or j < lb:
        while (i < la and not a[i].isdigit()) or (j < lb and not b[j].isdigit()):
            ac = _deb_order(a[i]) if i < la else 0
            bc = _deb_order(b[j]) if j < lb else 0
            if ac != bc:
                return _cmp(ac, bc)
            i += 1
            j += 1
        while i < la and a[i] == "0":
            i += 1
        while j < lb and b[j] == "0":
            j += 1
        first_diff = 0
        while i < la and a[i].isdigit() and j < lb and b[j].isdigit():
            if not first_diff:
                first_diff = _cmp(a[i], b[j])
            i += 1
            j += 1
        if i < la and a[i].isdigit():
            return 1
        if j < lb and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


def _deb_compare(a: str, b: str) -> int:
    ea, ua, ra = _deb_parse(a)
    eb, ub, rb = _deb_parse(b)
    return _cmp(ea, eb) or _verrevcmp(ua, ub) or _verrevcmp(ra, rb)


def _intdot_compare(a: str, b: str) -> int:
    return _cmp(intdot_key(a), intdot_key(b))


# PEP 440, appendix B (the regular expression of the packaging project), case-insensitive.
_PEP440_RE = re.compile(
    r"^\s*v?(?:(?P<epoch>[0-9]+)!)?(?P<release>[0-9]+(?:\.[0-9]+)*)"
    r"(?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?"
    r"(?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?"
    r"(?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?"
    r"(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*\Z",
    re.I | re.ASCII,
)
_PRE_RANK = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}
_INF = (float("inf"),)
_NEG_INF = (float("-inf"),)


@functools.lru_cache(maxsize=65536)
def pypi_key(version: str) -> tuple:
    """Comparison key of a PEP 440 version (as the ``packaging`` project orders them).

    Trailing zeros of the release are insignificant (``1.17`` == ``1.17.0``); ``dev`` releases
    sort before pre-releases, pre-releases (``a`` < ``b`` < ``rc``) before the release, the
    release before its post-releases; a local label (``+cu121``) sorts after the public version.
    Raises VersError for anything that is not a PEP 440 version.
    """
    if not isinstance(version, str):
        raise VersError("pypi version must be a string, got %s" % type(version).__name__)
    m = _PEP440_RE.match(version)
    if not m:
        raise VersError("invalid pypi version %r: expected a PEP 440 version such as '1.3.0' or '1.3.0rc15'" % (version,))
    release = [int(p) for p in m.group("release").split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    pre_l, post_n, dev = m.group("pre_l"), None, m.group("dev") is not None
    if m.group("post") is not None:
        post_n = int(m.group("post_n1") or m.group("post_n2") or 0)
    if pre_l is not None:
        pre = (_PRE_RANK[pre_l.lower()], int(m.group("pre_n") or 0))
    elif post_n is None and dev:
        pre = _NEG_INF  # 1.0.dev1 sorts before 1.0a1
    else:
        pre = _INF
    post = _NEG_INF if post_n is None else (post_n,)
    dev_key = (int(m.group("dev_n") or 0),) if dev else _INF
    local = m.group("local")
    if local is None:
        local_key = ((-1, ""),)
    else:
        local_key = tuple((1, int(p)) if p.isdigit() else (0, p.lower()) for p in re.split(r"[-_.]", local))
    return (int(m.group("epoch") or 0), tuple(release), pre, post, dev_key, local_key)


def _pypi_compare(a: str, b: str) -> int:
    return _cmp(pypi_key(a), pypi_key(b))


_PRERELEASE_TEXT_RE = re.compile(r"(?:alpha|beta|preview|pre|rc|dev|[0-9.](?:a|b|c))[-_.]?[0-9]*(?:\+.*)?\Z", re.I)


def is_prerelease(version: str) -> bool:
    """True when ``version`` is a PEP 440 pre-release or development release (``1.3.0rc17``, ``2.0.dev1``)."""
    try:
        key = pypi_key(version)
    except VersError:
        return bool(isinstance(version, str) and _PRERELEASE_TEXT_RE.search(version))
    return key[2] != _INF or key[4] != _INF


_COMPARE = {
    "intdot": _intdot_compare,
    "semver": _semver_compare,
    "deb": _deb_compare,
    "pypi": _pypi_compare,
}


def _check_version(scheme: str, version: str) -> None:
    if scheme == "intdot":
        intdot_key(version)
    elif scheme == "semver":
        _semver_parse(version)
    elif scheme == "deb":
        _deb_parse(version)
    elif scheme == "pypi":
        pypi_key(version)


def compare(scheme: str, a: str, b: str) -> int:
    """Compare two versions of a vers type: -1 if a < b, 0 if equal, 1 if a > b.

    Supported types: ``intdot``, ``semver``, ``deb``, ``pypi``. Unparsable versions or other
    types raise VersError.
    """
    func = _COMPARE.get(scheme) if isinstance(scheme, str) else None
    if func is None:
        raise VersError(
            "cannot compare versions of vers type %r: supported types are %s" % (scheme, ", ".join(_COMPARABLE_TYPES))
        )
    for v in (a, b):
        if not isinstance(v, str):
            raise VersError("%s version must be a string, got %s" % (scheme, type(v).__name__))
    return func(a, b)


# ---------------------------------------------------------------------------
# vers strings
# ---------------------------------------------------------------------------


class VersRange:
    """A parsed vers range.

    ``scheme`` is the vers type (``intdot``, ``semver``, ``deb``, ``all``, ``none``);
    ``constraints`` is a list of ``(comparator, version)`` tuples sorted by version, with
    comparator one of ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, or ``[("*", "")]`` for
    "every version". ``vers:none/*`` has no constraints and contains nothing.
    Versions are percent-decoded.
    """

    __slots__ = ("scheme", "constraints")

    def __init__(self, scheme: str, constraints):
        self.scheme = scheme
        self.constraints = list(constraints)

    def __repr__(self) -> str:
        return "VersRange(%r, %r)" % (self.scheme, self.constraints)

    def __str__(self) -> str:
        if self.scheme == "none" or not self.constraints:
            return "vers:%s/*" % self.scheme
        if self.constraints == [("*", "")]:
            return "vers:%s/*" % self.scheme
        out = []
        for comp, ver in self.constraints:
            out.append(("" if comp == "=" else comp) + _pct_encode(ver))
        return "vers:%s/%s" % (self.scheme, "|".join(out))

    def __eq__(self, other) -> bool:
        if not isinstance(other, VersRange):
            return NotImplemented
        return self.scheme == other.scheme and self.constraints == other.constraints

    def __hash__(self) -> int:
        return hash((self.scheme, tuple(self.constraints)))

    def contains(self, version: str) -> bool:
        """Return True if ``version`` lies in the range (vers-spec containment algorithm).

        Raises VersError if ``version`` is not a valid version of the range's type.
        """
        if not isinstance(version, str):
            raise VersError("version must be a string, got %s" % type(version).__name__)
        if self.scheme == "none":
            return False
        if self.scheme == "all":
            return True
        if not version:
            raise VersError("empty version")
        _check_version(self.scheme, version)
        cons = self.constraints
        if not cons:
            return False
        if len(cons) == 1 and cons[0][0] == "*":
            return True
        func = _COMPARE[self.scheme]
        # Equality against a constraint version decides immediately.
        for comp, ver in cons:
            if func(version, ver) == 0:
                if comp in ("=", "<=", ">="):
                    return True
                if comp == "!=":
                    return False
        bounds = [(c, v) for c, v in cons if c not in ("=", "!=")]
        if not bounds:
            return False
        first_comp, first_ver = bounds[0]
        if first_comp in _UPPER and func(version, first_ver) < 0:
            return True
        last_comp, last_ver = bounds[-1]
        if last_comp in _LOWER and func(version, last_ver) > 0:
            return True
        for (c1, v1), (c2, v2) in zip(bounds, bounds[1:]):
            if c1 in _LOWER and c2 in _UPPER and func(version, v1) > 0 and func(version, v2) < 0:
                return True
        return False


def _pct_encode(version: str) -> str:
    out = []
    for ch in version:
        if ch in _RESERVED_IN_VERSION or ch == "%" or ch == " " or not ch.isprintable() or ord(ch) > 126:
            out.append("".join("%%%02X" % b for b in ch.encode("utf-8")))
        else:
            out.append(ch)
    return "".join(out)


def _pct_decode(spec: str, raw: str) -> str:
    """Validate and decode percent-encoding of one version exactly once."""
    if "%" not in raw:
        return raw
    buf = bytearray()
    i = 0
    n = len(raw)
    while i < n:
        ch = raw[i]
        if ch == "%":
            trip = raw[i + 1:i + 3]
            if len(trip) != 2 or not all(c in "0123456789abcdefABCDEF" for c in trip):
                raise VersError("invalid vers %r: invalid percent-encoding in version %r" % (spec, raw))
            if not all(c in _HEX_UPPER for c in trip):
                raise VersError(
                    "invalid vers %r: percent-encoding in version %r is not canonical (use upper-case hex)" % (spec, raw)
                )
            buf.append(int(trip, 16))
            i += 3
        else:
            buf.extend(ch.encode("utf-8"))
            i += 1
    try:
        return buf.decode("utf-8")
    except UnicodeDecodeError:
        raise VersError("invalid vers %r: percent-encoded version %r is not valid UTF-8" % (spec, raw)) from None


def _split_constraint(spec: str, text: str):
    if text.startswith("="):
        raise VersError(
            "invalid vers %r: constraint %r starts with '='; equality is written as a bare version" % (spec, text)
        )
    comp = "="
    for c in _COMPARATORS:
        if text.startswith(c):
            comp = c
            text = text[len(c):]
            break
    if not text:
        raise VersError("invalid vers %r: empty version after comparator %r" % (spec, comp))
    for ch in text:
        if ch in _RESERVED_IN_VERSION:
            raise VersError(
                "invalid vers %r: character %r in version %r must be percent-encoded "
                "(or the constraints are not separated by '|')" % (spec, ch, text)
            )
    return comp, text


def _check_sequence(spec: str, scheme: str, constraints) -> None:
    """Canonical-form checks: sorted, unique versions, valid comparator alternation."""
    func = _COMPARE[scheme]
    for (_c1, v1), (_c2, v2) in zip(constraints, constraints[1:]):
        c = func(v1, v2)
        if c == 0:
            raise VersError(
                "invalid vers %r: version %r duplicates %r; each version may occur only once" % (spec, v2, v1)
            )
        if c > 0:
            raise VersError("invalid vers %r: constraints are not sorted by version (%r after %r)" % (spec, v2, v1))
    seq = [c for c, _v in constraints if c != "!="]
    for prev, nxt in zip(seq, seq[1:]):
        if prev == "=" and nxt not in ("=", ">", ">="):
            raise VersError(
                "invalid vers %r: an equality constraint may only be followed by '=', '>' or '>=' "
                "(found %r)" % (spec, nxt)
            )
        if prev in _UPPER and nxt in _UPPER:
            raise VersError(
                "invalid vers %r: upper bound %r followed by upper bound %r; bounds must alternate" % (spec, prev, nxt)
            )
        if prev in _LOWER and nxt in ("=", ">", ">="):
            raise VersError(
                "invalid vers %r: lower bound %r followed by %r is redundant; bounds must alternate"
                % (spec, prev, "a bare version" if nxt == "=" else nxt)
            )


def parse(spec: str) -> VersRange:
    """Parse a vers string in canonical form and return a :class:`VersRange`.

    Raises VersError (message says what is wrong) for anything not canonical or unsupported.
    """
    if not isinstance(spec, str):
        raise VersError("vers must be a string, got %s" % type(spec).__name__)
    if not spec:
        raise VersError("empty vers string")
    if len(spec) > _MAX_SPEC_LEN:
        raise VersError("vers string too long (%d characters, at most %d)" % (len(spec), _MAX_SPEC_LEN))
    if any(ch.isspace() for ch in spec):
        raise VersError("invalid vers %r: whitespace is not permitted" % (spec,))
    if not spec.isascii() or not spec.isprintable():
        raise VersError("invalid vers %r: only printable ASCII is permitted (percent-encode other bytes)" % (spec,))
    scheme, sep, rest = spec.partition(":")
    if not sep:
        raise VersError("invalid vers %r: expected 'vers:<type>/<constraints>'" % (spec,))
    if scheme != "vers":
        if scheme.lower() == "vers":
            raise VersError("invalid vers %r: the URI scheme must be lower-case 'vers'" % (spec,))
        raise VersError("invalid vers %r: the URI scheme must be 'vers', not %r" % (spec, scheme))
    vtype, sep, cons = rest.partition("/")
    if not sep:
        raise VersError("invalid vers %r: missing '/' between type and constraints" % (spec,))
    if not _TYPE_RE.match(vtype):
        if vtype and _TYPE_RE.match(vtype.lower()):
            raise VersError("invalid vers %r: the type must be lower-case" % (spec,))
        raise VersError(
            "invalid vers %r: type %r must start with a letter and contain only letters, digits, '.' and '-'"
            % (spec, vtype)
        )
    if vtype == "generic":
        raise VersError(
            "unsupported vers %r: type 'generic' has no defined version comparison; "
            "use a specific type such as 'intdot' or 'semver'" % (spec,)
        )
    if vtype not in SUPPORTED_TYPES:
        raise VersError("unsupported vers type %r in %r: supported types are %s" % (vtype, spec, ", ".join(SUPPORTED_TYPES)))
    if not cons:
        raise VersError("invalid vers %r: constraints are empty" % (spec,))
    if vtype in ("all", "none"):
        if cons != "*":
            raise VersError(
                "invalid vers %r: type %r only allows 'vers:%s/*' (it has no versions to compare)" % (spec, vtype, vtype)
            )
        return VersRange(vtype, [] if vtype == "none" else [("*", "")])
    if "*" in cons:
        if cons == "*":
            return VersRange(vtype, [("*", "")])
        raise VersError("invalid vers %r: '*' must be used alone" % (spec,))
    if cons.startswith("|"):
        raise VersError("invalid vers %r: leading pipe is not permitted" % (spec,))
    if cons.endswith("|"):
        raise VersError("invalid vers %r: trailing pipe is not permitted" % (spec,))
    if "||" in cons:
        raise VersError("invalid vers %r: consecutive pipes are not permitted" % (spec,))
    constraints = []
    for raw in cons.split("|"):
        comp, ver = _split_constraint(spec, raw)
        ver = _pct_decode(spec, ver)
        try:
            _check_version(vtype, ver)
        except VersError as exc:
            raise VersError("invalid vers %r: %s" % (spec, exc)) from None
        constraints.append((comp, ver))
    _check_sequence(spec, vtype, constraints)
    return VersRange(vtype, constraints)


# ---------------------------------------------------------------------------
# vls (best effort)
# ---------------------------------------------------------------------------

_VLS_TOKEN_RE = re.compile(
    r"\s*(?:(?P<sep>,|\|\||\||&&|;)|(?P<op><=|>=|!=|==|=|<|>)?\s*(?P<ver>[vV]?[0-9][0-9A-Za-z.+~:_\-]*))"
)


def parse_vls(text: str, scheme: str = "intdot") -> VersRange:
    """Best-effort reading of a CSAF *vls* range (``<=2``, ``<V3.0.29``, ``>=1.2,<2``).

    The result is UNCERTAIN by nature: callers must flag matches made through it. A leading
    ``v``/``V`` is dropped from versions, ``==``/``=`` mean equality, and constraints may be
    separated by ``,``, ``|``, ``||``, ``&&``, ``;`` or nothing (``>=V2022.4<V2023.1``).
    ``*`` / ``all`` mean every version. Canonical vers strings are parsed strictly; the
    non-standard ``vers:all/<x`` form is read as vls ``<x``. The constraints are sorted and
    must form a valid vers sequence, else VersError.
    """
    if not isinstance(text, str):
        raise VersError("vls range must be a string, got %s" % type(text).__name__)
    if scheme not in _COMPARABLE_TYPES:
        raise VersError("unsupported scheme %r for vls: use one of %s" % (scheme, ", ".join(_COMPARABLE_TYPES)))
    src = text.strip()
    if len(src) > _MAX_SPEC_LEN:
        raise VersError("vls range too long (%d characters, at most %d)" % (len(src), _MAX_SPEC_LEN))
    if src.startswith("vers:"):
        try:
            return parse(src)
        except VersError:
            body = src.partition("/")[2]
            if not body:
                raise
            src = body.strip()
    if src in ("*", "all") or src.lower() in ("all versions",):
        return VersRange(scheme, [("*", "")])
    if not src:
        raise VersError("empty vls range")
    pos = 0
    constraints = []
    while pos < len(src):
        m = _VLS_TOKEN_RE.match(src, pos)
        if not m or m.end() == pos:
            raise VersError("cannot read vls range %r at %r" % (text, src[pos:pos + 20]))
        pos = m.end()
        if m.group("sep"):
            continue
        op = m.group("op") or "="
        if op == "==":
            op = "="
        ver = m.group("ver")
        if scheme != "deb" and ver[0] in "vV":
            ver = ver[1:]
        try:
            _check_version(scheme, ver)
        except VersError as exc:
            raise VersError("cannot read vls range %r: %s" % (text, exc)) from None
        constraints.append((op, ver))
        if src[pos:].strip() == "":
            break
    if not constraints:
        raise VersError("cannot read vls range %r: no version found" % (text,))
    func = _COMPARE[scheme]
    # Sort (stable) by version; vls has no ordering rules of its own.
    constraints.sort(key=functools.cmp_to_key(lambda x, y: func(x[1], y[1])))
    try:
        _check_sequence(text, scheme, constraints)
    except VersError as exc:
        raise VersError("cannot read vls range %r as a vers range: %s" % (text, exc)) from None
    return VersRange(scheme, constraints)
