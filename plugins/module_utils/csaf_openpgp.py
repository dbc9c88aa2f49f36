# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Detached OpenPGP signature checks for CSAF documents, with pinned fingerprints.

GnuPG is driven as a subprocess in an isolated, temporary ``GNUPGHOME``: keys (from the provider
metadata or from configured files) are imported there, only the keys whose fingerprint is pinned are
exported into a keyring file, and each signature is checked with ``gpgv`` against that keyring
(``gpg --verify`` when ``gpgv`` is missing). A signature is good only when GnuPG reports a ``VALIDSIG``
whose primary-key or signing-key fingerprint is pinned, no bad, expired, revoked or unverifiable
signature is present, and the digest algorithm is not MD5, SHA-1 or RIPEMD-160.

Standard library only; nothing here prints.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

__all__ = [
    "OpenPGPError",
    "OpenPGPVerifier",
    "SignatureResult",
    "normalize_fingerprint",
    "parse_status",
]

_FPR_RE = re.compile(r"^(?:[0-9A-F]{40}|[0-9A-F]{64})$")
# OpenPGP hash algorithm ids refused in signatures: MD5, SHA-1, RIPEMD-160.
WEAK_HASH_ALGOS = {"1": "MD5", "2": "SHA-1", "3": "RIPEMD-160"}
_BAD_STATUS = {
    "BADSIG": "bad signature",
    "ERRSIG": "signature could not be checked (unknown or unpinned key, or unsupported algorithm)",
    "EXPSIG": "signature has expired",
    "EXPKEYSIG": "signature made by an expired key",
    "REVKEYSIG": "signature made by a revoked key",
    "NO_PUBKEY": "no public key for the signature",
    "NODATA": "no OpenPGP signature data found",
    "UNEXPECTED": "unexpected OpenPGP data",
}


class OpenPGPError(Exception):
    """GnuPG is unusable or key material could not be imported."""


def normalize_fingerprint(value):
    """Return the upper-case hex fingerprint (v4: 40, v5/v6: 64 hex digits) or raise ``ValueError``.

    Spaces and an optional ``0x`` prefix are removed; short and long key ids are refused.
    """
    if not isinstance(value, str):
        raise ValueError("fingerprint must be a string, got %s" % type(value).__name__)
    text = value.strip()
    if text[:2].lower() == "0x":
        text = text[2:]
    text = re.sub(r"\s+", "", text).upper()
    if not _FPR_RE.match(text):
        raise ValueError(
            "invalid OpenPGP fingerprint %r: need the full 40 (v4) or 64 (v5/v6) hex digit fingerprint,"
            " key ids are not accepted" % value
        )
    return text


class SignatureResult:
    """``status``: ``valid`` | ``bad`` ; ``fingerprint``: pinned primary key that made a valid signature."""

    __slots__ = ("status", "fingerprint", "detail")

    def __init__(self, status, fingerprint=None, detail=""):
        self.status = status
        self.fingerprint = fingerprint
        self.detail = detail

    @property
    def ok(self):
        return self.status == "valid"

    def __repr__(self):  # pragma: no cover - debugging aid
        return "SignatureResult(%r, %r, %r)" % (self.status, self.fingerprint, self.detail)


def parse_status(status_text, pinned, returncode=0):
    """Judge GnuPG ``--status-fd`` output against the pinned fingerprints (pure function).

    ``pinned`` is an iterable of normalised fingerprints. Returns a :class:`SignatureResult`.
    """
    pinned = set(pinned)
    problems = []
    good = []
    valid_count = 0
    for line in status_text.splitlines():
        if not line.startswith("[GNUPG:] "):
            continue
        fields = line.split()
        if len(fields) < 2:
            continue
        keyword = fields[1]
        if keyword in _BAD_STATUS:
            problems.append(_BAD_STATUS[keyword])
        elif keyword == "VALIDSIG":
            valid_count += 1
            if len(fields) < 12:
                problems.append("malformed VALIDSIG status line")
                continue
            signing_fpr = fields[2].upper()
            primary_fpr = fields[11].upper()
            hash_algo = fields[9]
            if hash_algo in WEAK_HASH_ALGOS:
                problems.append("signature uses the weak digest %s" % WEAK_HASH_ALGOS[hash_algo])
                continue
            if primary_fpr in pinned:
                good.append(primary_fpr)
            elif signing_fpr in pinned:
                good.append(signing_fpr)
            else:
                problems.append("signed by key %s, which is not pinned" % primary_fpr)
    if problems:
        return SignatureResult("bad", None, "; ".join(sorted(set(problems))))
    if returncode != 0:
        return SignatureResult("bad", None, "GnuPG reported failure (exit code %s)" % returncode)
    if not good:
        if valid_count:
            return SignatureResult("bad", None, "no signature from a pinned key")
        return SignatureResult("bad", None, "no valid signature found")
    return SignatureResult("valid", good[0], "")


