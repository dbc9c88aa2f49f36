# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Desired state and plan of the aisec.gpu_host.firewall role (controller side, pure functions).

``desired(variables)`` validates every ``firewall_*`` variable (strict CIDR syntax without host bits, ports and
ranges, allow-list entries, the values written into the ruleset) and returns the normalised lists the templates
write: addresses split into IPv4 and IPv6 sets, IPv4-mapped IPv6 addresses (``::ffff:a.b.c.d``) converted to IPv4
(an IPv4 peer never matches the IPv6 set, so such an entry would otherwise have no effect), port lists as nft
elements. It also returns which control owns each object of the table.

``plan(info, desired, rendered)`` compares that with ``firewall_info`` (the controller lock-out check, the table
drift per control, the boot files, nftables.service).

``emergency(request, current, controller)`` validates a request of ``playbooks/emergency_block.yml`` and returns
the new emergency state.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.aisec.gpu_host.plugins.module_utils import role_plan as rp

ENTRY_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,15}")
PORT_RANGE_RE = re.compile(r"([0-9]{1,5})-([0-9]{1,5})")
RATE_RE = re.compile(r"[1-9][0-9]{0,5}/(second|minute|hour)")
LOG_PREFIX_RE = re.compile(r"[A-Za-z0-9_.-]{1,24}")
IFACE_RE = re.compile(r"[A-Za-z0-9_.-]{1,14}\*?")
PROTOCOLS = ("tcp", "udp")
LOG_LEVELS = ("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug")
EGRESS_POLICIES = ("drop", "log", "accept")
EMERGENCY_ACTIONS = ("status", "block", "unblock", "lockdown", "full_lockdown", "release")

NETWORK_VARS = ("firewall_admin_cidrs", "firewall_client_cidrs", "firewall_monitoring_cidrs", "firewall_blocklist",
                "firewall_dns_servers", "firewall_ntp_servers", "firewall_package_mirrors",
                "firewall_log_collectors", "firewall_csaf_sources")
PORT_VARS = ("firewall_ssh_ports", "firewall_inference_ports", "firewall_metrics_ports",
             "firewall_package_mirror_ports", "firewall_log_collector_ports", "firewall_csaf_source_ports")
# Built-in egress categories: (name, addresses variable, ports variable or fixed ports, protocols).
EGRESS_BUILTIN = (
    ("dns", "firewall_dns_servers", [53], ["udp", "tcp"]),
    ("ntp", "firewall_ntp_servers", [123], ["udp"]),
    ("mirror", "firewall_package_mirrors", "firewall_package_mirror_ports", ["tcp"]),
    ("logs", "firewall_log_collectors", "firewall_log_collector_ports", ["tcp"]),
    ("csaf", "firewall_csaf_sources", "firewall_csaf_source_ports", ["tcp"]),
)

# Which control owns each top-level object of the table (first match; nft_table / firewall_info ``controls``).
# Chains added by hand under other names are attributed by their hook.
OBJECT_CONTROLS = [
    {"match": "blocklist_*", "control": "AISEC-NET-04"},
    {"match": "blocked", "control": "AISEC-NET-04"},
    {"match": "lockdown_*", "control": "AISEC-NET-04"},
    {"match": "eg_*", "control": "AISEC-NET-02"},
    {"match": "egu_*", "control": "AISEC-NET-02"},
    {"match": "egress_allow", "control": "AISEC-NET-02"},
    {"match": "output", "control": "AISEC-NET-02"},
    {"match": "forward", "control": "AISEC-NET-03"},
    {"match": "container_*", "control": "AISEC-NET-03"},
    {"match": "input", "control": "AISEC-NET-01"},
    {"match": "admin_*", "control": "AISEC-NET-01"},
    {"match": "client_*", "control": "AISEC-NET-01"},
    {"match": "monitoring_*", "control": "AISEC-NET-01"},
    {"match": "inu_*", "control": "AISEC-NET-01"},
    {"match": "*_ports", "control": "AISEC-NET-01"},
    {"match": "hook:input", "control": "AISEC-NET-01"},
    {"match": "hook:prerouting", "control": "AISEC-NET-01"},
    {"match": "hook:output", "control": "AISEC-NET-02"},
    {"match": "hook:postrouting", "control": "AISEC-NET-02"},
    {"match": "hook:forward", "control": "AISEC-NET-03"},
]


