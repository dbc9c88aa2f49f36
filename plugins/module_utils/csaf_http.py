# -*- coding: utf-8 -*-
# Copyright (c) aisec.gpu_host contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTPS-only fetcher used by the CSAF downloader (controller side, standard library only).

Rules enforced here (CSAF 2.0 section 7 consumer checklist):

* only ``https://`` URLs are requested; a redirect to anything else is refused;
* certificates and host names are verified (``ca_path`` replaces the system trust store);
* redirects are bounded;
* every request carries the configured User-Agent;
* bodies are read up to a caller-given cap and refused beyond it;
* conditional requests (``If-None-Match`` / ``If-Modified-Since``) are supported, a ``304`` is
  reported as not modified.

Errors are raised as :class:`FetchError` with a message fit for an operator; nothing here prints.
"""

from __future__ import annotations

import http.client
import os
import socket
import ssl
import threading
import urllib.error
import urllib.request
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_USER_AGENT",
    "FetchError",
    "FetchResult",
    "HttpsFetcher",
    "require_https_url",
]

DEFAULT_USER_AGENT = "aisec.gpu_host-csaf_sync/0.1.0"
_CHUNK = 64 * 1024


class FetchError(Exception):
    """A request failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, url, reason, status=None):
        self.url = url
        self.reason = reason
        self.status = status
        super().__init__("%s: %s" % (url, reason))

    @property
    def not_found(self):
        return self.status in (404, 410)


class FetchResult:
    """Outcome of one GET: ``status`` 200 with ``body``, or 304 (``body`` is None)."""

    __slots__ = ("url", "final_url", "status", "body", "etag", "last_modified", "content_type")

    def __init__(self, url, final_url, status, body=None, etag=None, last_modified=None, content_type=None):
        self.url = url
        self.final_url = final_url
        self.status = status
        self.body = body
        self.etag = etag
        self.last_modified = last_modified
        self.content_type = content_type

    @property
    def not_modified(self):
        return self.status == 304


def require_https_url(url):
    """Return ``url`` if it is an absolute ``https://`` URL with a host, else raise ``FetchError``."""
    if not isinstance(url, str) or not url:
        raise FetchError(repr(url), "not a URL")
    if any(c in url for c in "\r\n\t ") or any(ord(c) < 0x20 for c in url):
        raise FetchError(url, "URL contains whitespace or control characters")
    parts = urlsplit(url)
    if parts.scheme.lower() != "https":
        raise FetchError(url, "refused: only https:// URLs are allowed (scheme %r)" % (parts.scheme or ""))
    if not parts.hostname:
        raise FetchError(url, "refused: URL has no host name")
    if parts.username is not None or parts.password is not None:
        raise FetchError(url, "refused: credentials in URLs are not allowed")
    return url


class _InsecureRedirect(FetchError):
    pass


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow at most ``limit`` redirects, and only to https:// URLs."""

    def __init__(self, limit):
        super().__init__()
        self.limit = limit
        # urllib's own loop detection stays as a second line of defence behind our counter.
        self.max_redirections = limit + 1
        self.max_repeats = limit + 1

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        count = getattr(req, "_aisec_redirects", 0) + 1
        origin = getattr(req, "_aisec_origin", req.full_url)
        if urlsplit(newurl).scheme.lower() != "https":
            fp.close()
            raise _InsecureRedirect(origin, "refused redirect (HTTP %s) to non-https URL %s" % (code, newurl), code)
        if count > self.limit:
            fp.close()
            raise FetchError(origin, "too many redirects (limit %d); last one (HTTP %s) to %s" % (self.limit, code, newurl), code)
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None:
            new._aisec_redirects = count
            new._aisec_origin = origin
        return new


def build_ssl_context(ca_path=None):
    """TLS client context: verification on, TLS >= 1.2; ``ca_path`` (file or directory) replaces system CAs."""
    if ca_path:
        if os.path.isdir(ca_path):
            ctx = ssl.create_default_context(capath=ca_path)
        elif os.path.isfile(ca_path):
            ctx = ssl.create_default_context(cafile=ca_path)
        else:
            raise FetchError(ca_path, "ca_path does not exist")
    else:
        ctx = ssl.create_default_context()
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


