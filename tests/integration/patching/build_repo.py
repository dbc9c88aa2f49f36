# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build the local apt repository of the patching integration test.

    python3 build_repo.py OUTPUT_DIR

Creates fake Debian packages with ``dpkg-deb`` (named and versioned like NVIDIA's and
Debian's: ``nvidia-driver-535-server 535.183.01-0ubuntu0.22.04.1``, ``nvidia-container-toolkit
1.17.8-1``, ``intel-microcode 3.20250512.1~deb12u1``) and a flat repository index
(``Packages``, ``Packages.gz``, ``Release``) in OUTPUT_DIR. The driver packages carry a
stand-in ``nvidia-smi`` that reports the packaged version in the real XML structure; the
toolkit carries a stand-in ``nvidia-ctk``. Nothing here is a real driver.

The repository is unsigned: the test serves it over HTTP from a container and the test hosts
list it with ``[trusted=yes]``. Production hosts use the vendor's signed repositories.

Needs ``dpkg-deb`` and ``dpkg-scanpackages`` (Debian package ``dpkg-dev``). Deterministic:
running it twice gives the same package files (fixed mtimes via SOURCE_DATE_EPOCH).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
EPOCH = "1767225600"  # 2026-01-01T00:00:00Z, fixed for reproducible packages

# Driver branches: branch -> versions in the repository (Ubuntu "-server" naming).
#   R535: 535.183.01 (vulnerable host), 535.216.01 (fixes only the older bulletin),
#         535.230.02 (the required version), 535.247.01 (newer than required: must NOT be chosen).
#   R550: 550.127.05 (host on a branch without a fix), 550.144.03 (exists, but the advisory lists
#         no fix for R550: the role must leave the host alone).
#   R570: 570.195.03 (required on R570), 570.211.01 (newer): target of an opted-in migration.
DRIVER_BRANCHES = {
    "535": ["535.183.01", "535.216.01", "535.230.02", "535.247.01"],
    "550": ["550.127.05", "550.144.03"],
    "570": ["570.195.03", "570.211.01"],
}
DRIVER_REVISION = "-0ubuntu0.22.04.1"
TOOLKIT_VERSIONS = ["1.17.3", "1.17.8", "1.18.0"]
TOOLKIT_REVISION = "-1"
MICROCODE = {
    "intel-microcode": ["3.20240312.1~deb12u1", "3.20250512.1~deb12u1"],
    "amd64-microcode": ["3.20240820.1~deb12u1", "3.20250311.1~deb12u1"],
}


def _read(name):
    with open(os.path.join(HERE, "standins", name), encoding="utf-8") as fh:
        return fh.read()


def _control(fields):
    lines = []
    for key in ("Package", "Version", "Architecture", "Maintainer", "Depends", "Conflicts", "Replaces",
                "Provides", "Section", "Priority", "Description"):
        if fields.get(key):
            lines.append("%s: %s" % (key, fields[key]))
    return "\n".join(lines) + "\n"


