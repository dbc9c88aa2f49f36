# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for plugins/module_utils/vers.py (package-url vers, intdot, semver, deb)."""

from __future__ import annotations

import functools
import itertools

import pytest

from ansible_collections.aisec.gpu_host.plugins.module_utils import vers as V

# ---------------------------------------------------------------------------
# Canonical form: accepted strings and their parse result
# ---------------------------------------------------------------------------

VALID = [
    ("vers:intdot/<535.183.01", "intdot", [("<", "535.183.01")]),
    ("vers:intdot/>=535|<535.183.01", "intdot", [(">=", "535"), ("<", "535.183.01")]),
    ("vers:intdot/1.2.3", "intdot", [("=", "1.2.3")]),
    ("vers:intdot/1.0|2.0|3.0", "intdot", [("=", "1.0"), ("=", "2.0"), ("=", "3.0")]),
    ("vers:intdot/1.0|>=2.0|<3.0", "intdot", [("=", "1.0"), (">=", "2.0"), ("<", "3.0")]),
    ("vers:intdot/<1.0|2.0", "intdot", [("<", "1.0"), ("=", "2.0")]),
    ("vers:intdot/>=1.0|!=1.5|<2.0", "intdot", [(">=", "1.0"), ("!=", "1.5"), ("<", "2.0")]),
    ("vers:intdot/!=1.0", "intdot", [("!=", "1.0")]),
    ("vers:intdot/<=1.0|>2.0", "intdot", [("<=", "1.0"), (">", "2.0")]),
    ("vers:intdot/>1.0|<=2.0|>=3.0", "intdot", [(">", "1.0"), ("<=", "2.0"), (">=", "3.0")]),
    ("vers:intdot/*", "intdot", [("*", "")]),
    ("vers:semver/>=1.0.0-rc.1|<1.0.0", "semver", [(">=", "1.0.0-rc.1"), ("<", "1.0.0")]),
    ("vers:semver/<1.17.8", "semver", [("<", "1.17.8")]),
    ("vers:deb/>=1:1.0~rc1-1|<1:1.0-1", "deb", [(">=", "1:1.0~rc1-1"), ("<", "1:1.0-1")]),
    ("vers:deb/<535.183.01-0ubuntu1", "deb", [("<", "535.183.01-0ubuntu1")]),
    ("vers:all/*", "all", [("*", "")]),
    ("vers:none/*", "none", []),
    # percent-encoding is decoded exactly once
    ("vers:intdot/1.0%2B1", "intdot", [("=", "1.0+1")]),
    ("vers:deb/1.0%7E1", "deb", [("=", "1.0~1")]),
]


@pytest.mark.parametrize("spec,scheme,constraints", VALID, ids=[v[0] for v in VALID])
def test_parse_valid(spec, scheme, constraints):
    rng = V.parse(spec)
    assert rng.scheme == scheme
    assert rng.constraints == constraints
    assert isinstance(rng.constraints, list)
    assert all(isinstance(c, tuple) for c in rng.constraints)


@pytest.mark.parametrize("spec", [v[0] for v in VALID if "%" not in v[0]])
def test_str_round_trips(spec):
    assert str(V.parse(spec)) == spec


def test_str_reencodes_reserved_characters():
    rng = V.VersRange("deb", [("=", "1.0<2")])
    assert str(rng) == "vers:deb/1.0%3C2"


def test_equality_and_hash():
    a, b = V.parse("vers:intdot/<2"), V.parse("vers:intdot/<2")
    assert a == b and hash(a) == hash(b)
    assert a != V.parse("vers:intdot/<=2")
    assert a.__eq__("vers:intdot/<2") is NotImplemented
    assert "intdot" in repr(a)


# ---------------------------------------------------------------------------
# Rejected strings: reject, never normalise
# ---------------------------------------------------------------------------