class FirewallInputError(Exception):
    pass


def parse_network(value):
    """``(network, None)`` for an address or CIDR, else ``(None, reason)``.

    Plain addresses become host networks; host bits are refused (``10.0.0.1/24``: the host or the subnet?);
    IPv4-mapped IPv6 networks (``::ffff:a.b.c.d/128``, ``::ffff:0:0/96``) are converted to their IPv4 network.
    """
    if not isinstance(value, str):
        return None, "%r is not a string" % (value,)
    if not value or value != value.strip() or rp.CONTROL_CHARS_RE.search(value):
        return None, "%r has surrounding whitespace, control characters or is empty" % rp.show(value)
    try:
        net = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        if "host bits set" in str(exc):
            fixed = ipaddress.ip_network(value, strict=False)
            return None, "%s has host bits set (did you mean %s or the single address?)" % (value, fixed)
        return None, "%s is not an IPv4/IPv6 address or CIDR (host names are not accepted)" % rp.show(value)
    if net.version == 6 and net.prefixlen >= 96 and net.network_address.ipv4_mapped is not None:
        v4 = ipaddress.ip_network("%s/%d" % (net.network_address.ipv4_mapped, net.prefixlen - 96))
        return v4, None
    return net, None


def check_networks(label, values, errors, allow_empty=True):
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
        elif net not in nets:
            nets.append(net)
    return nets


