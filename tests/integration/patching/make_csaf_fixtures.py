# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the synthetic CSAF advisories of the patching integration test.

    python3 make_csaf_fixtures.py [OUTPUT_DIR]      (default: ./csaf next to this file)

The documents are CSAF 2.0 security advisories in NVIDIA's shape (architecture branch
``Linux(R535)`` -> product_version branch named after the product -> product named by its
version condition), so that ``aisec.gpu_host.csaf_match`` reads them with its NVIDIA adapter.
They are SYNTHETIC test data (CVE-2099-*, tracking ids AISEC-TEST-*), not NVIDIA publications;
each says so in a note. The tree is a csaf_sync directory source: ``YYYY/<file>.json`` plus
``.sha256``.

Scenario (versions match the fake apt repository of build_repo.py):

* AISEC-TEST-2025-0001 (older driver bulletin): R535 prior to 535.216.01, fixed 535.216.01.
* AISEC-TEST-2025-0002 (newer driver bulletin): R535 prior to 535.230.02, fixed 535.230.02;
  R550 "All driver versions" with no fix (an unfixed branch); R570 prior to 570.195.03, fixed
  570.195.03.  A host at 535.183.01 therefore needs exactly 535.230.02.
* AISEC-TEST-2025-0003 (Container Toolkit): up to and including 1.17.7, fixed 1.17.8.
* AISEC-TEST-2025-0004 (firmware): HMC of "HGX H100 8-GPU" prior to 1.6.0, fixed 1.6.0 (CVE-2099-10004,
  which the fwupd stand-in's release lists as fixed).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

PUBLISHER = {
    "category": "vendor",
    "name": "NVIDIA Product Security (synthetic test data)",
    "namespace": "https://www.nvidia.com",
}
CVSS_VECTOR = "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"
CVSS_SCORE = 7.8


def _document(tracking_id, title, date, notes_text):
    return {
        "category": "csaf_security_advisory",
        "csaf_version": "2.0",
        "distribution": {"tlp": {"label": "WHITE"}},
        "lang": "en-US",
        "notes": [
            {"category": "summary", "title": "Summary", "text": notes_text},
            {"category": "legal_disclaimer", "title": "Test data",
             "text": "Synthetic advisory for the aisec.gpu_host patching tests. Not an NVIDIA publication; "
                     "the CVE identifiers are fictitious."},
        ],
        "publisher": PUBLISHER,
        "references": [
            {"category": "self", "summary": "Test fixture of aisec.gpu_host",
             "url": "https://example.invalid/aisec-test/%s" % tracking_id.lower()},
            {"category": "external", "summary": "Deploying AI Systems Securely (NSA/CISA, 2024)",
             "url": "https://media.defense.gov/2024/Apr/15/2003439257/-1/-1/0/CSI-DEPLOYING-AI-SYSTEMS-SECURELY.PDF"},
        ],
        "title": title,
        "tracking": {
            "current_release_date": date,
            "id": tracking_id,
            "initial_release_date": date,
            "revision_history": [{"date": date, "number": "1", "summary": "Initial release"}],
            "status": "final",
            "version": "1",
        },
    }


def _product(pid, name):
    return {"name": name, "product_id": pid}


def _arch(name, products):
    """architecture branch -> one product_version branch per product (NVIDIA's shape)."""
    return {
        "category": "architecture",
        "name": name,
        "branches": [{"category": "product_version", "name": label, "product": _product(pid, text)}
                     for label, pid, text in products],
    }


def _vuln(cve, title, affected, fixed):
    product_status = {"known_affected": affected}
    if fixed:
        product_status["fixed"] = fixed
    return {
        "cve": cve,
        "notes": [{"category": "description", "title": title, "text": title + " (synthetic test vulnerability)."}],
        "product_status": product_status,
        "scores": [{
            "cvss_v3": {"version": "3.1", "vectorString": CVSS_VECTOR, "baseScore": CVSS_SCORE,
                        "baseSeverity": "HIGH"},
            "products": affected,
        }],
    }


def driver_old():
    doc = {
        "document": _document("AISEC-TEST-2025-0001", "Synthetic GPU display driver bulletin - older fix",
                              "2025-01-16T00:00:00.000Z",
                              "Older driver bulletin: R535 is fixed in 535.216.01."),
        "product_tree": {"branches": [{"category": "vendor", "name": "NVIDIA", "branches": [
            _arch("Linux(R535)", [
                ("Tesla", "t1-linuxr535_tesla_prior_to_535_216_01", "All driver versions prior to 535.216.01"),
                ("Tesla", "t1-linuxr535_tesla_535_216_01", "535.216.01"),
            ]),
        ]}]},
        "vulnerabilities": [
            _vuln("CVE-2099-10001", "Kernel driver out-of-bounds write",
                  ["t1-linuxr535_tesla_prior_to_535_216_01"], ["t1-linuxr535_tesla_535_216_01"]),
        ],
    }
    return "2025", doc


def driver_new():
    doc = {
        "document": _document("AISEC-TEST-2025-0002", "Synthetic GPU display driver bulletin - current fix",
                              "2025-10-09T00:00:00.000Z",
                              "Current driver bulletin: R535 fixed in 535.230.02, R570 fixed in 570.195.03, "
                              "no fix on R550."),
        "product_tree": {"branches": [{"category": "vendor", "name": "NVIDIA", "branches": [
            _arch("Linux(R535)", [
                ("Tesla", "t2-linuxr535_tesla_prior_to_535_230_02", "All driver versions prior to 535.230.02"),
                ("Tesla", "t2-linuxr535_tesla_535_230_02", "535.230.02"),
            ]),
            _arch("Linux(R550)", [
                ("Tesla", "t2-linuxr550_tesla_all_driver_versions", "All driver versions"),
            ]),
            _arch("Linux(R570)", [
                ("Tesla", "t2-linuxr570_tesla_prior_to_570_195_03", "All driver versions prior to 570.195.03"),
                ("Tesla", "t2-linuxr570_tesla_570_195_03", "570.195.03"),
            ]),
        ]}]},
        "vulnerabilities": [
            _vuln("CVE-2099-10002", "Kernel driver use-after-free",
                  ["t2-linuxr535_tesla_prior_to_535_230_02", "t2-linuxr550_tesla_all_driver_versions",
                   "t2-linuxr570_tesla_prior_to_570_195_03"],
                  ["t2-linuxr535_tesla_535_230_02", "t2-linuxr570_tesla_570_195_03"]),
        ],
    }
    return "2025", doc


def toolkit():
    doc = {
        "document": _document("AISEC-TEST-2025-0003", "Synthetic NVIDIA Container Toolkit bulletin",
                              "2025-07-15T00:00:00.000Z",
                              "Container Toolkit bulletin: fixed in 1.17.8."),
        "product_tree": {"branches": [{"category": "vendor", "name": "NVIDIA", "branches": [
            _arch("Linux", [
                ("NVIDIA Container Toolkit", "t3-ctk_up_to_1_17_7", "All versions up to and including 1.17.7"),
                ("NVIDIA Container Toolkit", "t3-ctk_1_17_8", "1.17.8"),
            ]),
        ]}]},
        "vulnerabilities": [
            _vuln("CVE-2099-10003", "Container escape through a hook",
                  ["t3-ctk_up_to_1_17_7"], ["t3-ctk_1_17_8"]),
        ],
    }
    return "2025", doc


def firmware():
    doc = {
        "document": _document("AISEC-TEST-2025-0004", "Synthetic HGX HMC firmware bulletin",
                              "2025-05-20T00:00:00.000Z",
                              "HMC firmware bulletin: fixed in 1.6.0."),
        "product_tree": {"branches": [{"category": "vendor", "name": "NVIDIA", "branches": [
            _arch("HMC", [
                ("HGX H100 8-GPU", "t4-hmc_hgx_h100_prior_to_1_6_0", "All versions prior to 1.6.0"),
                ("HGX H100 8-GPU", "t4-hmc_hgx_h100_1_6_0", "1.6.0"),
            ]),
        ]}]},
        "vulnerabilities": [
            _vuln("CVE-2099-10004", "Management controller improper access control",
                  ["t4-hmc_hgx_h100_prior_to_1_6_0"], ["t4-hmc_hgx_h100_1_6_0"]),
        ],
    }
    return "2025", doc


def main(argv):
    outdir = os.path.abspath(argv[1]) if len(argv) > 1 else os.path.join(HERE, "csaf")
    for year, doc in (driver_old(), driver_new(), toolkit(), firmware()):
        folder = os.path.join(outdir, year)
        os.makedirs(folder, exist_ok=True)
        name = doc["document"]["tracking"]["id"].lower() + ".json"
        data = (json.dumps(doc, indent=2, sort_keys=False) + "\n").encode("utf-8")
        with open(os.path.join(folder, name), "wb") as fh:
            fh.write(data)
        with open(os.path.join(folder, name + ".sha256"), "w", encoding="utf-8") as fh:
            fh.write("%s  %s\n" % (hashlib.sha256(data).hexdigest(), name))
        sys.stdout.write("%s/%s\n" % (year, name))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
