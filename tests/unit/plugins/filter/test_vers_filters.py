# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests for plugins/filter/vers.py."""

from __future__ import annotations

import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.aisec.gpu_host.plugins.filter import vers as F

FILTERS = F.FilterModule().filters()
FILTER_DIR = os.path.dirname(F.__file__)


def test_filter_names():
    assert set(FILTERS) == {"vers_contains", "vers_compare", "intdot_compare", "vers_parse"}


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_every_filter_has_sidecar_documentation(name):
    with open(os.path.join(FILTER_DIR, name + ".yml"), encoding="utf-8") as handle:
        docs = yaml.safe_load(handle)
    assert docs["DOCUMENTATION"]["name"] == name
    assert docs["DOCUMENTATION"]["short_description"]
    assert "_input" in docs["DOCUMENTATION"]["options"]
    assert "aisec.gpu_host." + name in docs["EXAMPLES"]
    assert "_value" in docs["RETURN"]


@pytest.mark.parametrize(
    "version,spec,kwargs,expected",
    [
        ("535.161.07", "vers:intdot/<535.183.01", {}, True),
        ("535.183.1", "vers:intdot/<535.183.01", {}, False),
        ("535.216.01", "vers:intdot/>=535|<535.230.02", {}, True),
        ("570.86.15", "vers:intdot/>=570|<570.86.16", {}, True),
        (535, "vers:intdot/>=535|<536", {}, True),
        ("v1.16.2", "vers:semver/<1.17.0", {"strip_v": True}, True),
        ("V1.17.0", "vers:semver/<1.17.0", {"strip_v": True}, False),
        ("1.17.0~rc.1-1", "vers:deb/<1.17.0-1", {}, True),
        ("anything", "vers:all/*", {}, True),
        ("1.0", "vers:none/*", {}, False),
    ],
)
def test_vers_contains(version, spec, kwargs, expected):
    assert F.vers_contains(version, spec, **kwargs) is expected
    assert FILTERS["vers_contains"](version, spec, **kwargs) is expected


@pytest.mark.parametrize(
    "version,spec,message",
    [
        ("1.0", "vers:all/<V4.3.8", r"only allows 'vers:all/\*'"),
        ("1.0", "vers:generic/1.0", "generic"),
        ("1.0", "vers:intdot/2|1", "not sorted"),
        ("v1.16.2", "vers:intdot/<2", "intdot"),
        ("1.0", None, "must be a vers string"),
        ("1.0", 5, "must be a vers string"),
        (None, "vers:intdot/<2", "must be a version string"),
        (True, "vers:intdot/<2", "must be a version string"),
        (535.18, "vers:intdot/<536", "float"),
        (["1"], "vers:intdot/<2", "must be a string"),
    ],
)
def test_vers_contains_errors(version, spec, message):
    with pytest.raises(AnsibleFilterError, match=message):
        F.vers_contains(version, spec)


@pytest.mark.parametrize(
    "a,b,scheme,expected",
    [
        ("535.183.01", "535.183.1", "intdot", 0),
        ("1.10", "1.9", "intdot", 1),
        ("1.17", "1.17.0", "intdot", 0),
        ("1.0.0-alpha.1", "1.0.0-alpha", "semver", 1),
        ("1.17.0~rc.1-1", "1.17.0-1", "deb", -1),
        ("1:0.1", "2.0", "deb", 1),
    ],
)
def test_vers_compare(a, b, scheme, expected):
    assert F.vers_compare(a, b, scheme=scheme) == expected


def test_vers_compare_default_scheme_is_intdot():
    assert F.vers_compare("535.216.01", "535.183.01") == 1


@pytest.mark.parametrize(
    "a,b,scheme,message",
    [
        ("1", "2", "generic", "unsupported scheme"),
        ("1", "2", None, "unsupported scheme"),
        ("v1", "2", "intdot", "intdot"),
        ("1.0", "1.0.0", "semver", "semver"),
        (1.5, "2", "intdot", "float"),
    ],
)
def test_vers_compare_errors(a, b, scheme, message):
    with pytest.raises(AnsibleFilterError, match=message):
        F.vers_compare(a, b, scheme=scheme)


@pytest.mark.parametrize(
    "a,b,expected",
    [("535.216.01", "535.183.01", 1), ("535.183.01", "535.183.1", 0), ("1.9", "1.10", -1), (2, "1.9", 1)],
)
def test_intdot_compare(a, b, expected):
    assert F.intdot_compare(a, b) == expected


@pytest.mark.parametrize("a,b", [("v1", "1"), ("1", ""), (None, "1"), (1.5, "1")])
def test_intdot_compare_errors(a, b):
    with pytest.raises(AnsibleFilterError, match="intdot_compare|version"):
        F.intdot_compare(a, b)


def test_vers_parse():
    assert F.vers_parse("vers:intdot/>=550|<550.90.07") == {
        "scheme": "intdot",
        "constraints": [{"comparator": ">=", "version": "550"}, {"comparator": "<", "version": "550.90.07"}],
    }
    assert F.vers_parse("vers:all/*") == {"scheme": "all", "constraints": [{"comparator": "*", "version": ""}]}
    assert F.vers_parse("vers:none/*") == {"scheme": "none", "constraints": []}


@pytest.mark.parametrize("spec", ["vers:all/<V4.3.8", "<2", None, 3])
def test_vers_parse_errors(spec):
    with pytest.raises(AnsibleFilterError, match="vers_parse"):
        F.vers_parse(spec)