INVALID = [
    ("", "empty"),
    ("vers:intdot/ <2", "whitespace"),
    ("vers:intdot/<2 ", "whitespace"),
    ("vers:intdot/<2\t", "whitespace"),
    ("VERS:intdot/<2", "lower-case"),
    ("vers:INTDOT/<2", "lower-case"),
    ("pkg:intdot/<2", "scheme"),
    ("intdot/<2", "vers:"),
    ("vers:intdot", "missing '/'"),
    ("vers:intdot/", "empty"),
    ("vers:1dot/1", "start with a letter"),
    ("vers:intdot/|<2", "leading pipe"),
    ("vers:intdot/<2|", "trailing pipe"),
    ("vers:intdot/>=1||<2", "consecutive pipes"),
    ("vers:intdot/=1.0", "starts with '='"),
    ("vers:intdot/<", "empty version"),
    ("vers:intdot/>=2.0|<1.0", "not sorted"),
    ("vers:intdot/2.0|1.0", "not sorted"),
    ("vers:intdot/1.0|1.0", "only once"),
    ("vers:intdot/535.183.01|535.183.1", "only once"),
    ("vers:intdot/>=1.17|<1.17.0", "only once"),
    ("vers:intdot/<1.0|<2.0", "upper bound"),
    ("vers:intdot/<=1.0|<2.0", "upper bound"),
    ("vers:intdot/1.0|<2.0", "equality constraint"),
    ("vers:intdot/>1.0|>2.0", "redundant"),
    ("vers:intdot/>=1.0|2.0", "redundant"),
    ("vers:intdot/>=1.0|!=1.5|>=2.0", "redundant"),
    ("vers:intdot/>=1<2", "percent-encoded"),
    ("vers:intdot/*|1.0", "alone"),
    ("vers:intdot/1.0%2", "invalid percent-encoding"),
    ("vers:intdot/1.0%zz", "invalid percent-encoding"),
    ("vers:intdot/1.0%2b1", "not canonical"),
    ("vers:intdot/%FF", "UTF-8"),
    ("vers:intdot/v1.16.2", "intdot"),
    ("vers:intdot/1..2", "intdot"),
    ("vers:semver/1.0", "semver"),
    ("vers:semver/01.0.0", "semver"),
    ("vers:deb/abc", "deb"),
    ("vers:deb/a:1.0", "epoch"),
    ("vers:deb/1.0-", "revision"),
    ("vers:intdot/1.0\u00e9", "printable ASCII"),
    # CISA misuse and unsupported types are reported, never guessed
    ("vers:all/<V4.3.8", "only allows 'vers:all/*'"),
    ("vers:all/>=V2022.4<V2023.1", "only allows 'vers:all/*'"),
    ("vers:none/1.0", "only allows 'vers:none/*'"),
    ("vers:generic/1.0", "generic"),
    ("vers:generic/<2", "generic"),
    ("vers:npm/<2.0.0", "unsupported vers type"),
    ("vers:maven/<2", "unsupported vers type"),
    ("vers:pypi/1.0-foo", "PEP 440"),
]


@pytest.mark.parametrize("spec,message", INVALID, ids=[repr(v[0]) for v in INVALID])
def test_parse_invalid(spec, message):
    with pytest.raises(V.VersError) as exc:
        V.parse(spec)
    assert message.lower() in str(exc.value).lower()


@pytest.mark.parametrize("value", [None, 1, 1.5, b"vers:intdot/1", ["vers:intdot/1"]])
def test_parse_rejects_non_strings(value):
    with pytest.raises(V.VersError, match="must be a string"):
        V.parse(value)


def test_parse_rejects_huge_input():
    with pytest.raises(V.VersError, match="too long"):
        V.parse("vers:intdot/" + "1" * 5000)


def test_vers_error_is_value_error():
    assert issubclass(V.VersError, ValueError)


# ---------------------------------------------------------------------------
# Containment (vers-spec algorithm)
# ---------------------------------------------------------------------------

