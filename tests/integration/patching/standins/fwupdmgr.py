# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-in fwupdmgr for the aisec.gpu_host patching integration test (containers have no firmware).

Installed by molecule/patching/prepare.yml as /usr/local/lib/aisec-test/fwupdmgr.py with a /usr/local/bin/fwupdmgr
wrapper that runs it with python3.

Implements the subset the patching role and gpu_facts use, with the JSON shape of fwupd 1.8/1.9:
``--version``, ``refresh``, ``get-devices --json``, ``get-updates --json`` (exit 2 when nothing is
pending, like fwupd) and ``update DEVICE-ID`` (installs the newest release; exit 2 when there is none).
Installed versions live in /var/lib/aisec-test/fwupd-state.json; every update is appended to
/var/lib/aisec-test/fwupd-updates.log so that the test can tell what was flashed.
"""

import json
import os
import sys

STATE = "/var/lib/aisec-test/fwupd-state.json"
LOG = "/var/lib/aisec-test/fwupd-updates.log"

DEVICES = [
    {
        "Name": "HGX_FW_HMC_0",
        "DeviceId": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
        "Guid": ["7b3c1f0e-9d2a-5c4b-8e6f-1a2b3c4d5e6f"],
        "Vendor": "NVIDIA",
        "Plugin": "redfish",
        "Flags": ["internal", "updatable", "registered"],
        "VersionFormat": "triplet",
        "Summary": "HGX H100 8-GPU management controller (stand-in)",
        "Version": "1.5.0",
        "Releases": [
            {"Version": "1.6.0", "RemoteId": "lvfs", "Urgency": "high",
             "Issues": ["CVE-2099-10004"], "Summary": "Fixes CVE-2099-10004"},
        ],
    },
    {
        "Name": "System Firmware",
        "DeviceId": "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c",
        "Guid": ["230c8b18-8d9b-53ec-838b-6cfc0383493a"],
        "Vendor": "Example Corp",
        "Plugin": "uefi_capsule",
        "Flags": ["internal", "updatable", "needs-reboot", "registered"],
        "VersionFormat": "plain",
        "Summary": "UEFI system firmware (stand-in)",
        "Version": "2.1",
        "Releases": [
            {"Version": "2.2", "RemoteId": "lvfs", "Urgency": "medium", "Issues": [],
             "Summary": "Stability fixes"},
        ],
    },
]


def _key(version):
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def load_state():
    try:
        with open(STATE, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def devices():
    state = load_state()
    out = []
    for dev in DEVICES:
        dev = dict(dev)
        dev["Version"] = state.get(dev["DeviceId"], dev["Version"])
        dev["Releases"] = [r for r in dev["Releases"] if _key(r["Version"]) > _key(dev["Version"])]
        out.append(dev)
    return out


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--") or a in ("--version", "--json")]
    if not args:
        sys.stderr.write("fwupdmgr stand-in: no command\n")
        return 1
    cmd = args[0]
    if cmd == "--version":
        print("client version:\t1.8.12 (aisec-test stand-in)")
        return 0
    if cmd == "refresh":
        print("Metadata is up to date (stand-in)")
        return 0
    if cmd == "get-devices":
        print(json.dumps({"Devices": [{k: v for k, v in d.items() if k != "Releases"} for d in devices()]}, indent=2))
        return 0
    if cmd == "get-updates":
        pending = [d for d in devices() if d["Releases"]]
        print(json.dumps({"Devices": pending}, indent=2))
        return 0 if pending else 2
    if cmd == "update" and len(args) == 2:
        for dev in devices():
            if args[1] in (dev["DeviceId"], dev["Name"]) and dev["Releases"]:
                newest = max(dev["Releases"], key=lambda r: _key(r["Version"]))
                state = load_state()
                state[dev["DeviceId"]] = newest["Version"]
                os.makedirs(os.path.dirname(STATE), exist_ok=True)
                with open(STATE, "w", encoding="utf-8") as fh:
                    json.dump(state, fh)
                with open(LOG, "a", encoding="utf-8") as fh:
                    fh.write("%s %s -> %s\n" % (dev["Name"], dev["Version"], newest["Version"]))
                print("Successfully installed firmware")
                return 0
        print("No updates available")
        return 2
    sys.stderr.write("fwupdmgr stand-in: unsupported command %s\n" % " ".join(argv[1:]))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
