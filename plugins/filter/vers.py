# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jinja2 filters for package-url vers ranges and intdot/semver/deb version comparison.

The documentation of each filter lives in the adjacent ``<filter name>.yml`` file
(``ansible-doc -t filter aisec.gpu_host.vers_contains``).
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.aisec.gpu_host.plugins.module_utils import vers as _vers

_COMPARE_SCHEMES = ("intdot", "semver", "deb")


def _text(value, what):
    if isinstance(value, bool) or value is None:
        raise AnsibleFilterError("%s must be a version string, got %r" % (what, value))
    if isinstance(value, int):
        # A bare integer such as 535 is a valid intdot/semver-less version; keep it exact.
        return str(value)
    if isinstance(value, float):
        raise AnsibleFilterError(
            "%s %r is a float: quote versions in YAML (e.g. '535.183' instead of 535.183), "
            "a float loses the difference between 1.10 and 1.1" % (what, value)
        )
    if not isinstance(value, str):
        raise AnsibleFilterError("%s must be a string, got %s" % (what, type(value).__name__))
    return str(value)


def vers_contains(version, spec, strip_v=False):
    """True if ``version`` lies in the canonical vers range ``spec``."""
    version = _text(version, "version")
    if not isinstance(spec, str):
        raise AnsibleFilterError("vers_contains: the range must be a vers string such as 'vers:intdot/<535.183.01'")
    if strip_v and version[:1] in ("v", "V"):
        version = version[1:]
    try:
        return _vers.parse(spec).contains(version)
    except _vers.VersError as exc:
        raise AnsibleFilterError("vers_contains: %s" % exc) from None


def vers_compare(a, b, scheme="intdot"):
    """-1, 0 or 1 as ``a`` is lower than, equal to or higher than ``b`` under ``scheme``."""
    if scheme not in _COMPARE_SCHEMES:
        raise AnsibleFilterError(
            "vers_compare: unsupported scheme %r (choose one of %s)" % (scheme, ", ".join(_COMPARE_SCHEMES))
        )
    try:
        return _vers.compare(scheme, _text(a, "left version"), _text(b, "right version"))
    except _vers.VersError as exc:
        raise AnsibleFilterError("vers_compare: %s" % exc) from None


def intdot_compare(a, b):
    """-1, 0 or 1 comparing two intdot versions (``535.183.01`` == ``535.183.1``)."""
    try:
        return _vers.compare("intdot", _text(a, "left version"), _text(b, "right version"))
    except _vers.VersError as exc:
        raise AnsibleFilterError("intdot_compare: %s" % exc) from None


def vers_parse(spec):
    """Parse a canonical vers string into ``{"scheme": ..., "constraints": [{"comparator", "version"}]}``."""
    if not isinstance(spec, str):
        raise AnsibleFilterError("vers_parse: the range must be a vers string such as 'vers:intdot/<535.183.01'")
    try:
        rng = _vers.parse(spec)
    except _vers.VersError as exc:
        raise AnsibleFilterError("vers_parse: %s" % exc) from None
    return {
        "scheme": rng.scheme,
        "constraints": [{"comparator": comp, "version": ver} for comp, ver in rng.constraints],
    }


class FilterModule(object):
    """vers and version comparison filters."""

    def filters(self):
        return {
            "vers_contains": vers_contains,
            "vers_compare": vers_compare,
            "intdot_compare": intdot_compare,
            "vers_parse": vers_parse,
        }
