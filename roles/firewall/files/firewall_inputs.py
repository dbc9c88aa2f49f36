# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read-only input checks for the aisec.gpu_host.firewall role (runs on the target).

The role pipes this file to the target's Python (standard library only, Python >= 3.8) and passes
its input as JSON in the environment variable ``AISEC_FW_INPUT``. It prints one JSON object and
always exits 0; the role turns ``errors`` and ``lockout`` into clear assertion failures.

Two modes:

``preflight``
    Validates every address list (strict CIDR syntax, no host bits), every port list and the
    structured allow-list entries, then checks that the address the controller comes from (the
    client address in ``SSH_CONNECTION`` as the target sees it, or an explicit override) stays
    inside the admin allow list, is not on the block list, and reaches an allowed SSH port.
    With a ``host`` key it also reads, without changing anything, what the role decides on: the
    sha256 of the current ``/etc/nftables.conf`` and whether it carries the role's marker (the
    ownership check), and whether the ``nftables`` package is installed (so the role runs apt only
    when it is not). Result key ``host``.

``emergency``
    Validates the addresses given to ``playbooks/emergency_block.yml``, refuses to block the
    controller, and returns the new emergency state (normalised, sorted block list; lockdown flag).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import subprocess
import sys

ENTRY_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,15}$")
PORT_RANGE_RE = re.compile(r"^([0-9]{1,5})-([0-9]{1,5})$")
PROTOCOLS = ("tcp", "udp")
EMERGENCY_ACTIONS = ("status", "block", "unblock", "lockdown", "release")


def parse_network(value):
    """Return ``(network, None)`` for a valid address/CIDR string, else ``(None, reason)``.

    Plain addresses become host networks (/32, /128). Networks with host bits set are refused
    because the operator's intent is ambiguous (``10.0.0.1/24``: the host or the subnet?).
    """
    if isinstance(value, bool) or not isinstance(value, str):
        return None, "%r is not a string" % (value,)
    text = value.strip()
    if not text or text != value:
        return None, "%r has surrounding whitespace or is empty" % (value,)
    try:
        return ipaddress.ip_network(text, strict=True), None
    except ValueError as exc:
        if "host bits set" in str(exc):
            fixed = ipaddress.ip_network(text, strict=False)
            return None, "%s has host bits set (did you mean %s or the single address?)" % (text, fixed)
        return None, "%s is not an IPv4/IPv6 address or CIDR (host names are not accepted)" % (text,)


def check_networks(label, values, errors, allow_empty=True):
    """Validate a list of addresses; return the parsed networks (invalid ones skipped)."""
    if not isinstance(values, list):
        errors.append("%s must be a list of addresses/CIDRs, got %s" % (label, type(values).__name__))
        return []
    if not values and not allow_empty:
        errors.append("%s must not be empty" % label)
    nets = []
    for value in values:
        net, reason = parse_network(value)
        if reason:
            errors.append("%s: %s" % (label, reason))
        else:
            nets.append(net)
    return nets


def check_port(value):
    """Return ``None`` if ``value`` is a port (1-65535) or a ``"first-last"`` range, else a reason."""
    if isinstance(value, bool):
        return "%r is not a port" % (value,)
    if isinstance(value, int):
        return None if 1 <= value <= 65535 else "%d is outside 1-65535" % value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return check_port(int(text))
        match = PORT_RANGE_RE.match(text)
        if match:
            first, last = int(match.group(1)), int(match.group(2))
            if not (1 <= first <= 65535 and 1 <= last <= 65535):
                return "%s is outside 1-65535" % text
            if first > last:
                return "%s is an empty range" % text
            return None
    return "%r is not a port number or a 'first-last' range" % (value,)


def port_contains(ports, port):
    """True if ``port`` (int) is one of ``ports`` (ints, digit strings or ranges); invalid items are ignored."""
    for value in ports:
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and value == port:
            return True
        if isinstance(value, str):
            text = value.strip()
            if text.isdigit() and int(text) == port:
                return True
            match = PORT_RANGE_RE.match(text)
            if match and int(match.group(1)) <= port <= int(match.group(2)):
                return True
    return False


def check_ports(label, values, errors, allow_empty=True):
    if not isinstance(values, list):
        errors.append("%s must be a list of ports, got %s" % (label, type(values).__name__))
        return
    if not values and not allow_empty:
        errors.append("%s must not be empty" % label)
    for value in values:
        reason = check_port(value)
        if reason:
            errors.append("%s: %s" % (label, reason))