def build_deb(workdir, outdir, name, version, files=None, depends=None, conflicts=None, description=None):
    """Build NAME_VERSION_all.deb in OUTDIR with FILES ({path: (mode, text)})."""
    root = os.path.join(workdir, "%s_%s" % (name, version))
    os.makedirs(os.path.join(root, "DEBIAN"))
    doc = "/usr/share/doc/%s/README.aisec-test" % name
    all_files = {doc: (0o644, "Fake package of the aisec.gpu_host patching test: %s %s\n" % (name, version))}
    all_files.update(files or {})
    for path, (mode, text) in sorted(all_files.items()):
        target = os.path.join(root, path.lstrip("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(target, mode)
    control = _control({
        "Package": name,
        "Version": version,
        "Architecture": "all",
        "Maintainer": "aisec.gpu_host test <noreply@example.invalid>",
        "Depends": ", ".join(depends or []),
        "Conflicts": ", ".join(conflicts or []),
        "Replaces": ", ".join(conflicts or []),
        "Section": "non-free/test",
        "Priority": "optional",
        "Description": (description or "aisec.gpu_host test package") + "\n Stand-in for tests; installs no driver.",
    })
    with open(os.path.join(root, "DEBIAN", "control"), "w", encoding="utf-8") as fh:
        fh.write(control)
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in dirnames + filenames:
            os.utime(os.path.join(dirpath, entry), (int(EPOCH), int(EPOCH)))
    out = os.path.join(outdir, "%s_%s_all.deb" % (name, version.replace(":", "%3a")))
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", root, out],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    return out


def driver_packages(workdir, outdir):
    for branch, versions in sorted(DRIVER_BRANCHES.items()):
        others = [b for b in DRIVER_BRANCHES if b != branch]
        for upstream in versions:
            version = upstream + DRIVER_REVISION
            utils = "nvidia-utils-%s-server" % branch
            compute = "libnvidia-compute-%s-server" % branch
            smi = _read("nvidia-smi.in").replace("@DRIVER_VERSION@", upstream)
            build_deb(workdir, outdir, utils, version,
                      files={"/usr/bin/nvidia-smi": (0o755, smi)},
                      conflicts=["nvidia-utils-%s-server" % o for o in others],
                      description="NVIDIA driver support binaries (test stand-in)")
            build_deb(workdir, outdir, compute, version,
                      files={"/usr/share/aisec-test/%s.version" % compute: (0o644, upstream + "\n")},
                      conflicts=["libnvidia-compute-%s-server" % o for o in others],
                      description="NVIDIA libcompute package (test stand-in)")
            build_deb(workdir, outdir, "nvidia-driver-%s-server" % branch, version,
                      depends=["%s (= %s)" % (utils, version), "%s (= %s)" % (compute, version)],
                      conflicts=["nvidia-driver-%s-server" % o for o in others],
                      description="NVIDIA driver metapackage (test stand-in)")


def toolkit_packages(workdir, outdir):
    for upstream in TOOLKIT_VERSIONS:
        version = upstream + TOOLKIT_REVISION
        ctk = _read("nvidia-ctk.in").replace("@TOOLKIT_VERSION@", upstream)
        build_deb(workdir, outdir, "nvidia-container-toolkit-base", version,
                  files={"/usr/bin/nvidia-ctk": (0o755, ctk)},
                  description="NVIDIA Container Toolkit Base (test stand-in)")
        build_deb(workdir, outdir, "nvidia-container-toolkit", version,
                  depends=["nvidia-container-toolkit-base (= %s)" % version],
                  description="NVIDIA Container toolkit (test stand-in)")


def microcode_packages(workdir, outdir):
    for name, versions in sorted(MICROCODE.items()):
        for version in versions:
            build_deb(workdir, outdir, name, version,
                      files={"/usr/share/aisec-test/%s.version" % name: (0o644, version + "\n")},
                      description="Processor microcode firmware (test stand-in)")


def _hashes(path):
    with open(path, "rb") as fh:
        data = fh.read()
    return hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest(), len(data)  # nosec - apt index format


def write_index(outdir):
    result = subprocess.run(["dpkg-scanpackages", "--multiversion", ".", "/dev/null"], cwd=outdir,
                            check=True, capture_output=True, text=True)
    packages = os.path.join(outdir, "Packages")
    with open(packages, "w", encoding="utf-8") as fh:
        fh.write(result.stdout)
    with open(packages, "rb") as src, open(packages + ".gz", "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=int(EPOCH)) as dst:
            shutil.copyfileobj(src, dst)
    lines = ["Origin: aisec-test", "Label: aisec-test", "Suite: test", "Codename: test",
             "Date: Thu, 01 Jan 2026 00:00:00 UTC", "Architectures: all amd64 arm64",
             "Description: aisec.gpu_host patching test repository (unsigned; tests only)"]
    entries = [(name,) + _hashes(os.path.join(outdir, name)) for name in ("Packages", "Packages.gz")]
    lines.append("MD5Sum:")
    lines.extend(" %s %d %s" % (md5, size, name) for name, md5, _sha, size in entries)
    lines.append("SHA256:")
    lines.extend(" %s %d %s" % (sha, size, name) for name, _md5, sha, size in entries)
    with open(os.path.join(outdir, "Release"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: build_repo.py OUTPUT_DIR\n")
        return 2
    outdir = os.path.abspath(argv[1])
    for tool in ("dpkg-deb", "dpkg-scanpackages"):
        if shutil.which(tool) is None:
            sys.stderr.write("%s not found: install the Debian package dpkg-dev\n" % tool)
            return 1
    if os.path.isdir(outdir):
        shutil.rmtree(outdir)
    os.makedirs(outdir)
    workdir = tempfile.mkdtemp(prefix="aisec-patching-repo-")
    try:
        driver_packages(workdir, outdir)
        toolkit_packages(workdir, outdir)
        microcode_packages(workdir, outdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    write_index(outdir)
    count = len([n for n in os.listdir(outdir) if n.endswith(".deb")])
    sys.stdout.write("built %d packages in %s\n" % (count, outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