CONTAINS = [
    # NVIDIA-style driver ranges; 535.183.01 == 535.183.1
    ("vers:intdot/<535.183.01", "535.161.07", True),
    ("vers:intdot/<535.183.01", "535.183.01", False),
    ("vers:intdot/<535.183.01", "535.183.1", False),
    ("vers:intdot/<535.183.01", "535.183.001", False),
    ("vers:intdot/<535.183.01", "535.216.01", False),
    ("vers:intdot/<=535.183.01", "535.183.1", True),
    ("vers:intdot/>=535|<535.183.01", "535", True),
    ("vers:intdot/>=535|<535.183.01", "535.0.0", True),
    ("vers:intdot/>=535|<535.183.01", "534.99", False),
    ("vers:intdot/>=535|<535.183.01", "550.90.07", False),
    ("vers:intdot/>=550|<550.90.07", "550.54.14", True),
    # 1.17 == 1.17.0 (container toolkit "v1.17" fix)
    ("vers:intdot/<1.17", "1.17.0", False),
    ("vers:intdot/<1.17", "1.16.2", True),
    ("vers:intdot/1.17", "1.17.0", True),
    ("vers:intdot/<=1.16.2", "1.16.2", True),
    # intdot numeric, not lexicographic; suffixes ignored
    ("vers:intdot/<1.10", "1.9", True),
    ("vers:intdot/<1.10", "1.10rc1", False),
    ("vers:intdot/>=1.2|<2.0", "1.5.0", True),
    ("vers:intdot/>=1.2|<2.0", "2.0", False),
    # equality and inequality
    ("vers:intdot/1.0|2.0", "2.0", True),
    ("vers:intdot/1.0|2.0", "1.5", False),
    ("vers:intdot/>=1.0|!=1.5|<2.0", "1.5", False),
    ("vers:intdot/>=1.0|!=1.5|<2.0", "1.5.0", False),
    ("vers:intdot/>=1.0|!=1.5|<2.0", "1.6", True),
    ("vers:intdot/!=1.0", "1.0", False),
    ("vers:intdot/!=1.0", "2.0", False),
    # several intervals
    ("vers:intdot/<=1.0|>2.0", "0.5", True),
    ("vers:intdot/<=1.0|>2.0", "1.5", False),
    ("vers:intdot/<=1.0|>2.0", "2.0", False),
    ("vers:intdot/<=1.0|>2.0", "3", True),
    ("vers:intdot/>1.0|<=2.0|>=3.0", "1.0", False),
    ("vers:intdot/>1.0|<=2.0|>=3.0", "2.0", True),
    ("vers:intdot/>1.0|<=2.0|>=3.0", "2.5", False),
    ("vers:intdot/>1.0|<=2.0|>=3.0", "3.0", True),
    ("vers:intdot/>1.0|<=2.0|>=3.0", "99", True),
    ("vers:intdot/<1.0|2.0", "2.0", True),
    ("vers:intdot/<1.0|2.0", "1.5", False),
    ("vers:intdot/1.0|>=2.0|<3.0", "2.5", True),
    ("vers:intdot/*", "1", True),
    # semver with pre-releases
    ("vers:semver/<1.17.8", "1.17.8-rc.1", True),
    ("vers:semver/<1.17.8", "1.17.8", False),
    ("vers:semver/<1.17.8", "1.17.8+build.5", False),
    ("vers:semver/>=1.0.0-rc.1|<1.0.0", "1.0.0-rc.2", True),
    ("vers:semver/>=1.0.0-rc.1|<1.0.0", "1.0.0-beta", False),
    # deb
    ("vers:deb/<1.17.8-1", "1.17.8~rc1-1", True),
    ("vers:deb/<1.17.8-1", "1.17.8-1", False),
    ("vers:deb/<1:1.0", "2.0", True),
    ("vers:deb/<535.183.01-0ubuntu1", "535.161.07-0ubuntu0.22.04.1", True),
    # all / none
    ("vers:all/*", "anything at all", True),
    ("vers:none/*", "1.0", False),
]