def check_entries(label, entries, errors):
    """Validate structured allow-list entries ``{name, cidrs, ports, protocols}``."""
    if not isinstance(entries, list):
        errors.append("%s must be a list of entries, got %s" % (label, type(entries).__name__))
        return
    seen = set()
    for index, entry in enumerate(entries):
        where = "%s[%d]" % (label, index)
        if not isinstance(entry, dict):
            errors.append("%s must be a dictionary with name, cidrs, ports" % where)
            continue
        unknown = sorted(set(entry) - {"name", "cidrs", "ports", "protocols"})
        if unknown:
            errors.append("%s: unknown keys %s" % (where, ", ".join(unknown)))
        name = entry.get("name")
        if not isinstance(name, str) or not ENTRY_NAME_RE.match(name):
            errors.append("%s: name %r must match %s (it becomes an nftables set name)"
                          % (where, name, ENTRY_NAME_RE.pattern))
        elif name in seen:
            errors.append("%s: duplicate name %r" % (where, name))
        else:
            seen.add(name)
            where = "%s[%s]" % (label, name)
        check_networks(where + ".cidrs", entry.get("cidrs"), errors, allow_empty=False)
        check_ports(where + ".ports", entry.get("ports"), errors, allow_empty=False)
        protocols = entry.get("protocols", ["tcp"])
        if (not isinstance(protocols, list) or not protocols
                or any(p not in PROTOCOLS for p in protocols) or len(set(protocols)) != len(protocols)):
            errors.append("%s.protocols must be a non-empty list of distinct values from %s, got %r"
                          % (where, "/".join(PROTOCOLS), protocols))


def ssh_connection_from_ancestors(proc="/proc", pid="self", max_depth=32):
    """Find ``SSH_CONNECTION`` in the environment of the nearest ancestor process that has it.

    Privilege escalation (sudo) resets the environment, but the SSH session that started this
    process still carries the variable; root can read it from ``/proc/<pid>/environ``.
    """
    for _depth in range(max_depth):
        try:
            with open(os.path.join(proc, str(pid), "environ"), "rb") as handle:
                for item in handle.read().split(b"\0"):
                    if item.startswith(b"SSH_CONNECTION="):
                        return item.split(b"=", 1)[1].decode("ascii", "replace")
            with open(os.path.join(proc, str(pid), "stat"), "rb") as handle:
                stat = handle.read().decode("ascii", "replace")
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return ""
        if ppid <= 1:
            return ""
        pid = ppid
    return ""


def controller_endpoint(data, environ, proc="/proc"):
    """Return ``(address, port, source)`` of the controller as this host sees it, or Nones."""
    override = data.get("controller_address") or ""
    if override:
        net, reason = parse_network(override)
        if reason or net.num_addresses != 1:
            return None, None, "invalid"
        return net.network_address, None, "firewall_controller_address"
    ssh_connection = (environ.get("SSH_CONNECTION") or ssh_connection_from_ancestors(proc)).split()
    if len(ssh_connection) == 4:
        try:
            address = ipaddress.ip_address(ssh_connection[0].split("%", 1)[0])
            port = int(ssh_connection[3])
        except ValueError:
            return None, None, None
        if getattr(address, "ipv4_mapped", None):
            address = address.ipv4_mapped
        return address, port, "SSH_CONNECTION"
    return None, None, None


def covered(address, networks):
    return any(address.version == net.version and address in net for net in networks)


def file_state(path, marker):
    """``{exists, sha256, marker}`` of ``path`` (sha256/marker None/False when it cannot be read)."""
    state = {"exists": os.path.lexists(path), "sha256": None, "marker": False}
    if not state["exists"]:
        return state
    digest = hashlib.sha256()
    found = False
    needle = marker.encode("utf-8") if marker else b""
    tail = b""
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(65536), b""):
                digest.update(chunk)
                if needle and not found:
                    found = needle in tail + chunk
                    tail = chunk[-len(needle):]
    except OSError:
        return state
    state["sha256"] = digest.hexdigest()
    state["marker"] = found
    return state


def package_installed(name, dpkg_query="dpkg-query", nft_paths=("/usr/sbin/nft", "/sbin/nft")):
    """True if dpkg reports ``name`` as installed; without dpkg, whether the nft binary exists."""
    try:
        proc = subprocess.run([dpkg_query, "-W", "-f=${Status}", name], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, check=False)
    except OSError:
        return any(os.path.exists(path) for path in nft_paths)
    words = proc.stdout.decode("ascii", "replace").split()
    return proc.returncode == 0 and len(words) == 3 and words[2] == "installed"