def port_text(value):
    """``(nft element, None)`` for a port or ``first-last`` range, else ``(None, reason)``."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return None, "%s is not a port number or a 'first-last' range" % rp.show(value)
    if isinstance(value, int):
        return (str(value), None) if 1 <= value <= 65535 else (None, "%d is outside 1-65535" % value)
    if value.isdigit() and len(value) <= 5:
        return port_text(int(value))
    match = PORT_RANGE_RE.fullmatch(value)
    if match:
        first, last = int(match.group(1)), int(match.group(2))
        if not (1 <= first <= 65535 and 1 <= last <= 65535):
            return None, "%s is outside 1-65535" % value
        if first > last:
            return None, "%s is an empty range" % value
        return "%d-%d" % (first, last), None
    return None, "%s is not a port number or a 'first-last' range" % rp.show(value)


def check_ports(label, values, errors, allow_empty=True):
    if not isinstance(values, list):
        errors.append("%s must be a list of ports, got %s" % (label, type(values).__name__))
        return []
    if not values and not allow_empty:
        errors.append("%s must not be empty" % label)
    out = []
    for value in values:
        text, reason = port_text(value)
        if reason:
            errors.append("%s: %s" % (label, reason))
        elif text not in out:
            out.append(text)
    return out


def port_contains(ports, port):
    for text in ports:
        first, _sep, last = text.partition("-")
        if int(first) <= port <= int(last or first):
            return True
    return False


def split(nets):
    ordered = sorted(nets, key=lambda n: (n.version, n.network_address, n.prefixlen))
    return {"v4": [str(n) for n in ordered if n.version == 4], "v6": [str(n) for n in ordered if n.version == 6]}


def check_entries(label, entries, errors):
    if not isinstance(entries, list):
        errors.append("%s must be a list of entries, got %s" % (label, type(entries).__name__))
        return []
    out, seen = [], set()
    for index, entry in enumerate(entries):
        where = "%s[%d]" % (label, index)
        if not isinstance(entry, dict):
            errors.append("%s must be a dictionary with name, cidrs, ports" % where)
            continue
        unknown = sorted(set(entry) - {"name", "cidrs", "ports", "protocols"})
        if unknown:
            errors.append("%s: unknown keys %s" % (where, ", ".join(unknown)))
        name = entry.get("name")
        if not rp.matches(ENTRY_NAME_RE, name):
            errors.append("%s: name %s must match %s (it becomes an nftables set name)"
                          % (where, rp.show(name), ENTRY_NAME_RE.pattern))
            name = None
        elif name in seen:
            errors.append("%s: duplicate name %r" % (where, name))
        else:
            seen.add(name)
            where = "%s[%s]" % (label, name)
        nets = check_networks(where + ".cidrs", entry.get("cidrs"), errors, allow_empty=False)
        ports = check_ports(where + ".ports", entry.get("ports"), errors, allow_empty=False)
        protocols = entry.get("protocols", ["tcp"])
        if (not isinstance(protocols, list) or not protocols
                or any(p not in PROTOCOLS for p in protocols) or len(set(protocols)) != len(protocols)):
            errors.append("%s.protocols must be a non-empty list of distinct values from %s, got %s"
                          % (where, "/".join(PROTOCOLS), rp.show(protocols)))
            protocols = ["tcp"]
        if name:
            out.append(dict(name=name, ports=ports, protocols=protocols, **split(nets)))
    return out


def desired(variables):
    """Validate and normalise the firewall variables (see the module docstring)."""
    v = variables
    errors = []
    nets = {}
    for label in NETWORK_VARS:
        nets[label] = check_networks(label, v.get(label, []), errors)
    if not v.get("firewall_admin_cidrs"):
        errors.append("firewall_admin_cidrs must list at least one admin network (SSH is otherwise closed to "
                      "everyone)")
    ports = {}
    for label in PORT_VARS:
        ports[label] = check_ports(label, v.get(label, []), errors, allow_empty=label != "firewall_ssh_ports")
    input_allow = check_entries("firewall_input_allow", v.get("firewall_input_allow", []), errors)
    egress_user = check_entries("firewall_egress_allow", v.get("firewall_egress_allow", []), errors)

    for label, pattern, example in (("firewall_log_rate", RATE_RE, "10/second"),
                                    ("firewall_icmp_rate", RATE_RE, "10/second"),
                                    ("firewall_log_prefix", LOG_PREFIX_RE, "aisec-fw")):
        if not rp.matches(pattern, v.get(label)):
            errors.append("%s must look like %r (got %s)" % (label, example, rp.show(v.get(label))))
    if v.get("firewall_log_level") not in LOG_LEVELS:
        errors.append("firewall_log_level must be one of %s" % ", ".join(LOG_LEVELS))
    if v.get("firewall_egress_policy") not in EGRESS_POLICIES:
        errors.append("firewall_egress_policy must be drop, log or accept (got %s)"
                      % rp.show(v.get("firewall_egress_policy")))
    if not rp.int_in(v.get("firewall_log_burst"), 1, 100000):
        errors.append("firewall_log_burst must be 1 to 100000")
    ifaces = v.get("firewall_container_interfaces", [])
    if not isinstance(ifaces, list) or not all(rp.matches(IFACE_RE, i) for i in ifaces):
        errors.append("firewall_container_interfaces are interface names of at most 14 characters of "
                      "[A-Za-z0-9_.-], optionally ending in * (got %s)" % rp.show(ifaces))
        ifaces = []
    if v.get("firewall_container_forward") and not ifaces:
        errors.append("firewall_container_interfaces must not be empty while firewall_container_forward is true")
    confirm, rollback = v.get("firewall_confirm_timeout"), v.get("firewall_rollback_timeout")
    if not rp.int_in(confirm, 5, 3600) or not rp.int_in(rollback, 10, 86400) or rollback < confirm + 15:
        errors.append("firewall_confirm_timeout must be 5-3600 s and firewall_rollback_timeout at least 15 s longer "
                      "(got confirm=%s, rollback=%s)" % (rp.show(confirm), rp.show(rollback)))
    controller = v.get("firewall_controller_address") or ""
    controller_net = None
    if controller:
        controller_net, reason = parse_network(controller)
        if reason or controller_net.num_addresses != 1:
            errors.append("firewall_controller_address: %s must be a single IPv4/IPv6 address" % rp.show(controller))
            controller_net = None

    egress = []
    for name, addr_var, port_spec, protocols in EGRESS_BUILTIN:
        if not nets[addr_var]:
            continue
        entry_ports = ports[port_spec] if isinstance(port_spec, str) else [str(p) for p in port_spec]
        egress.append(dict(set="eg_" + name, ports=entry_ports, protocols=protocols, **split(nets[addr_var])))
    for entry in egress_user:
        if entry["v4"] or entry["v6"]:
            egress.append(dict(set="egu_" + entry["name"], ports=entry["ports"], protocols=entry["protocols"],
                               v4=entry["v4"], v6=entry["v6"]))
    return {
        "errors": errors,
        "sets": {
            "blocklist": split(nets["firewall_blocklist"]),
            "admin": split(nets["firewall_admin_cidrs"]),
            "client": split(nets["firewall_client_cidrs"]),
            "monitoring": split(nets["firewall_monitoring_cidrs"]),
        },
        "ports": {
            "ssh": ports["firewall_ssh_ports"],
            "inference": ports["firewall_inference_ports"],
            "metrics": ports["firewall_metrics_ports"],
        },
        "input_allow": [dict(e, set="inu_" + e["name"]) for e in input_allow],
        "egress": egress,
        "container_interfaces": ifaces,
        "controller_address": str(controller_net.network_address) if controller_net else "",
        "controls": OBJECT_CONTROLS,
        "default_control": "AISEC-NET-01",
    }


def _covered(address, networks):
    return any(address.version == n.version and address in n for n in networks)


def lockout(desired_state, controller):
    """Why the ruleset would cut off the controller (``[]`` when it keeps it, or when the address is unknown).

    ``controller``: ``firewall_info``'s ``controller`` (address and SSH port as the host sees them); an explicit
    ``firewall_controller_address`` takes precedence."""
    text = desired_state.get("controller_address") or (controller or {}).get("address")
    if not text:
        return []
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return ["the controller address %s reported by the host is not an IP address" % rp.show(text)]
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    source = "firewall_controller_address" if desired_state.get("controller_address") else "SSH_CONNECTION"
    sets = desired_state["sets"]
    admin = [ipaddress.ip_network(n) for n in sets["admin"]["v4"] + sets["admin"]["v6"]]
    blocked = [ipaddress.ip_network(n) for n in sets["blocklist"]["v4"] + sets["blocklist"]["v6"]]
    out = []
    if not _covered(address, admin):
        out.append("the controller reaches this host from %s (%s), which is not inside firewall_admin_cidrs"
                   % (address, source))
    if _covered(address, blocked):
        out.append("the controller address %s (%s) is inside firewall_blocklist" % (address, source))
    port = (controller or {}).get("port")
    if source == "SSH_CONNECTION" and isinstance(port, int) and not port_contains(desired_state["ports"]["ssh"], port):
        out.append("the controller connects to SSH port %d, which is not in firewall_ssh_ports" % port)
    return out


def plan(info, desired_state, specs, rendered, stock_sha256=(), marker="", conf_overwrite=False):
    """What differs between the host (``firewall_info``) and the desired state.

    ``specs``: the role's managed files (vars ``__firewall_files``); ``rendered``: ``{src: text}``.
    """
    info = info or {}
    files = info.get("files") or {}
    contents = info.get("contents") or {}
    conf_path = "/etc/nftables.conf"
    conf = files.get(conf_path) or {}
    conf_text = contents.get(conf_path)
    conf_ours = (conf_overwrite or not conf.get("exists") or conf.get("sha256") in stock_sha256
                 or (bool(marker) and conf_text is not None and marker in conf_text))
    table = info.get("table")
    drift = rp.files_drift(specs, files, rendered)
    service = (info.get("services") or {}).get("nftables.service") or {}
    return {
        "install": not info.get("nft_installed", False) or not (info.get("packages") or {}).get("nftables"),
        "lockout": lockout(desired_state, info.get("controller")),
        "controller": info.get("controller") or {},
        "conf_ours": bool(conf_ours),
        "table_changed": None if table is None else table.get("changed"),
        "table_error": None if table is None else table.get("error"),
        "table_controls": [] if table is None else table.get("changed_controls", []),
        "files": drift,
        "files_controls": rp.controls_of(drift, specs),
        "service_enable": service.get("enabled") != "enabled",
        "service_start": service.get("active") != "active",
    }


def live_admin_path(listing):
    """The admin path the live table keeps during a lockdown: a desired-state-like mapping of its admin sets and
    SSH ports, read from the canonical listing (``firewall_info`` with ``live``)."""
    from ansible_collections.aisec.gpu_host.plugins.module_utils import nft  # pure string parsing
    return {"controller_address": "",
            "sets": {"admin": {"v4": nft.set_elements(listing, "admin_v4"), "v6": nft.set_elements(listing, "admin_v6")},
                     "blocklist": {"v4": [], "v6": []}},
            "ports": {"ssh": nft.set_elements(listing, "ssh_ports")}}


def emergency(request, current, controller, live_listing=None):
    """Validate an emergency request and return the new state (see playbooks/emergency_block.yml).

    With ``live_listing`` (the live table), a lockdown is refused when the admin path it keeps (the live admin sets
    and SSH ports) would not cover the controller."""
    errors = []
    action = request.get("action")
    if action not in EMERGENCY_ACTIONS:
        errors.append("firewall_emergency_action must be one of %s, got %s"
                      % (", ".join(EMERGENCY_ACTIONS), rp.show(action)))
    addresses = request.get("addresses") or []
    nets = check_networks("firewall_emergency_addresses", addresses, errors)
    if action in ("block", "unblock") and not addresses:
        errors.append("firewall_emergency_addresses must list at least one address for action %s" % action)
    if action in ("status", "lockdown", "full_lockdown", "release") and addresses:
        errors.append("firewall_emergency_addresses is only used with block/unblock, not %s" % action)
    current = current or {}
    current_nets = check_networks("emergency state file", current.get("blocklist", []), errors)
    mode = current.get("lockdown", False)
    mode = {True: "inbound", False: "none"}.get(mode, mode)
    if mode not in ("none", "inbound", "full"):
        errors.append("emergency state file: lockdown %s is not none, inbound or full" % rp.show(mode))
        mode = "none"
    text = request.get("controller_address") or (controller or {}).get("address")
    address = None
    if text:
        try:
            address = ipaddress.ip_address(text)
            if getattr(address, "ipv4_mapped", None):
                address = address.ipv4_mapped
        except ValueError:
            errors.append("controller address %s is not an IP address" % rp.show(text))
    lockout_msgs = []
    if action == "block" and address is not None:
        hits = [str(n) for n in nets if address.version == n.version and address in n]
        if hits:
            lockout_msgs.append("blocking %s would cut off the controller itself (%s)" % (", ".join(hits), address))
    if action in ("lockdown", "full_lockdown") and address is not None and live_listing:
        for reason in lockout(live_admin_path(live_listing),
                              {"address": str(address), "port": (controller or {}).get("port")}):
            if "firewall_blocklist" not in reason:
                lockout_msgs.append("the %s would cut this controller off: %s" % (
                    action.replace("_", " "), reason.replace("firewall_admin_cidrs", "the live admin set")
                    .replace("firewall_ssh_ports", "the live SSH port set")))
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
            mode = "inbound"
        elif action == "full_lockdown":
            mode = "full"
        elif action == "release":
            mode = "none"
    new_nets.sort(key=lambda n: (n.version, n.network_address, n.prefixlen))
    return {
        "errors": errors,
        "lockout": lockout_msgs,
        "controller": {"address": str(address) if address else None, "port": (controller or {}).get("port")},
        "not_blocked": missing,
        "state": {"blocklist": [str(n) for n in new_nets], "lockdown": mode},
    }