@pytest.mark.parametrize("spec,version,expected", CONTAINS, ids=["%s %s" % (c[0], c[1]) for c in CONTAINS])
def test_contains(spec, version, expected):
    assert V.parse(spec).contains(version) is expected


@pytest.mark.parametrize(
    "spec,version",
    [
        ("vers:intdot/<2", "v1.16.2"),
        ("vers:intdot/<2", ""),
        ("vers:intdot/*", "abc"),
        ("vers:semver/<2.0.0", "2.0"),
        ("vers:deb/<2.0", "x"),
        ("vers:intdot/<2", None),
        ("vers:intdot/<2", 1),
        ("vers:all/*", None),
    ],
)
def test_contains_unparsable_version_raises(spec, version):
    with pytest.raises(V.VersError):
        V.parse(spec).contains(version)


def test_contains_empty_constraints_is_false():
    assert V.VersRange("intdot", []).contains("1.0") is False


def test_contains_against_brute_force():
    """Containment agrees with a direct interval evaluation for many random-ish ranges."""
    points = ["1", "2", "3", "4", "5"]
    probes = ["0.5", "1", "1.5", "2", "2.5", "3", "3.5", "4", "4.5", "5", "6"]
    checked = 0
    for n in (1, 2, 3):
        for versions in itertools.combinations(points, n):
            for comps in itertools.product(("=", "!=", "<", "<=", ">", ">="), repeat=n):
                spec = "vers:intdot/" + "|".join(("" if c == "=" else c) + v for c, v in zip(comps, versions))
                try:
                    rng = V.parse(spec)
                except V.VersError:
                    continue
                for probe in probes:
                    assert rng.contains(probe) is _reference_contains(rng.constraints, probe), (spec, probe)
                    checked += 1
    assert checked > 500


def _reference_contains(constraints, version):
    """Interval semantics of a canonical constraint list, written independently."""
    x = float(version)
    for comp, ver in constraints:
        if comp == "!=" and x == float(ver):
            return False
    for comp, ver in constraints:
        if x == float(ver) and comp in ("=", "<=", ">="):
            return True
    bounds = [(c, float(v)) for c, v in constraints if c not in ("=", "!=")]
    lower = None
    for i, (comp, val) in enumerate(bounds):
        if comp in ("<", "<="):
            lo = lower if lower is not None else float("-inf")
            if lo < x < val:
                return True
            lower = None
        else:
            lower = val
            if i == len(bounds) - 1 and x > val:
                return True
    return False


# ---------------------------------------------------------------------------
# Version schemes
# ---------------------------------------------------------------------------

INTDOT_KEYS = [
    ("535.183.01", (535, 183, 1)),
    ("535.183.1", (535, 183, 1)),
    ("01.002.0003", (1, 2, 3)),
    ("1.17.0", (1, 17)),
    ("1.17", (1, 17)),
    ("1.2rc1", (1, 2)),
    ("1.2.rc1", (1, 2)),
    ("1.10alpha", (1, 10)),
    ("0", ()),
    ("550.90.07-0ubuntu1", (550, 90, 7)),
]


@pytest.mark.parametrize("version,key", INTDOT_KEYS)
def test_intdot_key(version, key):
    assert V.intdot_key(version) == key


@pytest.mark.parametrize("version", ["v1.16.2", "", ".5", "1..2", "1.2.", "abc", "-1"])
def test_intdot_key_rejects(version):
    with pytest.raises(V.VersError, match="intdot"):
        V.intdot_key(version)


def test_intdot_key_rejects_non_string():
    with pytest.raises(V.VersError):
        V.intdot_key(535)


