# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure parsers behind the ``aisec.gpu_host.gpu_facts`` module.

Every function here turns the text of one probe (``nvidia-smi -q -x``, ``/proc/driver/nvidia/*``,
``dpkg-query``/``rpm`` output, ``fwupdmgr get-devices --json``, ``docker ps``, ...) into plain
Python data, or derives facts from already parsed data. Nothing here runs commands or reads
files, so every function is unit-tested with fixtures.

This file is shipped to the TARGET host: only the Python standard library is used and the
code stays compatible with Python 3.8.
"""

from __future__ import annotations

import json
import os
import re
import stat
import xml.etree.ElementTree as ET
from ansible_collections.aisec.gpu_host.plugins.module_utils.components import COMPONENT_NAMES, DRIVER_FAMILIES

__all__ = [
    "COMPONENT_NAMES",
    "DRIVER_FAMILIES",
    "PACKAGE_PATTERNS",
    "PYTHON_PACKAGES",
    "PYTHON_PROBE_SCRIPT",
    "MAX_XML_BYTES",
    "ParseError",
    "build_components",
    "clean_value",
    "component_version",
    "driver_branch",
    "driver_family",
    "driver_package",
    "empty_gpu",
    "format_mode",
    "hgx_board",
    "natural_key",
    "normalize_pci_bus_id",
    "parse_container_ps",
    "parse_cuda_version_file",
    "parse_dpkg_query",
    "parse_fwupd_devices",
    "parse_mib",
    "parse_nvidia_smi_xml",
    "parse_proc_driver_version",
    "parse_proc_gpu_information",
    "parse_proc_params",
    "parse_python_probe",
    "parse_rpm_query",
    "parse_tool_version",
    "split_image_reference",
    "image_component",
    "interpreter_trust_problem",
    "parse_pyvenv_home",
    "upstream_version",
    "venv_prefix",
]


#: Package name patterns queried with one ``dpkg-query -W`` or ``rpm -qa`` call.
PACKAGE_PATTERNS = (
    "nvidia-driver*",
    "nvidia-open*",
    "nvidia-kernel-*",
    "nvidia-kmod*",
    "kmod-nvidia*",
    "nvidia-dkms-*",
    "linux-modules-nvidia-*",
    "nvidia-utils*",
    "cuda-drivers*",
    "libnvidia-*",
    "nvidia-container-toolkit*",
    "nvidia-container-runtime*",
    "nvidia-fabricmanager*",
    "nvidia-fabric-manager*",
    "nvidia-imex*",
    "nvidia-mig-manager*",
    "datacenter-gpu-manager*",
    "cuda-toolkit*",
    "tensorrt*",
    "intel-microcode",
    "amd64-microcode",
    "microcode_ctl",
)

#: Python distributions whose versions are read with ``importlib.metadata`` on the target.
PYTHON_PACKAGES = (
    "vllm",
    "tritonclient",
    "tensorrt",
    "tensorrt_llm",
    "nemo_toolkit",
    "torch",
    "ai-dynamo",
)

#: Script run as ``<python> -I -S -c PYTHON_PROBE_SCRIPT PREFIX NAME...``; prints one JSON object.
#: ``-I -S``: no environment variables, no user site and no ``site`` module, so no ``.pth`` file of a
#: site-packages directory (which the service account may be able to write) is executed. The
#: distributions are found by reading metadata files only: in the site-packages of the virtual
#: environment PREFIX, or, with an empty PREFIX, in the interpreter's own site directories
#: (``site.getsitepackages()`` only computes paths). Kept compatible with old interpreters so that it
#: reports a clear error instead of a syntax error.
PYTHON_PROBE_SCRIPT = (
    "import json, os, sys\n"
    "out = {'python': '%d.%d.%d' % tuple(sys.version_info[:3]), 'packages': {}, 'paths': [], 'error': None}\n"
    "try:\n"
    "    from importlib import metadata\n"
    "except ImportError:\n"
    "    out['error'] = 'importlib.metadata is not available (Python < 3.8)'\n"
    "else:\n"
    "    prefix = sys.argv[1] if len(sys.argv) > 1 else ''\n"
    "    if prefix:\n"
    "        lib = 'python%d.%d' % tuple(sys.version_info[:2])\n"
    "        paths = [os.path.join(prefix, d, lib, 'site-packages') for d in ('lib', 'lib64')]\n"
    "    else:\n"
    "        import site\n"
    "        paths = list(site.getsitepackages())\n"
    "    seen = []\n"
    "    for path in paths:\n"
    "        if os.path.isdir(path) and os.path.realpath(path) not in [os.path.realpath(s) for s in seen]:\n"
    "            seen.append(path)\n"
    "    out['paths'] = seen\n"
    "    for name in sys.argv[2:]:\n"
    "        for candidate in (name, name.replace('_', '-'), name.replace('-', '_')):\n"
    "            try:\n"
    "                found = list(metadata.distributions(name=candidate, path=seen))\n"
    "            except Exception:\n"
    "                found = []\n"
    "            if found:\n"
    "                out['packages'][name] = found[0].version\n"
    "                break\n"
    "sys.stdout.write(json.dumps(out))\n"
)

#: Permission bits that let others than the owner replace a file or a directory entry.
_GROUP_OTHER_WRITE = 0o022


class ParseError(ValueError):
    """The probe output cannot be parsed; the message says why."""


# ---------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------

_NOT_AVAILABLE = frozenset(
    (
        "",
        "n/a",
        "[n/a]",
        "not supported",
        "[not supported]",
        "unknown error",
        "requested functionality has been deprecated",
    )
)


def clean_value(value):
    """Strip a text value; return None for empty and "N/A"-like placeholders."""
    if value is None:
        return None
    text = str(value).strip()
    if text.lower() in _NOT_AVAILABLE:
        return None
    return text


_MIB_RE = re.compile(r"^\s*(\d+)\s*MiB\s*$", re.I)


def parse_mib(value):
    """``'81559 MiB'`` -> ``81559``; None when the value is missing or not in MiB."""
    if value is None:
        return None
    m = _MIB_RE.match(str(value))
    return int(m.group(1)) if m else None


def natural_key(text):
    """Sort key that orders ``nvidia2`` before ``nvidia10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


def format_mode(st_mode):
    """Permission bits of an ``os.stat`` mode as a four digit octal string (``'0660'``)."""
    return "%04o" % stat.S_IMODE(st_mode)


_BDF_RE = re.compile(r"^(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$")


def normalize_pci_bus_id(value):
    """Normalise a PCI address to the nvidia-smi form ``'00000000:18:00.0'``.

    Accepts the sysfs/procfs form ``0000:18:00.0``, the nvidia-smi form and ``18:00.0``.
    Returns None for anything else.
    """
    if not value:
        return None
    m = _BDF_RE.match(str(value).strip())
    if not m:
        return None
    domain = int(m.group(1) or "0", 16)
    return "%08X:%02X:%02X.%s" % (domain, int(m.group(2), 16), int(m.group(3), 16), m.group(4))


_BRANCH_RE = re.compile(r"^(\d{3,})\.")


def driver_branch(version):
    """Driver branch of a driver version: ``'535.183.01'`` -> ``'R535'``; None if unknown."""
    if not version:
        return None
    m = _BRANCH_RE.match(str(version).strip())
    return "R%s" % m.group(1) if m else None


_EPOCH_RE = re.compile(r"^\d+:")


def upstream_version(version):
    """Upstream part of a Debian or RPM package version.

    Drops the epoch and the package revision: ``'1:3.3.9-1'`` -> ``'3.3.9'``,
    ``'550.127.05-0ubuntu0.22.04.1'`` -> ``'550.127.05'``, ``'3:550.127.05-1.el9'`` ->
    ``'550.127.05'``, ``'10.3.0.26-1+cuda12.5'`` -> ``'10.3.0.26'``.
    """
    if not version:
        return None
    text = _EPOCH_RE.sub("", str(version).strip())
    if "-" in text:
        text = text.rsplit("-", 1)[0]
    return text or None


_TOOL_VERSION_RE = re.compile(r"version(?:\s+is)?\s*[:=]?\s*v?(\d+(?:\.\d+)+(?:-\d+(?:\.\d+)+)?)", re.I)


def parse_tool_version(text):
    """First ``version ... X.Y[.Z]`` in a ``--version`` output; None when absent.

    Handles ``NVIDIA Container Toolkit CLI version 1.17.8``, ``cli-version: 1.17.8``
    (nvidia-container-cli), ``Fabric Manager version is : 550.127.05``,
    ``dcgmi  version: 3.3.9`` and ``Version : 4.1.1``.
    """
    if not text:
        return None
    m = _TOOL_VERSION_RE.search(text)
    return m.group(1) if m else None


# ---------------------------------------------------------------------------
# nvidia-smi -q -x
# ---------------------------------------------------------------------------

#: Largest ``nvidia-smi -q -x`` document accepted (an 8-GPU box prints about 1 MiB).
MAX_XML_BYTES = 16 * 1024 * 1024


def _child_text(elem, path):
    if elem is None:
        return None
    child = elem.find(path)
    if child is None:
        return None
    return clean_value(child.text)


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse_nvidia_smi_xml(data, max_bytes=MAX_XML_BYTES):
    """Parse ``nvidia-smi -q -x`` output (DTD ``nvsmi_device_v*.dtd``).

    Returns ``{'timestamp', 'driver_version', 'cuda_version', 'attached_gpus', 'gpus'}``;
    each GPU is a dict with the keys documented for the ``gpus`` fact, ``index`` being the
    position in the document (nvidia-smi lists GPUs in index order).

    The document is size-capped and refused when it declares entities: nvidia-smi never
    does, and the stdlib parser would expand them.
    """
    if isinstance(data, bytes):
        if len(data) > max_bytes:
            raise ParseError("nvidia-smi XML is larger than %d bytes" % max_bytes)
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            data = data.decode("latin-1")
    if data is None or not data.strip():
        raise ParseError("nvidia-smi printed no XML")
    if len(data) > max_bytes:
        raise ParseError("nvidia-smi XML is larger than %d bytes" % max_bytes)
    if "<!ENTITY" in data:
        raise ParseError("nvidia-smi XML declares entities; refusing to parse it")
    try:
        root = ET.fromstring(data.strip())
    except ET.ParseError as exc:
        raise ParseError("nvidia-smi printed invalid XML: %s" % exc)
    if root.tag != "nvidia_smi_log":
        raise ParseError("unexpected XML root element <%s>, expected <nvidia_smi_log>" % root.tag)

    gpus = []
    for index, gpu in enumerate(root.findall("gpu")):
        gpus.append(_parse_gpu_element(index, gpu))
    return {
        "timestamp": _child_text(root, "timestamp"),
        "driver_version": _child_text(root, "driver_version"),
        "cuda_version": _child_text(root, "cuda_version"),
        "attached_gpus": _int_or_none(_child_text(root, "attached_gpus")),
        "gpus": gpus,
    }


def _pci_device_id(value):
    """``'233010DE'`` (nvidia-smi: device then vendor) or ``'0x2330'`` (sysfs) -> ``'0x2330'``."""
    value = clean_value(value)
    if not value:
        return None
    text = value.lower()
    if text.startswith("0x"):
        text = text[2:]
    if not re.match(r"^[0-9a-f]+$", text):
        return value
    if len(text) == 8:
        text = text[:4]
    return "0x%s" % text.zfill(4)


def _parse_gpu_element(index, gpu):
    mig_devices = gpu.find("mig_devices")
    mig_count = len(mig_devices.findall("mig_device")) if mig_devices is not None else 0
    pci_bus_id = _child_text(gpu, "pci/pci_bus_id") or clean_value(gpu.get("id"))
    device_id = _child_text(gpu, "pci/pci_device_id")
    result = {
        "index": index,
        "name": _child_text(gpu, "product_name"),
        "brand": _child_text(gpu, "product_brand"),
        "architecture": _child_text(gpu, "product_architecture"),
        "uuid": _child_text(gpu, "uuid"),
        "serial": _child_text(gpu, "serial"),
        "minor_number": _int_or_none(_child_text(gpu, "minor_number")),
        "pci_bus_id": normalize_pci_bus_id(pci_bus_id) or pci_bus_id,
        "pci_device_id": _pci_device_id(device_id),
        "board_part_number": _child_text(gpu, "board_part_number"),
        "vbios_version": _child_text(gpu, "vbios_version"),
        "gsp_firmware_version": _child_text(gpu, "gsp_firmware_version"),
        "inforom": {
            "image": _child_text(gpu, "inforom_version/img_version"),
            "oem": _child_text(gpu, "inforom_version/oem_object"),
            "ecc": _child_text(gpu, "inforom_version/ecc_object"),
            "pwr": _child_text(gpu, "inforom_version/pwr_object"),
        },
        "ecc_mode": {
            "current": _child_text(gpu, "ecc_mode/current_ecc"),
            "pending": _child_text(gpu, "ecc_mode/pending_ecc"),
        },
        "mig_mode": {
            "current": _child_text(gpu, "mig_mode/current_mig"),
            "pending": _child_text(gpu, "mig_mode/pending_mig"),
        },
        "mig_devices": mig_count,
        "persistence_mode": _child_text(gpu, "persistence_mode"),
        "compute_mode": _child_text(gpu, "compute_mode"),
        "memory_total_mib": parse_mib(_child_text(gpu, "fb_memory_usage/total")),
        "virtualization_mode": _child_text(gpu, "gpu_virtualization_mode/virtualization_mode"),
        "host_vgpu_mode": _child_text(gpu, "gpu_virtualization_mode/host_vgpu_mode"),
        "source": "nvidia-smi",
    }
    result["family"] = driver_family(result["brand"], result["name"], result["virtualization_mode"])
    return result


def empty_gpu(index, source):
    """A GPU record with every key present and unknown values set to None."""
    return {
        "index": index,
        "name": None,
        "brand": None,
        "architecture": None,
        "uuid": None,
        "serial": None,
        "minor_number": None,
        "pci_bus_id": None,
        "pci_device_id": None,
        "board_part_number": None,
        "vbios_version": None,
        "gsp_firmware_version": None,
        "inforom": {"image": None, "oem": None, "ecc": None, "pwr": None},
        "ecc_mode": {"current": None, "pending": None},
        "mig_mode": {"current": None, "pending": None},
        "mig_devices": 0,
        "persistence_mode": None,
        "compute_mode": None,
        "memory_total_mib": None,
        "virtualization_mode": None,
        "host_vgpu_mode": None,
        "family": None,
        "source": source,
    }


# ---------------------------------------------------------------------------
# Driver family (which row of an NVIDIA bulletin applies)
# ---------------------------------------------------------------------------

_GEFORCE_NAME_RE = re.compile(r"\b(geforce|titan)\b", re.I)
_RTX_NAME_RE = re.compile(r"\b(quadro|nvs\s*\d+|rtx\s+a\d{3,4}|rtx\s+pro|rtx\s+\d{4}\s+ada|nvidia\s+t\d{3,4})\b", re.I)
_VGPU_NAME_RE = re.compile(r"(\bgrid\b|-\d+[abcqf]$)", re.I)
_DATACENTER_NAME_RE = re.compile(
    r"\b(tesla|[abhlt]\d{1,3}[a-z]?|a800|h800|h20|h200|gh200|b200|b300|gb200|gb300|l40s?|hgx|dgx)\b",
    re.I,
)


def driver_family(brand, name=None, virtualization_mode=None):
    """Driver family of a GPU: datacenter, geforce, rtx, vgpu_host, vgpu_guest or None.

    Order: the virtualization mode (``Host VGPU``/``Host VSGA`` -> vgpu_host, ``VGPU`` ->
    vgpu_guest), then ``<product_brand>`` (Tesla/NVIDIA -> datacenter, GeForce/Titan ->
    geforce, Quadro/NVIDIA RTX/NVS -> rtx, NVIDIA Virtual .../GRID -> vgpu_guest), then the
    product name for old drivers without a brand. None when nothing is conclusive.
    """
    mode = (clean_value(virtualization_mode) or "").lower()
    if mode in ("host vgpu", "host vsga"):
        return "vgpu_host"
    if mode == "vgpu":
        return "vgpu_guest"

    brand_l = (clean_value(brand) or "").lower()
    if brand_l:
        if "virtual" in brand_l or brand_l in ("grid", "nvidia cloud gaming"):
            return "vgpu_guest"
        if brand_l.startswith(("geforce", "titan")):
            return "geforce"
        if brand_l.startswith(("quadro", "nvidia rtx", "nvs")):
            return "rtx"
        if brand_l in ("tesla", "nvidia"):
            return "datacenter"

    name_s = clean_value(name) or ""
    if not name_s:
        return None
    if _GEFORCE_NAME_RE.search(name_s):
        return "geforce"
    if _VGPU_NAME_RE.search(name_s):
        return "vgpu_guest"
    if _RTX_NAME_RE.search(name_s):
        return "rtx"
    if _DATACENTER_NAME_RE.search(name_s):
        return "datacenter"
    return None


# ---------------------------------------------------------------------------
# /proc/driver/nvidia
# ---------------------------------------------------------------------------

_PROC_VERSION_RE = re.compile(r"NVRM version:\s*(?P<desc>.*?)\s+(?P<version>\d+\.\d+(?:\.\d+)?)(?:\s|$)")
_ARCH_RE = re.compile(r"\b(x86_64|aarch64|arm64|ppc64le)\b")
_GCC_RE = re.compile(r"^GCC version:\s*(.+)$", re.M)


def parse_proc_driver_version(text):
    """Parse ``/proc/driver/nvidia/version``.

    ``NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  550.127.05  Release Build ...``
    gives ``{'version': '550.127.05', 'kernel_module': 'open', 'arch': 'x86_64', ...}``; the
    proprietary module prints ``NVIDIA UNIX x86_64 Kernel Module  550.127.05 ...``.
    Raises ParseError when no NVRM line is found.
    """
    if not text:
        raise ParseError("/proc/driver/nvidia/version is empty")
    m = _PROC_VERSION_RE.search(text)
    if not m:
        raise ParseError("no 'NVRM version:' line with a driver version in /proc/driver/nvidia/version")
    desc = m.group("desc")
    arch = _ARCH_RE.search(desc)
    gcc = _GCC_RE.search(text)
    return {
        "version": m.group("version"),
        "kernel_module": "open" if "open kernel module" in desc.lower() else "proprietary",
        "arch": arch.group(1) if arch else None,
        "description": desc.strip(),
        "gcc_version": gcc.group(1).strip() if gcc else None,
    }


_PARAM_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def parse_proc_params(text):
    """Parse ``/proc/driver/nvidia/params`` (``Key: value`` lines) into a dict.

    Decimal values become ints (``DeviceFileMode: 438`` -> 438, i.e. 0666), quoted values
    lose their quotes (``RegistryDwords: ""`` -> ``''``), anything else stays a string.
    """
    params = {}
    for line in (text or "").splitlines():
        if ":" not in line:
            continue
        key, value = line.split(":", 1)
        key = key.strip()
        if not _PARAM_KEY_RE.match(key):
            continue
        value = value.strip()
        if re.match(r"^-?\d+$", value):
            params[key] = int(value)
        elif len(value) >= 2 and value[0] == value[-1] == '"':
            params[key] = value[1:-1]
        else:
            params[key] = value
    return params


_INFO_KEYS = {
    "model": "name",
    "gpu uuid": "uuid",
    "video bios": "vbios_version",
    "bus location": "pci_bus_id",
    "device minor": "minor_number",
    "bus type": "bus_type",
    "gpu excluded": "excluded",
}


def parse_proc_gpu_information(text):
    """Parse ``/proc/driver/nvidia/gpus/<bus id>/information`` into a dict.

    Keys: name, uuid, vbios_version, pci_bus_id (normalised), minor_number, bus_type,
    excluded (bool). Missing lines give None.
    """
    info = dict.fromkeys(_INFO_KEYS.values())
    for line in (text or "").splitlines():
        if ":" not in line:
            continue
        key, value = line.split(":", 1)
        target = _INFO_KEYS.get(key.strip().lower())
        if target is None:
            continue
        value = clean_value(value)
        if target == "minor_number":
            value = _int_or_none(value)
        elif target == "pci_bus_id":
            value = normalize_pci_bus_id(value) or value
        elif target == "excluded":
            value = None if value is None else value.lower() == "yes"
        info[target] = value
    return info


# ---------------------------------------------------------------------------
# Package databases
# ---------------------------------------------------------------------------


def parse_dpkg_query(text):
    """Parse ``dpkg-query -W -f '${db:Status-Abbrev}\\t${Package}\\t${Version}\\t${Architecture}\\n'``.

    Returns ``{package: version}`` for packages present on disk; entries whose status is
    "not installed" (``un``) or "config files only" (``rc``) are skipped. Multi-Arch copies of
    a package (same name, other architecture) share one entry: dpkg requires equal versions.
    """
    packages = {}
    for line in (text or "").splitlines():
        fields = line.split("\t")
        if len(fields) < 3:
            continue
        status, name, version = fields[0], fields[1].strip(), fields[2].strip()
        if len(status) < 2 or status[1] in ("n", "c", " ") or not name or not version:
            continue
        packages.setdefault(name, version)
    return packages


def parse_rpm_query(text):
    """Parse ``rpm -qa --qf '%{NAME}\\t%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n'``."""
    packages = {}
    for line in (text or "").splitlines():
        fields = line.split("\t")
        if len(fields) < 2:
            continue
        name, version = fields[0].strip(), fields[1].strip()
        if name and version and name not in packages:
            packages[name] = version
    return packages


_DRIVER_PACKAGE_RES = (
    re.compile(r"^nvidia-driver(-\d+)?(-server)?(-open)?$"),
    re.compile(r"^nvidia-open(-\d+)?$"),
    re.compile(r"^cuda-drivers(-\d+)?$"),
    re.compile(r"^nvidia-driver-cuda$"),
    re.compile(r"^kmod-nvidia.*$"),
    re.compile(r"^nvidia-kmod.*$"),
    re.compile(r"^nvidia-dkms-\d+.*$"),
    re.compile(r"^nvidia-utils(-\d+)?(-server)?$"),
)


def driver_package(packages):
    """The package that installed the driver, as ``(name, version)``, or ``(None, None)``.

    Prefers the distribution's driver meta package (``nvidia-driver-550-server-open``,
    ``nvidia-driver``), then ``nvidia-open``, ``cuda-drivers``, kmod/DKMS packages and
    ``nvidia-utils``: packages whose version is the driver version. Ubuntu's signed
    ``linux-modules-nvidia-*`` packages carry the kernel version and are not considered.
    """
    names = sorted(packages or {})
    for regex in _DRIVER_PACKAGE_RES:
        for name in names:
            if regex.match(name.split(":", 1)[0]):
                return name, packages[name]
    return None, None


# ---------------------------------------------------------------------------
# fwupd
# ---------------------------------------------------------------------------


def _as_str_list(value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v is not None]
    return [str(value)]


def parse_fwupd_devices(text):
    """Parse ``fwupdmgr get-devices --json`` into a list of device dicts.

    Each: name, device_id, version, vendor, guids (list), plugin, flags (list),
    version_format, summary. Raises ParseError on invalid JSON.
    """
    try:
        data = json.loads(text or "")
    except ValueError as exc:
        raise ParseError("fwupdmgr printed invalid JSON: %s" % exc)
    if not isinstance(data, dict):
        raise ParseError("fwupdmgr JSON is not an object")
    devices = data.get("Devices", [])
    if not isinstance(devices, list):
        raise ParseError("fwupdmgr JSON 'Devices' is not a list")
    result = []
    for dev in devices:
        if not isinstance(dev, dict):
            continue
        result.append(
            {
                "name": dev.get("Name"),
                "device_id": dev.get("DeviceId"),
                "version": dev.get("Version"),
                "vendor": dev.get("Vendor"),
                "guids": _as_str_list(dev.get("Guid")),
                "plugin": dev.get("Plugin"),
                "flags": _as_str_list(dev.get("Flags")),
                "version_format": dev.get("VersionFormat"),
                "summary": dev.get("Summary"),
            }
        )
    return result


# ---------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------


def split_image_reference(ref):
    """Split an image reference into ``(repository, tag, digest)``.

    ``nvcr.io/nvidia/tritonserver:24.08-py3`` -> ``('nvcr.io/nvidia/tritonserver', '24.08-py3', None)``;
    a registry port is not mistaken for a tag; an image ID (``sha256:...``) gives
    ``(None, None, 'sha256:...')``; a missing tag is None (not ``latest``).
    """
    ref = (ref or "").strip()
    if not ref:
        return None, None, None
    if re.match(r"^(sha256:)?[0-9a-f]{12,64}$", ref):
        return None, None, ref if ref.startswith("sha256:") else None
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    tag = None
    if colon > slash:
        ref, tag = ref[:colon], ref[colon + 1:]
    return ref or None, tag or None, digest


def parse_container_ps(text, runtime):
    """Parse ``<runtime> ps --format '{{.ID}}<TAB>{{.Image}}<TAB>{{.Names}}'`` output."""
    containers = []
    for line in (text or "").splitlines():
        fields = line.split("\t")
        if len(fields) < 2 or not fields[1].strip():
            continue
        image = fields[1].strip()
        repository, tag, digest = split_image_reference(image)
        containers.append(
            {
                "runtime": runtime,
                "id": fields[0].strip(),
                "name": fields[2].strip() if len(fields) > 2 else None,
                "image": image,
                "repository": repository,
                "tag": tag,
                "digest": digest,
            }
        )
    return containers


# A version at the start of an image tag, with a pre-release suffix kept (1.3.0rc17, 1.17.0-rc.1): cutting it
# would make a release candidate look like the release, which sorts after the release candidates that fix it.
_LEADING_VERSION_RE = re.compile(r"^v?(\d+(?:\.\d+)+(?:[-_.]?(?:rc|alpha|beta|dev|a|b)[-_.]?\d+)?)(?=$|[-_.+])", re.I)
_DCGM_EXPORTER_TAG_RE = re.compile(r"^v?(\d+\.\d+\.\d+)-(\d+\.\d+\.\d+)")


def _tag_version(tag, regex=_LEADING_VERSION_RE):
    if not tag:
        return None
    m = regex.match(tag)
    return m.group(1) if m else None


def image_component(repository, tag):
    """Component for a running NVIDIA image, or None.

    Recognised (any registry, so mirrors work): ``tritonserver`` -> triton_inference_server
    (release ``24.08`` from ``24.08-py3``), ``dcgm-exporter`` -> dcgm_exporter (the exporter
    part, ``3.6.0`` of ``3.3.8-3.6.0-ubuntu22.04``), ``k8s-device-plugin``, ``k8s-mig-manager``, ``gpu-operator``,
    ``k8s/container-toolkit``, NVIDIA ``dcgm``, ``tensorrt-llm/*`` and ``ai-dynamo/*``.
    Images whose tag carries no version (``latest``) give None.
    """
    if not repository:
        return None
    path = repository.lower()
    parts = path.split("/")
    last = parts[-1]
    name = None
    version = None
    if last == "tritonserver":
        name, version = "triton_inference_server", _tag_version(tag)
    elif last == "dcgm-exporter":
        # Tags are <DCGM version>-<exporter version>[-<os>]: 3.3.8-3.6.0-ubuntu22.04 is exporter 3.6.0.
        name = "dcgm_exporter"
        m = _DCGM_EXPORTER_TAG_RE.match(tag or "")
        version = m.group(2) if m else _tag_version(tag)
    elif last == "k8s-device-plugin":
        name, version = "k8s_device_plugin", _tag_version(tag)
    elif last == "k8s-mig-manager":
        name, version = "mig_manager", _tag_version(tag)
    elif last == "gpu-operator":
        name, version = "nvidia_gpu_operator", _tag_version(tag)
    elif last == "container-toolkit" and ("nvidia" in parts[:-1] or "k8s" in parts[:-1]):
        name, version = "nvidia_container_toolkit", _tag_version(tag)
    elif last == "dcgm" and "nvidia" in path:
        name, version = "nvidia_dcgm", _tag_version(tag)
    elif "tensorrt-llm" in parts[:-1] or last == "tensorrt-llm":
        name, version = "tensorrt_llm", _tag_version(tag)
    elif "ai-dynamo" in parts[:-1]:
        name, version = "dynamo", _tag_version(tag)
    if name is None or version is None:
        return None
    return {"name": name, "version": version}


# ---------------------------------------------------------------------------
# Python packages and CUDA toolkit
# ---------------------------------------------------------------------------


def parse_python_probe(text):
    """Parse the JSON printed by PYTHON_PROBE_SCRIPT: ``(python_version, {name: version}, error)``."""
    try:
        data = json.loads(text or "")
    except ValueError as exc:
        raise ParseError("python probe printed invalid JSON: %s" % exc)
    if not isinstance(data, dict) or not isinstance(data.get("packages", {}), dict):
        raise ParseError("python probe printed an unexpected JSON document")
    packages = {}
    for name, version in data.get("packages", {}).items():
        if isinstance(name, str) and isinstance(version, str):
            packages[name] = version
    return data.get("python"), packages, data.get("error")


_CUDA_TXT_RE = re.compile(r"CUDA Version\s+(\d+(?:\.\d+)+)")


def parse_cuda_version_file(text):
    """CUDA toolkit version from ``<cuda>/version.json`` (11.1+) or ``version.txt``; None if absent."""
    text = text or ""
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            data = json.loads(stripped)
        except ValueError:
            return None
        cuda = data.get("cuda") if isinstance(data, dict) else None
        version = cuda.get("version") if isinstance(cuda, dict) else None
        return version if isinstance(version, str) and version else None
    m = _CUDA_TXT_RE.search(text)
    return m.group(1) if m else None


# ---------------------------------------------------------------------------
# Components for csaf_match
# ---------------------------------------------------------------------------

_PKG_COMPONENTS = (
    # (component, regex on the package name)
    ("cuda_toolkit", re.compile(r"^cuda-toolkit-\d+-\d+$")),
    ("tensorrt", re.compile(r"^tensorrt$")),
    ("dcgm_exporter", re.compile(r"^datacenter-gpu-manager-exporter$")),
    ("mig_manager", re.compile(r"^nvidia-mig-manager$")),
)

_PY_COMPONENTS = {
    "tensorrt": "tensorrt",
    "tensorrt_llm": "tensorrt_llm",
    "nemo_toolkit": "nemo_framework",
    "ai-dynamo": "dynamo",
}

_DOTTED_RE = re.compile(r"^[vV]?(\d+(?:\.\d+)*(?:[-_.]?(?:rc|alpha|beta|preview|pre|dev|a|b|c)[-_.]?\d*)?)$", re.I)
_PRE_RE = re.compile(r"^(?P<rel>\d+(?:\.\d+)*)(?:[-_.]?(?P<pl>[a-z]+)[-_.]?(?P<pn>\d*))?$", re.I)
_PRE_RANK = {"dev": -1, "a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}
_POST_RE = re.compile(r"[.-]?post\d*$", re.I)
_SXM_NAME_RE = re.compile(r"\bSXM\d*\b|\bHBM3e?\b|^NVIDIA [BH]200$|^NVIDIA H20$", re.I)


def component_version(version):
    """Version in the form csaf_match accepts (dot-separated integers, optional pre-release), or None.

    A local version label (``2.4.0+cu121``) and a post-release suffix (``0.6.3.post1``) are
    dropped, which never makes a version look newer than it is. A pre-release suffix is kept
    (``1.3.0rc17``, ``1.17.0-rc.1``): csaf_match orders it before the release. Hex VBIOS versions
    and other text give None: they cannot be compared safely.
    """
    if version is None:
        return None
    text = str(version).strip().split("+", 1)[0]
    text = _POST_RE.sub("", text)
    m = _DOTTED_RE.match(text)
    return m.group(1) if m else None


def _version_key(version):
    """Order of component versions: release (trailing zeros ignored), then dev < a < b < rc < release."""
    m = _PRE_RE.match(version)
    release = [int(part) for part in m.group("rel").split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    label = (m.group("pl") or "").lower()
    pre = (_PRE_RANK.get(label, -1), int(m.group("pn") or 0)) if label else (3, 0)
    return tuple(release), pre


def interpreter_trust_problem(path, lstat, trusted_uids, stop=None):
    """Why an interpreter must not be run by this module (as root), or None when it may.

    ``path`` must be the real path (symbolic links resolved). The file and every directory above it,
    up to ``/`` (or up to, not including, ``stop``), must be owned by one of ``trusted_uids`` (root and
    the module's own user) and not writable by group or others: otherwise whoever may write there can
    replace the interpreter and have it run with the module's privileges. ``lstat`` is ``os.lstat``
    (injected for tests).
    """
    if not path or not path.startswith("/"):
        return "%r is not an absolute path" % (path,)
    current = path
    first = True
    while True:
        if stop is not None and (current == stop or not current.startswith(stop.rstrip("/") + "/")):
            break
        try:
            info = lstat(current)
        except OSError as exc:
            return "cannot stat %s: %s" % (current, exc.strerror or exc)
        if stat.S_ISLNK(info.st_mode):
            return "%s is a symbolic link" % current
        if first and not stat.S_ISREG(info.st_mode):
            return "%s is not a regular file" % current
        if info.st_uid not in trusted_uids:
            return "%s is owned by uid %d, not by root" % (current, info.st_uid)
        if info.st_mode & _GROUP_OTHER_WRITE:
            return "%s is writable by %s" % (
                current, "group and others" if info.st_mode & 0o022 == 0o022 else
                "its group" if info.st_mode & 0o020 else "others")
        first = False
        if current == "/":
            break
        current = os.path.dirname(current) or "/"
    return None


def venv_prefix(interpreter, isfile):
    """The virtual environment of ``<prefix>/bin/python`` (the directory holding ``pyvenv.cfg``), or None."""
    prefix = os.path.dirname(os.path.dirname(os.path.abspath(interpreter)))
    return prefix if isfile(os.path.join(prefix, "pyvenv.cfg")) else None


def parse_pyvenv_home(text):
    """The ``home`` directory (of the base interpreter) from a ``pyvenv.cfg`` text, or None."""
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip().lower() == "home" and value.strip().startswith("/"):
            return value.strip()
    return None


def hgx_board(gpus):
    """Board label NVIDIA advisories use for SXM baseboards (``'Hopper HGX 8-GPU'``), or None.

    Only when nvidia-smi reported 4 or 8 GPUs of one SXM product (``SXM`` or ``HBM3`` in the
    name, H200/B200/H20) and architecture; PCIe cards and mixed hosts give None.
    """
    if len(gpus) not in (4, 8):
        return None
    names = {g.get("name") for g in gpus}
    archs = {g.get("architecture") for g in gpus}
    if len(names) != 1 or len(archs) != 1:
        return None
    name, arch = names.pop(), archs.pop()
    if not name or not arch or "pcie" in name.lower() or not _SXM_NAME_RE.search(name):
        return None
    return "%s HGX %d-GPU" % (arch, len(gpus))


def build_components(facts):
    """Derive the csaf_match component list from gathered facts; returns ``(components, notes)``.

    Components follow the input rules of ``aisec.gpu_host.csaf_match``: names from
    COMPONENT_NAMES, versions of dot-separated integers, ``family`` only (and always) for
    ``nvidia_driver`` (driver family) and ``nvidia_vbios`` (HGX board label), ``branch`` only
    for ``nvidia_driver``, one entry per name and family. When one component is installed in
    several versions (two CUDA toolkits, two Triton images) the lowest version is listed.
    ``notes`` explains what was left out, for the module's ``errors``.
    """
    chosen = {}
    order = []
    notes = []

    def add(name, version, family=None, branch=None, what=None):
        if not version:
            return
        clean = component_version(version)
        if clean is None:
            notes.append(
                "%s %s (%s) left out of components: not a plain dotted version" % (name, version, what or "detected")
            )
            return
        key = (name, family)
        item = {"name": name, "version": clean}
        if family is not None:
            item["family"] = family
        if branch is not None:
            item["branch"] = branch
        if key not in chosen:
            chosen[key] = item
            order.append(key)
        elif _version_key(clean) < _version_key(chosen[key]["version"]):
            chosen[key] = item

    gpus = facts.get("gpus") or []
    driver = facts.get("driver") or {}
    version = driver.get("version")
    if version:
        families = [g.get("family") for g in gpus if g.get("family")]
        branch = driver.get("branch") or driver_branch(version)
        for family in families:
            add("nvidia_driver", version, family, branch, "driver")
        if not families:
            notes.append("nvidia_driver %s left out of components: the driver family is unknown "
                         "(no GPU with a known product brand or name)" % version)
    board = hgx_board(gpus)
    if board:
        for gpu in gpus:
            if component_version(gpu.get("vbios_version")):
                add("nvidia_vbios", gpu.get("vbios_version"), board)

    add("nvidia_container_toolkit", facts.get("container_toolkit_version"), what="container toolkit")
    add("nvidia_fabric_manager", facts.get("fabric_manager_version"), what="fabric manager")
    add("nvidia_dcgm", facts.get("dcgm_version"), what="DCGM")
    for toolkit in facts.get("cuda_toolkits") or []:
        add("cuda_toolkit", toolkit.get("version"), what=toolkit.get("path"))

    packages = facts.get("packages") or {}
    for pkg_name in sorted(packages):
        base = pkg_name.split(":", 1)[0]
        for component, regex in _PKG_COMPONENTS:
            if regex.match(base):
                version = upstream_version(packages[pkg_name])
                m = _DCGM_EXPORTER_TAG_RE.match(version or "") if component == "dcgm_exporter" else None
                add(component, m.group(2) if m else version, what="package %s" % pkg_name)

    for entry in facts.get("python_packages") or []:
        component = _PY_COMPONENTS.get(entry.get("name"))
        if component:
            add(component, entry.get("version"), what="Python %s in %s" % (entry.get("name"), entry.get("interpreter")))

    for container in facts.get("containers") or []:
        comp = image_component(container.get("repository"), container.get("tag"))
        if comp:
            add(comp["name"], comp["version"], what="image %s" % container.get("image"))
    return [chosen[key] for key in order], notes