class HttpsFetcher:
    """Thread-safe HTTPS GET client with the CSAF trust rules. ``requests`` counts requests sent."""

    def __init__(self, ca_path=None, timeout=30, user_agent=DEFAULT_USER_AGENT, max_redirects=3, use_proxy=True):
        try:
            context = build_ssl_context(ca_path)
        except ssl.SSLError as exc:
            raise FetchError(ca_path, "cannot load CA certificates: %s" % exc)
        self.timeout = timeout
        self.user_agent = user_agent
        self._lock = threading.Lock()
        self.requests = 0
        opener = urllib.request.OpenerDirector()
        # Deliberately no HTTPHandler, FTPHandler, FileHandler or DataHandler: https only.
        handlers = [
            urllib.request.ProxyHandler() if use_proxy else urllib.request.ProxyHandler({}),
            urllib.request.HTTPSHandler(context=context),
            _RedirectHandler(max_redirects),
            urllib.request.HTTPDefaultErrorHandler(),
            urllib.request.HTTPErrorProcessor(),
            urllib.request.UnknownHandler(),
        ]
        for handler in handlers:
            opener.add_handler(handler)
        self._opener = opener

    def _count(self):
        with self._lock:
            self.requests += 1

    def get(self, url, max_size, etag=None, last_modified=None):
        """GET ``url``; return :class:`FetchResult` or raise :class:`FetchError`."""
        require_https_url(url)
        headers = {
            "User-Agent": self.user_agent,
            "Accept": "application/json, text/plain;q=0.9, */*;q=0.5",
            "Accept-Encoding": "identity",
        }
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        req = urllib.request.Request(url, headers=headers, method="GET")
        self._count()
        try:
            resp = self._opener.open(req, timeout=self.timeout)
        except FetchError:
            raise
        except urllib.error.HTTPError as exc:
            try:
                exc.close()
            except Exception:  # pragma: no cover - best effort
                pass
            if exc.code == 304:
                return FetchResult(url, exc.geturl() or url, 304, None, etag, last_modified)
            reason = exc.reason if isinstance(exc.reason, str) else str(exc.reason)
            raise FetchError(url, "HTTP %s %s" % (exc.code, reason), exc.code)
        except urllib.error.URLError as exc:
            raise FetchError(url, _describe_reason(exc.reason))
        except (ssl.SSLError, ssl.CertificateError) as exc:
            raise FetchError(url, "TLS error: %s" % exc)
        except (socket.timeout, TimeoutError):
            raise FetchError(url, "timed out after %ss" % self.timeout)
        except (http.client.HTTPException, OSError, ValueError) as exc:
            raise FetchError(url, "request failed: %s" % (exc or type(exc).__name__))
        try:
            return self._read(url, resp, max_size)
        finally:
            resp.close()

    def _read(self, url, resp, max_size):
        final_url = resp.geturl() or url
        try:
            require_https_url(final_url)
        except FetchError:
            raise FetchError(url, "refused: response came from non-https URL %s" % final_url)
        encoding = (resp.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding not in ("identity", ""):
            raise FetchError(url, "unsupported Content-Encoding %r (identity was requested)" % encoding)
        length = resp.headers.get("Content-Length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                raise FetchError(url, "invalid Content-Length %r" % length)
            if declared > max_size:
                raise FetchError(url, "too large: Content-Length %d exceeds the limit of %d bytes" % (declared, max_size))
        chunks = []
        total = 0
        try:
            while True:
                chunk = resp.read(min(_CHUNK, max_size + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
                if total > max_size:
                    raise FetchError(url, "too large: body exceeds the limit of %d bytes" % max_size)
        except FetchError:
            raise
        except (socket.timeout, TimeoutError):
            raise FetchError(url, "timed out while reading the body after %ss" % self.timeout)
        except (http.client.HTTPException, OSError, ValueError) as exc:
            raise FetchError(url, "reading the body failed: %s" % (exc or type(exc).__name__))
        return FetchResult(
            url,
            final_url,
            resp.status,
            b"".join(chunks),
            resp.headers.get("ETag"),
            resp.headers.get("Last-Modified"),
            resp.headers.get("Content-Type"),
        )


def _describe_reason(reason):
    if isinstance(reason, ssl.SSLCertVerificationError):
        return "certificate verification failed: %s" % (reason.verify_message or reason)
    if isinstance(reason, ssl.SSLError):
        return "TLS error: %s" % reason
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(reason, socket.gaierror):
        return "cannot resolve host name: %s" % (reason.strerror or reason)
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    return "request failed: %s" % (reason,)