def test_intdot_key_sort_matches_compare():
    versions = ["1.10", "1.2", "1.2.1", "1.02.0010", "1.0002.10", "1.2.2", "535.183.01", "535.161.07", "2"]
    by_key = sorted(versions, key=V.intdot_key)
    by_cmp = sorted(versions, key=functools.cmp_to_key(lambda a, b: V.compare("intdot", a, b)))
    assert [V.intdot_key(v) for v in by_key] == [V.intdot_key(v) for v in by_cmp]
    assert by_key[:3] == ["1.2", "1.2.1", "1.2.2"]


SEMVER_ORDER = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.1.0",
    "2.0.0",
    "10.0.0",
]

DEB_ORDER = [
    "1.0~~",
    "1.0~~a",
    "1.0~",
    "1.0",
    "1.0-1",
    "1.0a",
    "1.0+b1",
    "1.0.1",
    "1.1",
    "1.10",
    "2.0",
    "1:0.1",
    "1:1.0~rc1-1",
    "1:1.0-1",
    "1:1.0-1ubuntu1",
    "1:1.0-2",
    "2:0",
]


@pytest.mark.parametrize("scheme,order", [("semver", SEMVER_ORDER), ("deb", DEB_ORDER)])
def test_total_order(scheme, order):
    for i, low in enumerate(order):
        assert V.compare(scheme, low, low) == 0
        for high in order[i + 1:]:
            assert V.compare(scheme, low, high) == -1, (low, high)
            assert V.compare(scheme, high, low) == 1, (high, low)


@pytest.mark.parametrize(
    "scheme,a,b",
    [
        ("semver", "1.0.0+build.1", "1.0.0+build.2"),
        ("deb", "0:1.0", "1.0"),
        ("deb", "1.0-0", "1.0"),
        ("deb", "1.00", "1.0"),
        ("intdot", "535.183.01", "535.183.1"),
        ("intdot", "1.17", "1.17.0"),
        ("intdot", "1.2beta", "1.2rc1"),
    ],
)
def test_compare_equal(scheme, a, b):
    assert V.compare(scheme, a, b) == 0


@pytest.mark.parametrize(
    "scheme,high,low",
    [
        ("intdot", "1.10", "1.9"),
        ("intdot", "535.216.01", "535.183.01"),
        ("intdot", "1.2.1", "1.2"),
        ("semver", "1.0.0", "1.0.0-rc.1"),
        ("deb", "1.0.1", "1.0a"),
    ],
)
def test_compare_greater(scheme, high, low):
    assert V.compare(scheme, high, low) == 1
    assert V.compare(scheme, low, high) == -1


@pytest.mark.parametrize(
    "scheme,a,b",
    [
        ("generic", "1", "2"),
        ("all", "1", "2"),
        (None, "1", "2"),
        ("intdot", "v1", "2"),
        ("intdot", 1, "2"),
        ("semver", "1.0", "1.0.0"),
        ("semver", "1.0.0-", "1.0.0"),
        ("semver", "1.0.0-01", "1.0.0"),
        ("deb", "", "1"),
        ("deb", "1.0 ", "1"),
        ("deb", "1.0\n", "1"),
        ("semver", "1.0.0\n", "1.0.0"),
    ],
)
def test_compare_errors(scheme, a, b):
    with pytest.raises(V.VersError):
        V.compare(scheme, a, b)


# ---------------------------------------------------------------------------
# vls best effort
# ---------------------------------------------------------------------------

VLS = [
    ("<=2", "intdot", [("<=", "2")]),
    ("<V3.0.29", "intdot", [("<", "3.0.29")]),
    (" < 1.17.8 ", "intdot", [("<", "1.17.8")]),
    (">= 1.2, < 2.0", "intdot", [(">=", "1.2"), ("<", "2.0")]),
    ("<2.0 && >=1.2", "intdot", [(">=", "1.2"), ("<", "2.0")]),
    (">=V2022.4<V2023.1", "intdot", [(">=", "2022.4"), ("<", "2023.1")]),
    ("vers:all/<V4.3.8", "intdot", [("<", "4.3.8")]),
    ("vers:all/>=V2022.4<V2023.1", "intdot", [(">=", "2022.4"), ("<", "2023.1")]),
    ("==1.2.3", "intdot", [("=", "1.2.3")]),
    ("1.2.3", "intdot", [("=", "1.2.3")]),
    ("*", "intdot", [("*", "")]),
    ("all", "semver", [("*", "")]),
    ("<v1.17.0", "semver", [("<", "1.17.0")]),
    ("<1:1.0-1", "deb", [("<", "1:1.0-1")]),
]