class OpenPGPVerifier:
    """Isolated GnuPG keyring holding only pinned keys. Use as a context manager.

    ``pinned``: iterable of fingerprints (normalised here). Call :meth:`add_key_data` for each key
    source, then :meth:`finalize`, then :meth:`verify` (thread-safe: each call uses its own files).
    """

    def __init__(self, pinned, timeout=60, gpg_binary=None, gpgv_binary=None):
        self.pinned = sorted({normalize_fingerprint(f) for f in pinned})
        if not self.pinned:
            raise OpenPGPError("no fingerprints to pin")
        self.timeout = timeout
        self.gpg = gpg_binary or shutil.which("gpg") or shutil.which("gpg2")
        if not self.gpg:
            raise OpenPGPError(
                "GnuPG (gpg) was not found on the controller's PATH; it is needed to verify OpenPGP"
                " signatures because trusted_fingerprints are configured"
            )
        self.gpgv = gpgv_binary if gpgv_binary is not None else shutil.which("gpgv")
        self.home = tempfile.mkdtemp(prefix="aisec-csaf-gnupg-")
        os.chmod(self.home, 0o700)
        self.keyring = None
        self.available = []  # pinned fingerprints that have a key
        self.key_origins = {}  # primary fingerprint -> origin text

    # -- context manager -------------------------------------------------------------------------
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        if self.home and os.path.isdir(self.home):
            shutil.rmtree(self.home, ignore_errors=True)
        self.home = None

    # -- GnuPG plumbing ----------------------------------------------------------------------------
    def _run(self, argv, stdin=None):
        env = dict(os.environ)
        env["GNUPGHOME"] = self.home
        env["LC_ALL"] = "C"
        env.pop("GPG_AGENT_INFO", None)
        try:
            proc = subprocess.run(
                argv,
                input=stdin,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise OpenPGPError("%s timed out after %ss" % (os.path.basename(argv[0]), self.timeout))
        except OSError as exc:
            raise OpenPGPError("cannot run %s: %s" % (argv[0], exc))
        return proc

    def _gpg(self, *args, **kwargs):
        argv = [self.gpg, "--batch", "--no-tty", "--no-autostart", "--no-options", "--homedir", self.home]
        argv.extend(args)
        return self._run(argv, **kwargs)

    def add_key_data(self, data, origin):
        """Import public key material (armoured or binary). Returns the primary fingerprints imported."""
        if not data:
            raise OpenPGPError("%s: empty key data" % origin)
        proc = self._gpg("--status-fd", "1", "--import", stdin=data)
        status = proc.stdout.decode("utf-8", "replace")
        imported = []
        for line in status.splitlines():
            fields = line.split()
            if len(fields) >= 4 and fields[:2] == ["[GNUPG:]", "IMPORT_OK"]:
                fpr = fields[3].upper()
                imported.append(fpr)
                self.key_origins.setdefault(fpr, origin)
        if not imported:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise OpenPGPError("%s: no OpenPGP public key could be imported%s" % (origin, (": " + err[-1]) if err else ""))
        return sorted(set(imported))

    def _list_keys(self):
        """Map primary fingerprint -> set of all fingerprints (primary and subkeys)."""
        proc = self._gpg("--with-colons", "--fixed-list-mode", "--with-fingerprint", "--with-subkey-fingerprints", "--list-keys")
        keys = {}
        current = None
        expect = None
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            fields = line.split(":")
            rec = fields[0]
            if rec in ("pub", "sub"):
                expect = rec
            elif rec == "fpr" and len(fields) > 9 and expect:
                fpr = fields[9].upper()
                if expect == "pub":
                    current = fpr
                    keys[current] = {fpr}
                elif current:
                    keys[current].add(fpr)
                expect = None
        return keys

    def finalize(self):
        """Export the pinned keys into the verification keyring. Returns the pinned fingerprints missing."""
        keys = self._list_keys()
        wanted = []
        available = set()
        for primary, fprs in keys.items():
            hit = fprs.intersection(self.pinned)
            if hit:
                wanted.append(primary)
                available.update(hit)
        self.available = sorted(available)
        missing = [f for f in self.pinned if f not in available]
        if wanted:
            proc = self._gpg("--export", *sorted(wanted))
            if proc.returncode != 0 or not proc.stdout:
                raise OpenPGPError("exporting the pinned keys failed: %s" % proc.stderr.decode("utf-8", "replace").strip())
            path = os.path.join(self.home, "pinned-keys.gpg")
            with open(path, "wb") as handle:
                handle.write(proc.stdout)
            self.keyring = path
        return missing

    def verify(self, data, signature):
        """Check a detached signature over ``data`` (bytes). Returns :class:`SignatureResult`."""
        if self.keyring is None:
            return SignatureResult("bad", None, "no pinned key is available to check the signature")
        if not signature or not signature.strip():
            return SignatureResult("bad", None, "signature file is empty")
        work = tempfile.mkdtemp(prefix="v-", dir=self.home)
        try:
            data_path = os.path.join(work, "data")
            sig_path = os.path.join(work, "data.sig")
            with open(data_path, "wb") as handle:
                handle.write(data)
            with open(sig_path, "wb") as handle:
                handle.write(signature)
            if self.gpgv:
                argv = [self.gpgv, "--homedir", self.home, "--keyring", self.keyring, "--status-fd", "1", sig_path, data_path]
                proc = self._run(argv)
            else:
                proc = self._gpg(
                    "--no-default-keyring", "--keyring", self.keyring, "--trust-model", "always",
                    "--status-fd", "1", "--verify", sig_path, data_path,
                )
            return parse_status(proc.stdout.decode("utf-8", "replace"), self.pinned, proc.returncode)
        except OpenPGPError as exc:
            return SignatureResult("bad", None, str(exc))
        finally:
            shutil.rmtree(work, ignore_errors=True)
