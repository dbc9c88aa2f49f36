# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Trusted CSAF 2.0 downloader: discovery, verification and a content-addressed local mirror.

Controller-side code behind the ``aisec.gpu_host.csaf_sync`` action plugin. Standard library only
(``urllib``/``ssl`` through :mod:`csaf_http`, GnuPG through :mod:`csaf_openpgp`) plus the collection's
``csaf_document`` module (JSON Schema and mandatory tests).

Sources
    * a CSAF provider given by its domain (discovery in the order of CSAF 2.0 section 7.3.1: the
      ``/.well-known/csaf/provider-metadata.json`` URL, the ``CSAF:`` fields of
      ``/.well-known/security.txt``, then ``https://csaf.data.security.<domain>``),
    * a provider-metadata.json URL,
    * a local directory or git checkout laid out as ``<YYYY>/<file>.json`` or NVIDIA's
      ``<YYYY>/<ID>/<ID>.json`` (air-gapped mirror), hash files and signatures next to each document.

Per document, in this order (anything failing rejects that document only): size cap, hash
(``.sha512`` preferred, else ``.sha256``; leading hex token; constant-time compare; missing = reject),
detached OpenPGP signature against pinned fingerprints (missing = reject when fingerprints are pinned),
JSON parse, TLP allow-list (feed and document), draft status, JSON Schema + mandatory tests, file name
= ``expected_filename(tracking.id)``, year folder = year of ``initial_release_date``.

Mirror layout under ``dest`` (owned by this code; do not put other files there)::

    index.json                      provenance index (format below)
    blobs/sha256/<aa>/<sha256>      accepted documents, stored by the sha256 of their bytes
    http_cache/sha256/<aa>/<sha256> last provider listings (ROLIE feeds, changes.csv, index.txt)
    <YYYY>/<file>.json              tree of accepted documents (relative symlinks into blobs/, or
                                    copies with tree_mode=copy); YYYY = initial_release_date year

Fatal problems raise :class:`SyncError`; :func:`run_sync` returns a result dict otherwise.
"""

from __future__ import annotations

import csv
import datetime
import errno
import hashlib
import hmac
import io
import ipaddress
import json
import os
import re
import stat
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote, urljoin, urlsplit

from ansible_collections.aisec.gpu_host.plugins.module_utils.atomic_file import write_atomic
from ansible_collections.aisec.gpu_host.plugins.module_utils.csaf_http import (
    DEFAULT_USER_AGENT,
    FetchError,
    HttpsFetcher,
    require_https_url,
)
from ansible_collections.aisec.gpu_host.plugins.module_utils.csaf_openpgp import (
    OpenPGPError,
    OpenPGPVerifier,
    normalize_fingerprint,
)

try:
    from ansible_collections.aisec.gpu_host.plugins.module_utils.csaf_document import (
        CsafError,
        document_meta,
        expected_filename,
        load_bytes,
        validate,
        validate_provider_metadata,
    )
except ImportError as _exc:  # pragma: no cover - depends on the installation
    CSAF_DOCUMENT_IMPORT_ERROR = "%s: %s" % (type(_exc).__name__, _exc)

    class CsafError(ValueError):  # type: ignore[no-redef]
        """Placeholder so that ``except CsafError`` stays valid when the import failed."""

else:
    CSAF_DOCUMENT_IMPORT_ERROR = None

try:
    from ansible_collections.aisec.gpu_host.plugins.module_utils.csaf_match import named_components
except ImportError:  # pragma: no cover - depends on the installation
    named_components = None

try:
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX controller
    fcntl = None


__all__ = [
    "ARGUMENT_SPEC",
    "DEFAULT_TLP_ALLOW",
    "Rejection",
    "SyncError",
    "SyncOptions",
    "build_options",
    "check_digest",
    "discovery_urls",
    "evaluate_document",
    "list_local_documents",
    "parse_changes_csv",
    "parse_hash_text",
    "parse_index_txt",
    "parse_rolie_feed",
    "parse_security_txt",
    "plan_distributions",
    "run_sync",
]

MIB = 1024 * 1024
DEFAULT_MAX_SIZE = 15 * MIB
DEFAULT_MAX_LISTING_SIZE = 64 * MIB
MAX_PMD_SIZE = 4 * MIB
MAX_SECURITY_TXT_SIZE = 64 * 1024
MAX_HASH_SIZE = 4096
MAX_SIGNATURE_SIZE = 256 * 1024
MAX_KEY_SIZE = 4 * MIB

SOURCE_TYPES = ("auto", "domain", "provider_metadata_url", "directory")
TREE_MODES = ("symlink", "copy")
TLP_LABELS = ("WHITE", "CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED", "UNLABELED")
DEFAULT_TLP_ALLOW = ["WHITE", "CLEAR", "GREEN", "UNLABELED"]
HASH_ALGOS = ("sha512", "sha256")  # order of preference
INDEX_FORMAT = "aisec.gpu_host.csaf_sync/1"
INDEX_NAME = "index.json"

# Argument specification shared by the action plugin and the documentation stub module.
ARGUMENT_SPEC = dict(
    source=dict(type="str", required=True),
    source_type=dict(type="str", default="auto", choices=list(SOURCE_TYPES)),
    dest=dict(type="path", required=True),
    trusted_fingerprints=dict(type="list", elements="str", default=[], no_log=False),
    public_keys=dict(type="list", elements="path", default=[], no_log=False),
    tlp_allow=dict(type="list", elements="str", default=list(DEFAULT_TLP_ALLOW)),
    max_size=dict(type="int", default=DEFAULT_MAX_SIZE),
    max_listing_size=dict(type="int", default=DEFAULT_MAX_LISTING_SIZE),
    require_hash=dict(type="bool", default=True),
    accept_crlf_hash=dict(type="bool", default=True),
    strict=dict(type="bool", default=False),
    ca_path=dict(type="path"),
    timeout=dict(type="int", default=30),
    workers=dict(type="int", default=2),
    user_agent=dict(type="str", default=DEFAULT_USER_AGENT),
    max_redirects=dict(type="int", default=3),
    use_proxy=dict(type="bool", default=True),
    full_resync=dict(type="bool", default=False),
    tree_mode=dict(type="str", default="symlink", choices=list(TREE_MODES)),
    expected_commit=dict(type="str"),
    fail_on_rejected=dict(type="bool", default=False),
)

_HOST_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)%s(?:\.%s)+$" % (_HOST_LABEL, _HOST_LABEL))
_DIR_REL_RE = re.compile(r"^[0-9]{4}/[A-Za-z0-9._+\-]+\.json$")
_HEX_RE = re.compile(r"^[0-9a-f]+$")
_COMMIT_RE = re.compile(r"^[0-9a-f]{7,64}$")
_YEAR_RE = re.compile(r"^[0-9]{4}$")


class SyncError(Exception):
    """A problem that stops the whole run (bad options, unusable provider metadata, IO errors)."""


class Rejection(Exception):
    """One document is refused; ``reason`` says why.

    ``components``: the component names the document names (``csaf_match.named_components``),
    None when unknown or when its content cannot be trusted (a hash or signature mismatch);
    csaf_match reports the rejection for each of them (None: for every component).
    """

    def __init__(self, reason, meta=None, components=None):
        self.reason = reason
        self.meta = meta or {}
        self.components = components
        super().__init__(reason)


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# --------------------------------------------------------------------------------------------------
# Options
# --------------------------------------------------------------------------------------------------
class SyncOptions:
    """Validated options; build with :func:`build_options`."""

    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)

    def policy(self):
        """Everything that decides acceptance; a change forces full re-verification."""
        return {
            "tlp_allow": sorted(self.tlp_allow),
            "max_size": self.max_size,
            "require_hash": self.require_hash,
            "accept_crlf_hash": self.accept_crlf_hash,
            "strict": self.strict,
            "trusted_fingerprints": sorted(self.trusted_fingerprints),
        }

    def policy_digest(self):
        return hashlib.sha256(json.dumps(self.policy(), sort_keys=True).encode("utf-8")).hexdigest()


def normalize_tlp(label):
    """``'tlp:white'`` -> ``'WHITE'``; ``None``/empty -> ``'UNLABELED'``; unknown -> ``ValueError``."""
    if label is None or (isinstance(label, str) and not label.strip()):
        return "UNLABELED"
    if not isinstance(label, str):
        raise ValueError("TLP label must be a string, got %s" % type(label).__name__)
    text = label.strip().upper()
    if text.startswith("TLP:"):
        text = text[4:]
    if text not in TLP_LABELS:
        raise ValueError("unknown TLP label %r (known: %s)" % (label, ", ".join(TLP_LABELS)))
    return text


def split_host(value):
    """Validate a provider domain (optionally ``host:port``); return ``(host, port or None)``."""
    text = value.strip().lower().rstrip(".")
    host, port = text, None
    if text.count(":") == 1:
        host, _sep, port_text = text.partition(":")
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ValueError("invalid port in domain %r" % value)
        port = int(port_text)
    try:
        ipaddress.IPv4Address(host)
        return host, port
    except ValueError:
        pass
    if not _DOMAIN_RE.match(host):
        raise ValueError(
            "%r is not a domain name (expected e.g. 'example.com'; give an https:// URL for provider"
            " metadata or an absolute path for a local directory)" % value
        )
    return host, port


def classify_source(source, source_type="auto"):
    """Return ``(kind, value)`` with kind ``domain`` | ``provider_metadata_url`` | ``directory``."""
    if not isinstance(source, str) or not source.strip():
        raise ValueError("source must be a non-empty string")
    text = source.strip()
    if source_type not in SOURCE_TYPES:
        raise ValueError("source_type must be one of %s" % ", ".join(SOURCE_TYPES))
    kind = source_type
    if kind == "auto":
        lowered = text.lower()
        if "://" in lowered:
            kind = "provider_metadata_url"
        elif text.startswith(("/", "./", "../", "~")) or text in (".", ".."):
            kind = "directory"
        else:
            kind = "domain"
    if kind == "provider_metadata_url":
        try:
            require_https_url(text)
        except FetchError as exc:
            raise ValueError("source: %s" % exc)
        return kind, text
    if kind == "domain":
        host, port = split_host(text)
        return kind, host if port is None else "%s:%d" % (host, port)
    return kind, text


def build_options(params, check_mode=False, base_dir=None):
    """Validate and normalise the task parameters (already type-checked by ``ARGUMENT_SPEC``).

    Raises ``SyncError`` with a message naming the option at fault.
    """
    def fail(msg):
        raise SyncError(msg)

    def resolve(path):
        path = os.path.expanduser(path)
        if not os.path.isabs(path):
            path = os.path.join(base_dir or os.getcwd(), path)
        return os.path.normpath(path)

    p = {}
    for key, spec in ARGUMENT_SPEC.items():
        value = params.get(key)
        if value is None and "default" in spec:
            value = spec["default"]
        p[key] = value
    try:
        kind, value = classify_source(p["source"], p["source_type"])
    except ValueError as exc:
        fail(str(exc))
    if kind == "directory":
        value = resolve(value)
    if not p["dest"]:
        fail("dest must be a non-empty path")
    dest = resolve(p["dest"])
    if kind == "directory" and (dest == value or dest.startswith(value.rstrip(os.sep) + os.sep) or value.startswith(dest + os.sep)):
        fail("dest (%s) must not be the source directory or inside it, nor contain it" % dest)
    pins = []
    for fpr in p["trusted_fingerprints"] or []:
        try:
            norm = normalize_fingerprint(fpr)
        except ValueError as exc:
            fail("trusted_fingerprints: %s" % exc)
        if norm not in pins:
            pins.append(norm)
    tlp_allow = []
    for label in p["tlp_allow"] or []:
        try:
            norm = normalize_tlp(label)
        except ValueError as exc:
            fail("tlp_allow: %s" % exc)
        if norm not in tlp_allow:
            tlp_allow.append(norm)
    if not tlp_allow:
        fail("tlp_allow must name at least one TLP label")
    for name, low, high in (
        ("max_size", 1024, 1024 * MIB),
        ("max_listing_size", 1024, 4096 * MIB),
        ("timeout", 1, 3600),
        ("workers", 1, 16),
        ("max_redirects", 0, 10),
    ):
        val = p[name]
        if not isinstance(val, int) or isinstance(val, bool) or not low <= val <= high:
            fail("%s must be an integer between %d and %d, got %r" % (name, low, high, val))
    ua = p["user_agent"]
    if not isinstance(ua, str) or not ua.strip() or any(ord(c) < 0x20 or ord(c) > 0x7E for c in ua):
        fail("user_agent must be a non-empty printable ASCII string")
    commit = p["expected_commit"]
    if commit is not None:
        commit = commit.strip().lower()
        if kind != "directory":
            fail("expected_commit only applies to a directory source (a git checkout)")
        if not _COMMIT_RE.match(commit):
            fail("expected_commit must be a git commit id of 7 to 64 hex digits, got %r" % p["expected_commit"])
    if p["tree_mode"] not in TREE_MODES:
        fail("tree_mode must be one of %s" % ", ".join(TREE_MODES))
    return SyncOptions(
        source=p["source"],
        source_kind=kind,
        source_value=value,
        dest=dest,
        trusted_fingerprints=pins,
        public_keys=[resolve(k) for k in (p["public_keys"] or [])],
        tlp_allow=tlp_allow,
        max_size=p["max_size"],
        max_listing_size=p["max_listing_size"],
        require_hash=bool(p["require_hash"]),
        accept_crlf_hash=bool(p["accept_crlf_hash"]) and not p["strict"],
        strict=bool(p["strict"]),
        ca_path=resolve(p["ca_path"]) if p["ca_path"] else None,
        timeout=p["timeout"],
        workers=p["workers"],
        user_agent=ua.strip(),
        max_redirects=p["max_redirects"],
        use_proxy=bool(p["use_proxy"]),
        full_resync=bool(p["full_resync"]),
        tree_mode=p["tree_mode"],
        expected_commit=commit,
        fail_on_rejected=bool(p["fail_on_rejected"]),
        check_mode=bool(check_mode),
    )


# --------------------------------------------------------------------------------------------------
# Pure parsing helpers
# --------------------------------------------------------------------------------------------------
def discovery_urls(domain):
    """Provider-metadata candidate URLs in CSAF 2.0 order, and the security.txt URL.

    Returns ``(well_known_url, security_txt_url, dns_url or None)``; no DNS variant for IP literals.
    """
    host, port = split_host(domain)
    netloc = host if port is None else "%s:%d" % (host, port)
    well_known = "https://%s/.well-known/csaf/provider-metadata.json" % netloc
    security_txt = "https://%s/.well-known/security.txt" % netloc
    try:
        ipaddress.IPv4Address(host)
        dns = None
    except ValueError:
        dns_host = "csaf.data.security.%s" % host
        dns = "https://%s/" % (dns_host if port is None else "%s:%d" % (dns_host, port))
    return well_known, security_txt, dns


def parse_security_txt(text):
    """Return ``(https_urls, ignored)`` from the ``CSAF:`` fields of a security.txt (RFC 9116).

    Field names are case-insensitive; comments and PGP armour lines are ignored; non-https values
    are returned in ``ignored``.
    """
    urls, ignored = [], []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if line.startswith("- "):  # dash-escaped line inside a cleartext signature
            line = line[2:]
        if not line or line.startswith("#"):
            continue
        name, sep, val = line.partition(":")
        if not sep or name.strip().lower() != "csaf":
            continue
        val = val.strip()
        if val.lower().startswith("https://") and not any(c.isspace() for c in val):
            if val not in urls:
                urls.append(val)
        else:
            ignored.append(val)
    return urls, ignored


def parse_hash_text(text, algo):
    """Leading hex token of a hash file, lower-cased; ``Rejection`` when malformed."""
    expected_len = {"sha256": 64, "sha512": 128}[algo]
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise Rejection("%s hash file is not UTF-8 text" % algo)
    text = text.lstrip("\ufeff").strip()
    token = text.split()[0].lower() if text else ""
    if len(token) != expected_len or not _HEX_RE.match(token):
        raise Rejection("%s hash file does not start with a %d-digit hex digest" % (algo, expected_len))
    return token


def crlf_variant(raw):
    """The bytes with every line ending converted to CRLF (how NVIDIA computed some .sha256 files)."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def check_digest(raw, hashes, accept_crlf_hash=False, require_hash=True):
    """Check ``raw`` against hash file texts ``{algo: text}`` (sha512 preferred).

    Returns ``(label, warning or None)`` where label is ``sha512``, ``sha256``, ``<algo>-crlf`` or
    ``none``; raises ``Rejection`` on mismatch (fail closed). A digest of the CRLF-converted bytes
    (NVIDIA's publishing defect) still proves the content: JSON has no raw line breaks inside
    strings, so both byte forms parse to the same document. It is accepted with a warning when
    ``accept_crlf_hash`` is true; rejected otherwise, with ``Rejection.crlf_match`` set.
    """
    for algo in HASH_ALGOS:
        text = hashes.get(algo)
        if text is None:
            continue
        expected = parse_hash_text(text, algo)
        actual = hashlib.new(algo, raw).hexdigest()
        if hmac.compare_digest(expected, actual):
            return algo, None
        crlf = hashlib.new(algo, crlf_variant(raw)).hexdigest()
        if crlf != actual and hmac.compare_digest(expected, crlf):
            if accept_crlf_hash:
                return algo + "-crlf", (
                    "%s file matches the CRLF-converted text, not the published bytes (known NVIDIA"
                    " publishing defect); accepted because accept_crlf_hash is true" % algo
                )
            exc = Rejection(
                "%s mismatch: the hash file matches the CRLF-converted text, not the published bytes"
                " (known NVIDIA publishing defect); rejected because accept_crlf_hash is false or strict is true" % algo
            )
            exc.crlf_match = True
            raise exc
        raise Rejection("%s mismatch: hash file says %s..., content is %s..." % (algo, expected[:16], actual[:16]))
    if require_hash:
        raise Rejection("no .sha512 or .sha256 hash file published for the document")
    return "none", "no hash file; accepted because require_hash is false"


def parse_changes_csv(text):
    """``changes.csv`` rows -> list of ``(path, current_release_date)``; raises ``ValueError``."""
    rows = []
    reader = csv.reader(io.StringIO(text))
    for lineno, row in enumerate(reader, 1):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != 2:
            raise ValueError("changes.csv line %d: expected 2 fields, got %d" % (lineno, len(row)))
        rows.append((row[0].strip(), row[1].strip()))
    return rows


def parse_index_txt(text):
    """``index.txt`` -> list of relative paths (blank lines skipped)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def check_directory_path(rel):
    """Refuse anything but ``<YYYY>/<file>.json`` below the directory URL."""
    if not isinstance(rel, str) or not _DIR_REL_RE.match(rel):
        raise Rejection("listed path %r is not of the form <YYYY>/<file>.json" % (rel,))
    return rel


def _hash_algo_of(href):
    lowered = urlsplit(href).path.lower()
    for algo in HASH_ALGOS:
        if lowered.endswith("." + algo):
            return algo
    return None


def parse_rolie_feed(obj, feed_url):
    """ROLIE feed JSON -> ``(entries, problems)``.

    Each entry: ``{"url", "updated", "hashes": [(algo, url)], "signature": url or None}``; hashes in
    order of preference. ``problems`` lists ``(what, reason)`` for unusable entries. Raises
    ``ValueError`` when the feed itself is malformed.
    """
    if not isinstance(obj, dict) or not isinstance(obj.get("feed"), dict):
        raise ValueError("not a ROLIE feed: no 'feed' object")
    entries_raw = obj["feed"].get("entry") or []
    if not isinstance(entries_raw, list):
        raise ValueError("ROLIE feed 'entry' is not a list")
    entries, problems = [], []
    for pos, entry in enumerate(entries_raw):
        what = "%s entry #%d" % (feed_url, pos)
        if not isinstance(entry, dict):
            problems.append((what, "entry is not an object"))
            continue
        links = [lnk for lnk in (entry.get("link") or []) if isinstance(lnk, dict) and isinstance(lnk.get("href"), str)]
        content = entry.get("content") if isinstance(entry.get("content"), dict) else {}
        href = content.get("src") if isinstance(content.get("src"), str) else None
        if not href:
            href = next((lnk["href"] for lnk in links if lnk.get("rel") == "self"), None)
        if not href:
            problems.append((what, "entry has no content src or self link"))
            continue
        try:
            url = require_https_url(urljoin(feed_url, href))
        except FetchError as exc:
            problems.append((what, str(exc)))
            continue
        hashes, signature = {}, None
        for lnk in links:
            rel = lnk.get("rel")
            try:
                target = require_https_url(urljoin(feed_url, lnk["href"]))
            except FetchError:
                continue
            if rel == "hash":
                algo = _hash_algo_of(target)
                if algo and algo not in hashes:
                    hashes[algo] = target
            elif rel == "signature" and signature is None:
                signature = target
        updated = entry.get("updated") if isinstance(entry.get("updated"), str) else None
        entries.append({
            "url": url,
            "updated": updated,
            "hashes": [(a, hashes[a]) for a in HASH_ALGOS if a in hashes],
            "signature": signature,
        })
    return entries, problems


def plan_distributions(pmd, tlp_allow):
    """Pick what to read from provider metadata: ROLIE feeds when any are listed, else directories.

    Returns ``{"mode": "rolie"|"directory"|None, "feeds": [(url, tlp)], "directories": [url], "skipped": [str]}``.
    """
    feeds, directories, skipped = [], [], []
    saw_rolie = False
    for dist in pmd.get("distributions") or []:
        if not isinstance(dist, dict):
            continue
        rolie = dist.get("rolie")
        if isinstance(rolie, dict):
            for feed in rolie.get("feeds") or []:
                if not isinstance(feed, dict) or not isinstance(feed.get("url"), str):
                    continue
                saw_rolie = True
                try:
                    label = normalize_tlp(feed.get("tlp_label"))
                except ValueError:
                    skipped.append("ROLIE feed %s skipped: unknown TLP label %r" % (feed["url"], feed.get("tlp_label")))
                    continue
                if label not in tlp_allow:
                    skipped.append("ROLIE feed %s skipped: TLP:%s is not in tlp_allow" % (feed["url"], label))
                    continue
                if feed["url"] not in [f[0] for f in feeds]:
                    feeds.append((feed["url"], label))
        directory = dist.get("directory_url")
        if isinstance(directory, str) and directory not in directories:
            directories.append(directory)
    if saw_rolie:
        if directories:
            skipped.extend("directory distribution %s not used: ROLIE feeds are preferred" % d for d in directories)
        return {"mode": "rolie", "feeds": feeds, "directories": [], "skipped": skipped}
    if directories:
        return {"mode": "directory", "feeds": [], "directories": directories, "skipped": skipped}
    return {"mode": None, "feeds": [], "directories": [], "skipped": skipped}


def _urls_equal(a, b):
    if a == b:
        return True
    if isinstance(a, str) and isinstance(b, str) and a.rstrip("/") == b.rstrip("/"):
        return urlsplit(a).path in ("", "/")
    return False


def _same_origin(a, b):
    """Both https URLs on the same host and port (the DNS discovery route serves the metadata at '/')."""
    if not isinstance(a, str) or not isinstance(b, str):
        return False
    pa, pb = urlsplit(a), urlsplit(b)
    return pa.scheme == pb.scheme == "https" and pa.netloc.lower() == pb.netloc.lower()


def year_folder(relpath):
    """The ``YYYY`` folder a document sits in (``YYYY/x.json`` or ``YYYY/ID/ID.json``), else None."""
    parts = [p for p in relpath.split("/") if p]
    if len(parts) >= 3 and _YEAR_RE.match(parts[-3]) and parts[-1] == parts[-2] + ".json":
        return parts[-3]
    if len(parts) >= 2 and _YEAR_RE.match(parts[-2]):
        return parts[-2]
    return None


# --------------------------------------------------------------------------------------------------
# Document evaluation
# --------------------------------------------------------------------------------------------------
def _short_errors(errors, limit=3):
    shown = "; ".join(str(e) for e in errors[:limit])
    if len(errors) > limit:
        shown += " (+%d more)" % (len(errors) - limit)
    return shown


def evaluate_document(raw, relpath, hashes, signature, feed_tlp, options, verifier=None):
    """Run every acceptance check on one document's bytes.

    ``relpath``: path below the source root / URL path (for the file name and year folder checks).
    ``hashes``: ``{algo: hash file text}`` found; ``signature``: detached signature bytes or None;
    ``feed_tlp``: TLP label of the feed it was listed in (``UNLABELED`` for directories).
    Returns a dict (meta, sha256, hash, signature, signer, warnings, validation_warnings); raises
    ``Rejection``.
    """
    warnings = []
    if len(raw) > options.max_size:
        raise Rejection("too large: %d bytes exceeds max_size %d" % (len(raw), options.max_size))
    try:
        hash_label, hash_warning = check_digest(raw, hashes, options.accept_crlf_hash, options.require_hash)
    except Rejection as exc:
        if getattr(exc, "crlf_match", False):
            # The content itself is verified (modulo line endings): say what it is and which components it names.
            exc.meta, exc.components = _describe_raw(raw, options.max_size)
        raise
    if hash_warning:
        warnings.append(hash_warning)
    signer = None
    if verifier is not None:
        if signature is None:
            raise Rejection("no OpenPGP signature (.asc) published, but the provider is trusted (trusted_fingerprints are pinned)")
        result = verifier.verify(raw, signature)
        if not result.ok:
            raise Rejection("OpenPGP signature check failed: %s" % result.detail)
        signer = result.fingerprint
        sig_status = "valid"
    else:
        sig_status = "not_checked"
    try:
        doc = load_bytes(raw, options.max_size)
    except CsafError as exc:
        raise Rejection("not a usable CSAF JSON document: %s" % exc)
    try:
        return _evaluate_parsed(raw, doc, relpath, feed_tlp, options, warnings, hash_label, sig_status, signer)
    except Rejection as exc:
        if exc.components is None:
            exc.components = _named_components(doc)
        raise


def _named_components(doc):
    if named_components is None:  # pragma: no cover - depends on the installation
        return None
    return named_components(doc)


def _describe_raw(raw, max_size):
    """(metadata, named components) of verified bytes; ({}, None) when they are no readable document."""
    try:
        doc = load_bytes(raw, max_size)
        return document_meta(doc), _named_components(doc)
    except (CsafError, KeyError, TypeError, ValueError):
        return {}, None


def _evaluate_parsed(raw, doc, relpath, feed_tlp, options, warnings, hash_label, sig_status, signer):
    """The checks of :func:`evaluate_document` after the bytes were verified and parsed."""
    try:
        meta = document_meta(doc)
    except (CsafError, KeyError, TypeError, ValueError) as exc:
        raise Rejection("cannot read the document metadata: %s" % exc)
    if feed_tlp not in options.tlp_allow:
        raise Rejection("listed in a TLP:%s feed, which is not in tlp_allow" % feed_tlp, meta)
    try:
        doc_tlp = normalize_tlp(meta.get("tlp"))
    except ValueError as exc:
        raise Rejection("document TLP label: %s" % exc, meta)
    if doc_tlp not in options.tlp_allow:
        raise Rejection("document is labelled TLP:%s, which is not in tlp_allow (%s)" % (doc_tlp, ", ".join(options.tlp_allow)), meta)
    if meta.get("status") == "draft":
        raise Rejection("document status is draft; drafts are never acted on", meta)
    try:
        report = validate(doc, accept_date_only=not options.strict)
    except CsafError as exc:
        raise Rejection("validation could not run: %s" % exc, meta)
    if not report.ok:
        drafts = [e for e in report.errors if str(e).startswith("6.1.17")]
        if drafts:
            raise Rejection("draft version: %s" % _short_errors(drafts), meta)
        raise Rejection("CSAF validation failed: %s" % _short_errors(list(report.errors)), meta)
    tracking_id = meta.get("tracking_id")
    if not isinstance(tracking_id, str) or not tracking_id:
        raise Rejection("document has no tracking.id", meta)
    expected = expected_filename(tracking_id)
    name = relpath.rsplit("/", 1)[-1]
    if name != expected:
        raise Rejection("file name %r does not match tracking.id %r (expected %r)" % (name, tracking_id, expected), meta)
    initial = meta.get("initial_release_date") or ""
    year = year_folder(relpath)
    if year is not None and initial[:4] != year:
        raise Rejection("year folder %s does not match initial_release_date %s" % (year, initial or "(none)"), meta)
    if not _YEAR_RE.match(initial[:4]):
        raise Rejection("initial_release_date %r has no year" % (initial,), meta)
    for warning in getattr(report, "warnings", []) or []:
        if warning.startswith("known publisher defect:"):
            warnings.append(warning + "; accepted because strict is false")
    return {
        "meta": meta,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "size": len(raw),
        "hash": hash_label,
        "signature": sig_status,
        "signer": signer,
        "tlp": doc_tlp,
        "warnings": warnings,
        "validation_warnings": len(getattr(report, "warnings", []) or []),
    }


# --------------------------------------------------------------------------------------------------
# Local directory source
# --------------------------------------------------------------------------------------------------
def list_local_documents(root):
    """Candidate CSAF files below ``root``: ``YYYY/<file>.json`` or ``YYYY/<ID>/<ID>.json``.

    Hidden directories (``.git``) are skipped, as are other JSON files (NVIDIA's ``CVE-*.json``).
    Returns ``(relpaths, problems)``; symbolic links are reported in ``problems`` and not followed.
    """
    found, problems = [], []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = os.path.relpath(dirpath, root)
        parts = [] if rel_dir == "." else rel_dir.split(os.sep)
        if not parts or not _YEAR_RE.match(parts[0]) or len(parts) > 2:
            continue
        for name in sorted(filenames):
            if not name.endswith(".json"):
                continue
            if len(parts) == 2 and name != parts[1] + ".json":
                continue
            rel = "/".join(parts + [name])
            if os.path.islink(os.path.join(dirpath, name)):
                problems.append((rel, "is a symbolic link; not followed"))
                continue
            found.append(rel)
    return found, problems


def _read_local(path, limit, what):
    """Read a regular file without following symlinks; ``Rejection`` on any problem."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        if exc.errno == errno.ELOOP:
            raise Rejection("%s is a symbolic link; not followed" % what)
        raise Rejection("cannot open %s: %s" % (what, exc.strerror or exc))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Rejection("%s is not a regular file" % what)
        if info.st_size > limit:
            raise Rejection("%s too large: %d bytes exceeds the limit of %d" % (what, info.st_size, limit))
        with os.fdopen(fd, "rb") as handle:
            fd = None
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise Rejection("%s too large: exceeds the limit of %d bytes" % (what, limit))
        return data
    except OSError as exc:
        raise Rejection("cannot read %s: %s" % (what, exc.strerror or exc))
    finally:
        if fd is not None:
            os.close(fd)


def read_git_head(root):
    """Commit id checked out in ``root`` (a git work tree), or None; reads files, runs no git."""
    dotgit = os.path.join(root, ".git")
    try:
        if os.path.isfile(dotgit):
            with open(dotgit, "r", encoding="utf-8") as handle:
                line = handle.read().strip()
            if not line.startswith("gitdir:"):
                return None
            gitdir = line[len("gitdir:"):].strip()
            if not os.path.isabs(gitdir):
                gitdir = os.path.normpath(os.path.join(root, gitdir))
        elif os.path.isdir(dotgit):
            gitdir = dotgit
        else:
            return None
        with open(os.path.join(gitdir, "HEAD"), "r", encoding="utf-8") as handle:
            head = handle.read().strip()
        if not head.startswith("ref:"):
            return head.lower() if _COMMIT_RE.match(head.lower()) else None
        ref = head[4:].strip()
        commondir = gitdir
        common_file = os.path.join(gitdir, "commondir")
        if os.path.isfile(common_file):
            with open(common_file, "r", encoding="utf-8") as handle:
                commondir = os.path.normpath(os.path.join(gitdir, handle.read().strip()))
        for base in (gitdir, commondir):
            ref_path = os.path.join(base, *ref.split("/"))
            if os.path.isfile(ref_path):
                with open(ref_path, "r", encoding="utf-8") as handle:
                    return handle.read().strip().lower() or None
        packed = os.path.join(commondir, "packed-refs")
        if os.path.isfile(packed):
            with open(packed, "r", encoding="utf-8") as handle:
                for line in handle:
                    fields = line.strip().split(" ", 1)
                    if len(fields) == 2 and fields[1] == ref:
                        return fields[0].lower()
    except (OSError, UnicodeDecodeError):
        return None
    return None


# --------------------------------------------------------------------------------------------------
# Mirror store
# --------------------------------------------------------------------------------------------------
class MirrorStore:
    """Content-addressed mirror in ``dest`` (see the module docstring for the layout)."""

    def __init__(self, dest, tree_mode="symlink"):
        self.dest = dest
        self.tree_mode = tree_mode
        self.index_path = os.path.join(dest, INDEX_NAME)
        self._lock_fd = None
        self.index = None
        self._index_text = None

    # -- index ------------------------------------------------------------------------------------
    def load_index(self):
        try:
            with open(self.index_path, "r", encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            self.index = {"format": INDEX_FORMAT, "source": None, "policy": None, "http_cache": {}, "documents": {}}
            self._index_text = None
            return self.index
        except OSError as exc:
            raise SyncError("cannot read %s: %s" % (self.index_path, exc.strerror or exc))
        try:
            index = json.loads(text)
        except ValueError as exc:
            raise SyncError("%s is not valid JSON (%s); move it away to rebuild the mirror" % (self.index_path, exc))
        if not isinstance(index, dict) or index.get("format") != INDEX_FORMAT:
            raise SyncError("%s is not a csaf_sync index (format %r); use an empty dest directory" % (self.index_path, INDEX_FORMAT))
        index.setdefault("http_cache", {})
        index.setdefault("documents", {})
        self.index = index
        self._index_text = text
        return index

    def save_index(self):
        """Write the index atomically; returns True when its content changed."""
        text = json.dumps(self.index, indent=1, sort_keys=True) + "\n"
        if text == self._index_text:
            return False
        write_atomic(self.index_path, text.encode("utf-8"), 0o644)
        self._index_text = text
        return True

    # -- locking ----------------------------------------------------------------------------------
    def open(self):
        try:
            os.makedirs(self.dest, mode=0o755, exist_ok=True)
            foreign = [n for n in os.listdir(self.dest) if n != ".lock"]
        except OSError as exc:
            raise SyncError("cannot create dest %s: %s" % (self.dest, exc.strerror or exc))
        if foreign and not os.path.exists(self.index_path):
            # The tree reconciliation deletes unknown files in <YYYY> folders: never adopt a foreign directory.
            raise SyncError("dest %s is not empty and holds no csaf_sync index.json; use a new or empty directory" % self.dest)
        if fcntl is not None:
            try:
                self._lock_fd = os.open(os.path.join(self.dest, ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if self._lock_fd is not None:
                    os.close(self._lock_fd)
                    self._lock_fd = None
                if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                    raise SyncError("another csaf_sync run holds the lock on %s; run it once (run_once: true)" % self.dest)
                raise SyncError("cannot lock %s: %s" % (self.dest, exc.strerror or exc))
        self.load_index()

    def close(self):
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- blobs ------------------------------------------------------------------------------------
    def _blob_path(self, area, digest):
        return os.path.join(self.dest, area, "sha256", digest[:2], digest)

    def blob_path(self, digest):
        return self._blob_path("blobs", digest)

    def has_blob(self, digest, verify=False):
        path = self.blob_path(digest)
        if not os.path.isfile(path):
            return False
        if verify:
            try:
                with open(path, "rb") as handle:
                    return hashlib.sha256(handle.read()).hexdigest() == digest
            except OSError:
                return False
        return True

    def put_blob(self, raw, area="blobs"):
        digest = hashlib.sha256(raw).hexdigest()
        path = self._blob_path(area, digest)
        if not os.path.isfile(path):
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            write_atomic(path, raw, 0o444)
        return digest

    def read_cached(self, digest):
        try:
            with open(self._blob_path("http_cache", digest), "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        return data if hashlib.sha256(data).hexdigest() == digest else None

    # -- tree -------------------------------------------------------------------------------------
    def _tree_entry_ok(self, path, digest):
        target = self.blob_path(digest)
        if self.tree_mode == "symlink":
            if not os.path.islink(path):
                return False
            return os.readlink(path) == os.path.relpath(target, os.path.dirname(path))
        if os.path.islink(path) or not os.path.isfile(path):
            return False
        try:
            with open(path, "rb") as handle:
                return hashlib.sha256(handle.read()).hexdigest() == digest
        except OSError:
            return False

    def reconcile_tree(self, wanted):
        """Make ``<YYYY>/<file>.json`` match ``wanted`` ({tree_path: sha256}); returns paths changed."""
        changed = []
        for tree_path, digest in sorted(wanted.items()):
            path = os.path.join(self.dest, *tree_path.split("/"))
            if self._tree_entry_ok(path, digest):
                continue
            os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
            if self.tree_mode == "symlink":
                tmp = os.path.join(os.path.dirname(path), ".tmp-link-%s" % digest[:16])
                if os.path.lexists(tmp):
                    os.unlink(tmp)
                os.symlink(os.path.relpath(self.blob_path(digest), os.path.dirname(path)), tmp)
                os.replace(tmp, path)
            else:
                with open(self.blob_path(digest), "rb") as handle:
                    data = handle.read()
                write_atomic(path, data, 0o644)
            changed.append(tree_path)
        # Remove tree files no longer wanted (only inside <YYYY> folders, which this code owns).
        for entry in sorted(os.listdir(self.dest)):
            year_dir = os.path.join(self.dest, entry)
            if not _YEAR_RE.match(entry) or os.path.islink(year_dir) or not os.path.isdir(year_dir):
                continue
            for name in sorted(os.listdir(year_dir)):
                tree_path = "%s/%s" % (entry, name)
                if tree_path in wanted:
                    continue
                full = os.path.join(year_dir, name)
                if os.path.isdir(full) and not os.path.islink(full):
                    continue
                os.unlink(full)
                changed.append(tree_path)
            if not os.listdir(year_dir):
                os.rmdir(year_dir)
        return changed

    def collect_garbage(self, keep_blobs, keep_cache):
        """Delete blobs not referenced by the index; returns the number removed."""
        removed = 0
        for area, keep in (("blobs", keep_blobs), ("http_cache", keep_cache)):
            base = os.path.join(self.dest, area, "sha256")
            if not os.path.isdir(base):
                continue
            for sub in os.listdir(base):
                subdir = os.path.join(base, sub)
                if not os.path.isdir(subdir):
                    continue
                for name in os.listdir(subdir):
                    if name not in keep:
                        try:
                            os.unlink(os.path.join(subdir, name))
                            removed += 1
                        except OSError:
                            pass
                if not os.listdir(subdir):
                    os.rmdir(subdir)
        return removed


# --------------------------------------------------------------------------------------------------
# The sync run
# --------------------------------------------------------------------------------------------------
class _Item:
    """One document to consider: where it is, how to verify it, and its change marker."""

    __slots__ = ("key", "url", "relpath", "feed_tlp", "hashes", "signature", "marker", "origin")

    def __init__(self, key, url, relpath, feed_tlp, hashes, signature, marker, origin):
        self.key = key
        self.url = url
        self.relpath = relpath
        self.feed_tlp = feed_tlp
        self.hashes = hashes
        self.signature = signature
        self.marker = marker
        self.origin = origin


class CsafSync:
    """One synchronisation run; see :func:`run_sync`."""

    def __init__(self, options, fetcher=None):
        self.o = options
        self.fetcher = fetcher
        self.store = MirrorStore(options.dest, options.tree_mode)
        self.warnings = []
        self.rejected = []
        self.documents = []
        self.counts = {"new": 0, "updated": 0, "unchanged": 0, "rejected": 0}
        self.errors = []
        self.verifier = None
        self.provider = None
        self.accepted_keys = set()
        self.policy_changed = False

    # -- helpers ----------------------------------------------------------------------------------
    def warn(self, msg):
        if msg not in self.warnings:
            self.warnings.append(msg)

    def reject(self, what, reason, known=None, meta=None, components=None):
        entry = {"source": what, "reason": reason, "components": components}
        if meta and meta.get("tracking_id"):
            entry["tracking_id"] = meta.get("tracking_id")
        if known is not None and not self.policy_changed:
            entry["kept_previous"] = True
            entry["reason"] = reason + " (the previously verified version is kept)"
        else:
            entry["kept_previous"] = False
        self.rejected.append(entry)
        self.counts["rejected"] += 1

    def _get(self, url, limit, etag=None, last_modified=None):
        return self.fetcher.get(url, limit, etag=etag, last_modified=last_modified)

    def _get_listing(self, url):
        """GET a listing (feed, changes.csv, index.txt) with a conditional request; returns bytes."""
        cache = self.store.index["http_cache"].get(url) or {}
        cached_body = self.store.read_cached(cache["sha256"]) if cache.get("sha256") else None
        etag = cache.get("etag") if cached_body is not None else None
        last_mod = cache.get("last_modified") if cached_body is not None else None
        result = self._get(url, self.o.max_listing_size, etag, last_mod)
        if result.not_modified:
            if cached_body is None:
                raise FetchError(url, "server answered 304 Not Modified but no cached copy exists")
            self._new_cache[url] = cache
            return cached_body
        body = result.body
        entry = {"sha256": hashlib.sha256(body).hexdigest()}
        if result.etag:
            entry["etag"] = result.etag
        if result.last_modified:
            entry["last_modified"] = result.last_modified
        self._new_cache[url] = entry
        self._new_cache_bodies[url] = body
        return body

    # -- top level --------------------------------------------------------------------------------
    def run(self):
        if CSAF_DOCUMENT_IMPORT_ERROR:
            raise SyncError("the collection's csaf_document module cannot be imported (%s); check that jsonschema and"
                            " referencing are installed on the controller" % CSAF_DOCUMENT_IMPORT_ERROR)
        if self.o.check_mode:
            return self._check_mode()
        if self.o.source_kind == "directory" and not os.path.isdir(self.o.source_value):
            raise SyncError("source directory %s does not exist or is not a directory" % self.o.source_value)
        self.store.open()
        try:
            self._check_index_source()
            if self.o.source_kind == "directory":
                self._prepare_local()
            elif self.fetcher is None:
                try:
                    self.fetcher = HttpsFetcher(
                        ca_path=self.o.ca_path, timeout=self.o.timeout, user_agent=self.o.user_agent,
                        max_redirects=self.o.max_redirects, use_proxy=self.o.use_proxy,
                    )
                except FetchError as exc:
                    raise SyncError("ca_path: %s" % exc)
            if self.o.trusted_fingerprints:
                try:
                    self.verifier = OpenPGPVerifier(self.o.trusted_fingerprints, timeout=max(self.o.timeout, 30))
                except OpenPGPError as exc:
                    raise SyncError(str(exc))
            try:
                if self.o.source_kind == "directory":
                    self._load_local_keys()
                    if self.verifier is not None:
                        self._finalize_keys()
                    items = self._local_items()
                    self._process(items, self._process_local)
                else:
                    self._sync_remote()
            finally:
                if self.verifier is not None:
                    self.verifier.close()
            return self._finish()
        finally:
            self.store.close()

    def _source_record(self):
        return {"type": self.o.source_kind, "value": self.o.source_value}

    def _refuse_foreign_source(self, index):
        source = index.get("source")
        if source is None:
            return
        if not isinstance(source, dict) or (source.get("type"), source.get("value")) != (self.o.source_kind, self.o.source_value):
            theirs = source if not isinstance(source, dict) else "%s %r" % (source.get("type"), source.get("value"))
            raise SyncError("dest %s already mirrors %s; use a separate dest per source" % (self.o.dest, theirs))

    def _check_index_source(self):
        index = self.store.index
        record = self._source_record()
        self._refuse_foreign_source(index)
        if not isinstance(index.get("source"), dict):
            index["source"] = record
        self.policy_changed = index.get("policy") not in (None, self.o.policy_digest()) and bool(index["documents"])
        if self.policy_changed:
            self.warn("the acceptance policy changed since the last run: every document is verified again and"
                      " documents that no longer pass are removed from the mirror")
        index["policy"] = self.o.policy_digest()
        self._new_cache = {}
        self._new_cache_bodies = {}

    # -- keys ---------------------------------------------------------------------------------------
    def _load_local_keys(self):
        if self.verifier is None:
            if self.o.public_keys:
                self.warn("public_keys are ignored because no trusted_fingerprints are pinned")
            return
        for path in self.o.public_keys:
            try:
                with open(path, "rb") as handle:
                    data = handle.read(MAX_KEY_SIZE + 1)
            except OSError as exc:
                raise SyncError("public_keys: cannot read %s: %s" % (path, exc.strerror or exc))
            if len(data) > MAX_KEY_SIZE:
                raise SyncError("public_keys: %s is larger than %d bytes" % (path, MAX_KEY_SIZE))
            try:
                self.verifier.add_key_data(data, path)
            except OpenPGPError as exc:
                raise SyncError("public_keys: %s" % exc)

    def _finalize_keys(self):
        try:
            missing = self.verifier.finalize()
        except OpenPGPError as exc:
            raise SyncError(str(exc))
        if len(missing) == len(self.verifier.pinned):
            raise SyncError(
                "no public key was found for any pinned fingerprint (%s); give the key files in public_keys or"
                " make sure the provider metadata lists them" % ", ".join(missing)
            )
        for fpr in missing:
            self.warn("no public key found for pinned fingerprint %s" % fpr)

    # -- remote -------------------------------------------------------------------------------------
    def _fetch_pmd(self, url):
        result = self._get(url, MAX_PMD_SIZE)
        try:
            pmd = json.loads(result.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise SyncError("provider metadata at %s is not JSON: %s" % (url, exc))
        if not isinstance(pmd, dict):
            raise SyncError("provider metadata at %s is not a JSON object" % url)
        return pmd, result.final_url

    def _discover(self):
        if self.o.source_kind == "provider_metadata_url":
            url = self.o.source_value
            try:
                pmd, final = self._fetch_pmd(url)
            except FetchError as exc:
                raise SyncError("cannot fetch the provider metadata: %s" % exc)
            return pmd, url, final, "configured URL"
        well_known, security_txt, dns = discovery_urls(self.o.source_value)
        tried = []
        try:
            pmd, final = self._fetch_pmd(well_known)
            return pmd, well_known, final, "well-known URL"
        except FetchError as exc:
            tried.append(str(exc))
        try:
            text = self._get(security_txt, MAX_SECURITY_TXT_SIZE).body.decode("utf-8", "replace")
            urls, ignored = parse_security_txt(text)
            for bad in ignored:
                self.warn("security.txt CSAF field %r ignored: only https:// URLs are used" % bad)
            if not urls:
                tried.append("%s: no https CSAF field" % security_txt)
            for url in urls:
                try:
                    pmd, final = self._fetch_pmd(url)
                    return pmd, url, final, "security.txt"
                except FetchError as exc:
                    tried.append(str(exc))
        except FetchError as exc:
            tried.append(str(exc))
        if dns:
            try:
                pmd, final = self._fetch_pmd(dns)
                return pmd, dns, final, "DNS name"
            except FetchError as exc:
                tried.append(str(exc))
        raise SyncError("no CSAF provider metadata found for %s; tried: %s" % (self.o.source_value, "; ".join(tried)))

    def _sync_remote(self):
        pmd, url, final, how = self._discover()
        errors = validate_provider_metadata(pmd)
        if errors:
            raise SyncError("provider metadata at %s fails the CSAF provider schema: %s" % (url, _short_errors(list(errors))))
        canonical = pmd.get("canonical_url")
        if not (_urls_equal(canonical, url) or _urls_equal(canonical, final) or (how == "DNS name" and _same_origin(canonical, url))):
            raise SyncError("provider metadata canonical_url %r does not equal the URL it came from (%s)" % (canonical, final))
        publisher = pmd.get("publisher") or {}
        self.provider = {
            "provider_metadata_url": url,
            "discovered_via": how,
            "canonical_url": canonical,
            "role": pmd.get("role"),
            "publisher": publisher.get("name"),
            "last_updated": pmd.get("last_updated"),
        }
        self.store.index["source"]["provider_metadata_url"] = url
        if self.verifier is not None:
            if pmd.get("role") != "csaf_trusted_provider":
                self.warn("fingerprints are pinned but the provider's role is %r, not csaf_trusted_provider" % pmd.get("role"))
            self._load_local_keys()
            self._load_pmd_keys(pmd)
            self._finalize_keys()
        elif self.o.public_keys:
            self.warn("public_keys are ignored because no trusted_fingerprints are pinned")
        plan = plan_distributions(pmd, self.o.tlp_allow)
        for msg in plan["skipped"]:
            self.warn(msg)
        if plan["mode"] is None:
            raise SyncError("provider metadata at %s lists no ROLIE feed or directory distribution" % url)
        if plan["mode"] == "rolie" and not plan["feeds"]:
            raise SyncError("no ROLIE feed of the provider has a TLP label in tlp_allow (%s)" % ", ".join(self.o.tlp_allow))
        items = []
        seen = set()
        for feed_url, tlp in plan["feeds"]:
            for item in self._rolie_items(feed_url, tlp):
                if item.key not in seen:
                    seen.add(item.key)
                    items.append(item)
        for directory in plan["directories"]:
            for item in self._directory_items(directory):
                if item.key not in seen:
                    seen.add(item.key)
                    items.append(item)
        self._process(items, self._process_remote)

    def _load_pmd_keys(self, pmd):
        for entry in pmd.get("public_openpgp_keys") or []:
            if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
                continue
            listed = entry.get("fingerprint")
            if listed:
                try:
                    if normalize_fingerprint(listed) not in self.o.trusted_fingerprints:
                        continue  # a key we would not trust anyway
                except ValueError:
                    self.warn("provider metadata lists an invalid key fingerprint %r" % listed)
                    continue
            try:
                data = self._get(require_https_url(urljoin(self.provider["provider_metadata_url"], entry["url"])), MAX_KEY_SIZE).body
                self.verifier.add_key_data(data, entry["url"])
            except (FetchError, OpenPGPError) as exc:
                self.warn("provider key %s not loaded: %s" % (entry["url"], exc))

    def _rolie_items(self, feed_url, tlp):
        try:
            require_https_url(feed_url)
            body = self._get_listing(feed_url)
            feed = json.loads(body.decode("utf-8"))
            entries, problems = parse_rolie_feed(feed, feed_url)
        except (FetchError, UnicodeDecodeError, ValueError) as exc:
            self.errors.append("ROLIE feed %s unusable: %s" % (feed_url, exc))
            return []
        for what, reason in problems:
            self.reject(what, reason)
        items = []
        for entry in entries:
            hashes = entry["hashes"] or [(a, entry["url"] + "." + a) for a in HASH_ALGOS]
            signature = entry["signature"] or entry["url"] + ".asc"
            relpath = unquote(urlsplit(entry["url"]).path)
            items.append(_Item(entry["url"], entry["url"], relpath, tlp, hashes, signature, entry["updated"], "rolie:" + feed_url))
        return items

    def _directory_items(self, directory):
        try:
            base = require_https_url(directory if directory.endswith("/") else directory + "/")
        except FetchError as exc:
            self.errors.append("directory distribution unusable: %s" % exc)
            return []
        rows = {}
        found_listing = False
        for name in ("changes.csv", "index.txt"):
            url = base + name
            try:
                text = self._get_listing(url).decode("utf-8")
                found_listing = True
            except FetchError as exc:
                if exc.not_found:
                    self.warn("%s not found; relying on the other listing" % url)
                    continue
                self.errors.append("%s unusable: %s" % (url, exc))
                return []
            except UnicodeDecodeError:
                self.errors.append("%s is not UTF-8 text" % url)
                return []
            try:
                if name == "changes.csv":
                    for path, date in parse_changes_csv(text):
                        rows.setdefault(path, date)
                else:
                    for path in parse_index_txt(text):
                        rows.setdefault(path, None)
            except ValueError as exc:
                self.errors.append("%s unusable: %s" % (url, exc))
                return []
        if not found_listing:
            self.errors.append("directory distribution %s has neither changes.csv nor index.txt" % base)
            return []
        items = []
        for path, date in rows.items():
            try:
                check_directory_path(path)
            except Rejection as exc:
                self.reject(base + path if isinstance(path, str) else base, exc.reason)
                continue
            url = base + path
            items.append(_Item(
                url, url, path, "UNLABELED",
                [(a, url + "." + a) for a in HASH_ALGOS], url + ".asc", date, "directory:" + base,
            ))
        return items

    def _fetch_hashes(self, item):
        for algo, url in item.hashes:
            try:
                return {algo: self._get(url, MAX_HASH_SIZE).body}
            except FetchError as exc:
                if exc.not_found:
                    continue
                raise Rejection("cannot fetch the %s hash file: %s" % (algo, exc))
        return {}

    def _fetch_signature(self, item):
        if self.verifier is None:
            return None
        try:
            return self._get(item.signature, MAX_SIGNATURE_SIZE).body
        except FetchError as exc:
            if exc.not_found:
                return None
            raise Rejection("cannot fetch the signature: %s" % exc)

    def _process_remote(self, item, known):
        etag = last_mod = None
        if known and not self.o.full_resync and not self.policy_changed and self.store.has_blob(known["sha256"]):
            etag, last_mod = known.get("etag"), known.get("last_modified")
        try:
            result = self._get(item.url, self.o.max_size, etag, last_mod)
        except FetchError as exc:
            raise Rejection("download failed: %s" % exc.reason)
        if result.not_modified:
            return {"not_modified": True}
        raw = result.body
        hashes = self._fetch_hashes(item)
        signature = self._fetch_signature(item)
        verdict = evaluate_document(raw, item.relpath, hashes, signature, item.feed_tlp, self.o, self.verifier)
        verdict["raw"] = raw
        verdict["etag"] = result.etag
        verdict["last_modified"] = result.last_modified
        return verdict

    # -- local --------------------------------------------------------------------------------------
    def _prepare_local(self):
        root = self.o.source_value
        if not os.path.isdir(root):
            raise SyncError("source directory %s does not exist or is not a directory" % root)
        commit = read_git_head(root)
        if self.o.expected_commit:
            if commit is None:
                raise SyncError("expected_commit is set but %s is not a git checkout with a readable HEAD" % root)
            if not commit.startswith(self.o.expected_commit):
                raise SyncError("%s is at commit %s, not the pinned expected_commit %s" % (root, commit, self.o.expected_commit))
        self.store.index["source"]["commit"] = commit

    def _local_items(self):
        root = self.o.source_value
        found, problems = list_local_documents(root)
        for rel, reason in problems:
            self.reject(rel, reason)
        items = []
        for rel in found:
            items.append(_Item(rel, None, rel, "UNLABELED", None, None, None, "directory"))
        return items

    def _process_local(self, item, known):
        root = self.o.source_value
        full = os.path.join(root, *item.relpath.split("/"))
        raw = _read_local(full, self.o.max_size, item.relpath)
        if raw is None:
            raise Rejection("file vanished while reading")
        digest = hashlib.sha256(raw).hexdigest()
        if (known and known.get("sha256") == digest and not self.o.full_resync and not self.policy_changed
                and self.store.has_blob(digest)):
            return {"not_modified": True}
        hashes = {}
        for algo in HASH_ALGOS:
            text = _read_local(full + "." + algo, MAX_HASH_SIZE, item.relpath + "." + algo)
            if text is not None:
                hashes[algo] = text
                break
        signature = None
        if self.verifier is not None:
            signature = _read_local(full + ".asc", MAX_SIGNATURE_SIZE, item.relpath + ".asc")
        verdict = evaluate_document(raw, item.relpath, hashes, signature, item.feed_tlp, self.o, self.verifier)
        verdict["raw"] = raw
        return verdict

    # -- shared processing ----------------------------------------------------------------------------
    def _process(self, items, worker):
        docs = self.store.index["documents"]
        todo = []
        for item in items:
            known = docs.get(item.key)
            if (known and item.marker is not None and known.get("marker") == item.marker
                    and not self.o.full_resync and not self.policy_changed
                    and self.store.has_blob(known["sha256"])):
                self._mark_unchanged(item, known)
                continue
            todo.append((item, known))

        def run_one(pair):
            item, known = pair
            try:
                return item, known, worker(item, known), None
            except Rejection as exc:
                return item, known, None, exc
            except (OSError, OpenPGPError, CsafError, ValueError, TypeError, KeyError) as exc:
                return item, known, None, Rejection("unexpected error while checking the document: %s: %s" % (type(exc).__name__, exc))

        if self.o.workers > 1 and len(todo) > 1:
            with ThreadPoolExecutor(max_workers=self.o.workers) as pool:
                # consumed as they come: each document's bytes are stored and dropped right away
                for outcome in pool.map(run_one, todo):
                    self._settle(*outcome)
        else:
            for pair in todo:
                self._settle(*run_one(pair))

    def _settle(self, item, known, verdict, rejection):
        """Record one checked document (main thread only)."""
        if rejection is not None:
            self.reject(item.url or item.relpath, rejection.reason, known, rejection.meta, rejection.components)
            if known is not None and not self.policy_changed:
                self.accepted_keys.add(item.key)  # keep the previous verified version
        elif verdict.get("not_modified"):
            self._mark_unchanged(item, known)
        else:
            self._store(item, known, verdict)

    def _mark_unchanged(self, item, known):
        known["marker"] = item.marker if item.marker is not None else known.get("marker")
        self.accepted_keys.add(item.key)
        self.counts["unchanged"] += 1
        self._report(known, "unchanged")

    def _store(self, item, known, verdict):
        meta = verdict["meta"]
        try:
            digest = self.store.put_blob(verdict["raw"])
        except OSError as exc:
            raise SyncError("cannot write to %s: %s" % (self.o.dest, exc.strerror or exc))
        if known is None:
            state = "new"
        elif known.get("sha256") == digest:
            state = "unchanged"
        else:
            state = "updated"
        year = (meta.get("initial_release_date") or "")[:4]
        entry = {
            "tracking_id": meta.get("tracking_id"),
            "version": meta.get("version"),
            "status": meta.get("status"),
            "title": meta.get("title"),
            "publisher": meta.get("publisher_name"),
            "initial_release_date": meta.get("initial_release_date"),
            "current_release_date": meta.get("current_release_date"),
            "tlp": verdict["tlp"],
            "sha256": digest,
            "size": verdict["size"],
            "hash": verdict["hash"],
            "signature": verdict["signature"],
            "signer": verdict["signer"],
            "source": item.url or item.relpath,
            "origin": item.origin,
            "tree_path": "%s/%s" % (year, expected_filename(meta.get("tracking_id"))),
            "fetched_at": known.get("fetched_at") if state == "unchanged" and known else _utcnow(),
            "marker": item.marker,
            "warnings": verdict["warnings"],
            "validation_warnings": verdict["validation_warnings"],
        }
        if verdict.get("etag"):
            entry["etag"] = verdict["etag"]
        if verdict.get("last_modified"):
            entry["last_modified"] = verdict["last_modified"]
        self.store.index["documents"][item.key] = entry
        self.accepted_keys.add(item.key)
        self.counts[state] += 1
        self._report(entry, state)

    def _report(self, entry, state):
        doc = {
            "tracking_id": entry.get("tracking_id"),
            "version": entry.get("version"),
            "current_release_date": entry.get("current_release_date"),
            "state": state,
            "path": os.path.join(self.o.dest, *entry["tree_path"].split("/")),
            "sha256": entry.get("sha256"),
            "hash": entry.get("hash"),
            "signature": entry.get("signature"),
            "signer": entry.get("signer"),
            "source": entry.get("source"),
            "warnings": list(entry.get("warnings") or []),
        }
        self.documents.append(doc)
        for msg in doc["warnings"]:
            self.warn("%s (%s): %s" % (doc["source"], doc["tracking_id"], msg))

    # -- finishing ------------------------------------------------------------------------------------
    def _finish(self):
        index = self.store.index
        docs = index["documents"]
        if self.policy_changed:
            for key in [k for k in docs if k not in self.accepted_keys]:
                del docs[key]
        # http cache: what this run used; entries of listings that failed this run are kept
        merged = dict(index["http_cache"]) if self.errors else {}
        merged.update(self._new_cache)
        for body in self._new_cache_bodies.values():
            try:
                self.store.put_blob(body, area="http_cache")
            except OSError as exc:
                raise SyncError("cannot write to %s: %s" % (self.o.dest, exc.strerror or exc))
        index["http_cache"] = merged
        # Documents of this run that could not be used, with the components they name: csaf_match
        # reports each of them as undecided for those components (None: every component).
        index["rejected"] = [
            {"source": r["source"], "tracking_id": r.get("tracking_id"), "reasons": [r["reason"]],
             "components": r.get("components"), "kept_previous": r.get("kept_previous", False)}
            for r in self.rejected
        ]
        # tree: one file per tree path; newest current_release_date wins a collision
        wanted, owner = {}, {}
        for key in sorted(docs):
            entry = docs[key]
            path = entry["tree_path"]
            if path in owner:
                other = docs[owner[path]]
                newer = (entry.get("current_release_date") or "") > (other.get("current_release_date") or "")
                winner, loser = (key, owner[path]) if newer else (owner[path], key)
                self.warn("%s and %s both map to %s; kept %s (newer current_release_date)" % (
                    docs[winner]["source"], docs[loser]["source"], path, docs[winner]["source"]))
                owner[path] = winner
                wanted[path] = docs[winner]["sha256"]
                continue
            owner[path] = key
            wanted[path] = entry["sha256"]
        try:
            tree_changes = self.store.reconcile_tree(wanted)
            self.store.save_index()
            self.store.collect_garbage(
                {e["sha256"] for e in docs.values()},
                {c["sha256"] for c in index["http_cache"].values() if c.get("sha256")},
            )
        except OSError as exc:
            raise SyncError("cannot write to %s: %s" % (self.o.dest, exc.strerror or exc))
        self.documents.sort(key=lambda d: (d["path"], d["source"] or ""))
        changed = bool(self.counts["new"] or self.counts["updated"] or tree_changes)
        result = {
            "changed": changed,
            "counts": dict(self.counts),
            "documents": self.documents,
            "rejected": self.rejected,
            "sync_warnings": list(self.warnings),
            "dest": self.o.dest,
            "index": self.store.index_path,
            "tree_changes": tree_changes,
            "source": dict(index["source"]),
            "provider": self.provider,
            "requests": self.fetcher.requests if self.fetcher is not None else 0,
            "check_mode": False,
        }
        summary = "%(new)d new, %(updated)d updated, %(unchanged)d unchanged, %(rejected)d rejected" % self.counts
        if self.errors:
            result["failed"] = True
            result["errors"] = list(self.errors)
            result["msg"] = "CSAF sync incomplete (%s): %s" % (summary, "; ".join(self.errors))
        elif self.rejected and self.o.fail_on_rejected:
            result["failed"] = True
            result["msg"] = "CSAF sync rejected %d document(s) and fail_on_rejected is true (%s)" % (self.counts["rejected"], summary)
        else:
            result["msg"] = "CSAF sync done: %s" % summary
        return result

    # -- check mode ---------------------------------------------------------------------------------
    def _check_mode(self):
        store = self.store
        store.load_index()  # an empty index when there is none yet
        index = store.index
        known = index["documents"]
        base = {
            "changed": False,
            "check_mode": True,
            "counts": {"new": 0, "updated": 0, "unchanged": 0, "rejected": 0},
            "documents": [],
            "rejected": [],
            "sync_warnings": [],
            "dest": self.o.dest,
            "index": store.index_path,
            "tree_changes": [],
            "source": self._source_record(),
            "provider": None,
            "requests": 0,
        }
        self._refuse_foreign_source(index)
        if self.o.source_kind != "directory":
            base["msg"] = (
                "Check mode: nothing was fetched - no network request was made, not even for the provider metadata -"
                " so what would change is unknown. A real run would discover the provider metadata for %s, download"
                " the new and changed documents, verify them and update the mirror in %s (which lists %d accepted"
                " document(s) now)." % (self.o.source_value, self.o.dest, len(known))
            )
            return base
        root = self.o.source_value
        if not os.path.isdir(root):
            raise SyncError("source directory %s does not exist or is not a directory" % root)
        found, _problems = list_local_documents(root)
        counts = base["counts"]
        for rel in found:
            try:
                raw = _read_local(os.path.join(root, *rel.split("/")), self.o.max_size, rel)
            except Rejection:
                raw = None
            entry = known.get(rel)
            digest = hashlib.sha256(raw).hexdigest() if raw is not None else None
            if entry is None:
                state = "new"
            elif entry.get("sha256") == digest:
                state = "unchanged"
            else:
                state = "updated"
            counts[state] += 1
            base["documents"].append({"source": rel, "state": state, "sha256": digest})
        base["changed"] = bool(counts["new"] or counts["updated"])
        base["msg"] = (
            "Check mode: nothing was written and no document was verified; the local source lists %d candidate"
            " file(s): %d would be checked as new, %d as changed, %d are unchanged. Whether they would be accepted"
            " is only known after a real run." % (len(found), counts["new"], counts["updated"], counts["unchanged"])
        )
        return base


def run_sync(options, fetcher=None):
    """Run one synchronisation with validated ``options``; return the result dict.

    Raises :class:`SyncError` for problems that stop the run. ``fetcher`` may be injected (tests).
    """
    return CsafSync(options, fetcher=fetcher).run()