@pytest.mark.parametrize("text,scheme,constraints", VLS, ids=[v[0] for v in VLS])
def test_parse_vls(text, scheme, constraints):
    rng = V.parse_vls(text, scheme)
    assert rng.scheme == scheme
    assert rng.constraints == constraints


def test_parse_vls_prefers_strict_vers():
    assert V.parse_vls("vers:intdot/<535.183.01") == V.parse("vers:intdot/<535.183.01")
    assert V.parse_vls("vers:all/*").scheme == "all"


@pytest.mark.parametrize(
    "text,scheme",
    [
        ("", "intdot"),
        ("   ", "intdot"),
        ("prior to 4.2", "intdot"),
        ("1.0 - 2.0", "intdot"),
        ("<2|<3", "intdot"),
        ("<abc", "intdot"),
        ("<2", "generic"),
        (None, "intdot"),
        ("vers:generic/", "intdot"),
        ("<" + "1" * 5000, "intdot"),
    ],
)
def test_parse_vls_errors(text, scheme):
    with pytest.raises(V.VersError):
        V.parse_vls(text, scheme)


# ---------------------------------------------------------------------------
# pypi (PEP 440): pre-releases sort before the release (NVIDIA TensorRT-LLM 1.3.0rc15 ... rc17)
# ---------------------------------------------------------------------------

PEP440_ORDER = ["0.18.2", "1.2.0.dev3", "1.2.0a1", "1.2.0b2", "1.2.0rc1", "1.2", "1.2.0.post1", "1.2.1",
                "1.3.0rc12", "1.3.0rc14", "1.3.0rc15", "1.3.0rc17", "1.3.0", "1.3.0+cu130", "2!0.1"]


def test_pypi_total_order():
    keys = [V.pypi_key(v) for v in PEP440_ORDER]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("a,b", [("1.17", "1.17.0"), ("v1.3.0-rc.15", "1.3.0rc15"), ("1.3.0RC15", "1.3.0rc15"),
                                 ("1.0alpha1", "1.0a1"), ("1.0.dev0", "1.0.dev"), ("010.16.1", "10.16.1")])
def test_pypi_equal_spellings(a, b):
    assert V.compare("pypi", a, b) == 0


def test_pypi_ranges_order_release_candidates():
    fixed = V.parse("vers:pypi/>=1.3.0rc15")
    assert fixed.contains("1.3.0rc17") and fixed.contains("1.3.0") and not fixed.contains("1.3.0rc14")
    affected = V.parse("vers:pypi/<=1.3.0rc14")
    assert affected.contains("1.3.0rc12") and affected.contains("1.2.1") and not affected.contains("1.3.0")
    with pytest.raises(V.VersError, match="not sorted"):
        V.parse("vers:pypi/1.3.0|1.3.0rc1")


@pytest.mark.parametrize("version,expected", [("1.3.0rc17", True), ("2.0.dev1", True), ("1.0b2", True),
                                              ("1.3.0", False), ("1.0.post1", False), ("535.183.01", False),
                                              ("2.4.0+cu121", False)])
def test_is_prerelease(version, expected):
    assert V.is_prerelease(version) is expected


@pytest.mark.parametrize("version", ["", "r25.10", "1.0-foo", "1..2", "v", None])
def test_pypi_key_rejects(version):
    with pytest.raises(V.VersError):
        V.pypi_key(version)