def host_state(spec):
    """Read-only state of the host that the role decides on (see the module docstring)."""
    return {
        "nftables_conf": file_state(spec.get("nftables_conf", "/etc/nftables.conf"), spec.get("marker", "")),
        "nftables_installed": package_installed(spec.get("package", "nftables")),
    }


def preflight(data, environ, proc="/proc"):
    errors = []
    for label, values in sorted(data.get("networks", {}).items()):
        check_networks(label, values, errors)
    for label, values in sorted(data.get("ports", {}).items()):
        check_ports(label, values, errors)
    for label, entries in sorted(data.get("entries", {}).items()):
        check_entries(label, entries, errors)
    if data.get("controller_address"):
        net, reason = parse_network(data["controller_address"])
        if reason or net.num_addresses != 1:
            errors.append("firewall_controller_address: %s must be a single IPv4/IPv6 address"
                          % data["controller_address"])

    admin = [n for n in (parse_network(v)[0] for v in data.get("networks", {}).get("firewall_admin_cidrs", [])) if n]
    blocked = [n for n in (parse_network(v)[0] for v in data.get("networks", {}).get("firewall_blocklist", [])) if n]
    ssh_ports = data.get("ports", {}).get("firewall_ssh_ports", [])

    address, port, source = controller_endpoint(data, environ, proc)
    controller = {"address": str(address) if address else None, "port": port, "source": source}
    lockout = []
    if address is not None:
        if not covered(address, admin):
            lockout.append("the controller reaches this host from %s (%s), which is not inside firewall_admin_cidrs"
                           % (address, source))
        if covered(address, blocked):
            lockout.append("the controller address %s (%s) is inside firewall_blocklist" % (address, source))
        if port is not None and not port_contains(ssh_ports, port):
            lockout.append("the controller connects to SSH port %d, which is not in firewall_ssh_ports" % port)
    result = {"errors": errors, "lockout": lockout, "controller": controller}
    if isinstance(data.get("host"), dict):
        result["host"] = host_state(data["host"])
    return result


def emergency(data, environ, proc="/proc"):
    errors = []
    action = data.get("action")
    if action not in EMERGENCY_ACTIONS:
        errors.append("firewall_emergency_action must be one of %s, got %r" % (", ".join(EMERGENCY_ACTIONS), action))
    addresses = data.get("addresses") or []
    nets = check_networks("firewall_emergency_addresses", addresses, errors)
    if action in ("block", "unblock") and not addresses:
        errors.append("firewall_emergency_addresses must list at least one address for action %s" % action)
    if action in ("status", "lockdown", "release") and addresses:
        errors.append("firewall_emergency_addresses is only used with block/unblock, not %s" % action)

    current = data.get("current") or {}
    current_nets = []
    for value in current.get("blocklist", []):
        net, reason = parse_network(value)
        if reason:
            errors.append("emergency state file: %s" % reason)
        else:
            current_nets.append(net)
    lockdown = bool(current.get("lockdown", False))

    address, port, source = controller_endpoint(data, environ, proc)
    controller = {"address": str(address) if address else None, "port": port, "source": source}
    lockout = []
    if action == "block" and address is not None:
        hits = [str(n) for n in nets if address.version == n.version and address in n]
        if hits:
            lockout.append("blocking %s would cut off the controller itself (%s, from %s)"
                           % (", ".join(hits), address, source))

    new_nets = list(current_nets)
    missing = []
    if not errors:
        if action == "block":
            new_nets.extend(n for n in nets if n not in new_nets)
        elif action == "unblock":
            for net in nets:
                if net in new_nets:
                    new_nets.remove(net)
                else:
                    missing.append(str(net))
        elif action == "lockdown":
            lockdown = True
        elif action == "release":
            lockdown = False
    new_nets.sort(key=lambda n: (n.version, n.network_address, n.prefixlen))
    return {
        "errors": errors,
        "lockout": lockout,
        "controller": controller,
        "not_blocked": missing,
        "state": {"blocklist": [str(n) for n in new_nets], "lockdown": lockdown},
    }


def run(data, environ, proc="/proc"):
    mode = data.get("mode", "preflight")
    if mode == "preflight":
        return preflight(data, environ, proc)
    if mode == "emergency":
        return emergency(data, environ, proc)
    return {"errors": ["unknown mode %r" % (mode,)], "lockout": [], "controller": {}}


def main():
    try:
        data = json.loads(os.environ.get("AISEC_FW_INPUT", "{}"))
        if not isinstance(data, dict):
            raise ValueError("input is not a JSON object")
    except ValueError as exc:
        result = {"errors": ["invalid AISEC_FW_INPUT: %s" % exc], "lockout": [], "controller": {}}
    else:
        result = run(data, os.environ)
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
