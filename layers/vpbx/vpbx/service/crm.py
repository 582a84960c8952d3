"""The CRM lookup behind `external_routing`: ask the tenant's CRM which extension should take a caller.

Request (POST, JSON): `{"caller": "+74951234567", "called": "+74957654321", "call_id": "abc-123"}`.
Response (200, JSON): `{"extension": "101"}`; `{"extension": null}` or any other status means "not found".

The URL is tenant-controlled, so the lookup is hardened against server-side request forgery:
- https only (plain http only to loopback, and only with VPBX_ALLOW_INSECURE_CRM=1 for local runs and tests);
- the host is resolved once and every address is checked: loopback, private, link-local, multicast, reserved,
  unspecified and shared addresses are refused, including IPv4 addresses embedded in IPv6 (mapped, compatible,
  6to4, Teredo, NAT64);
- the connection goes to the checked address (no second DNS lookup), with SNI, certificate check and Host of the name;
- no redirects, no credentials in the URL, one total deadline (≤ 5 s) for DNS, connect, TLS, request and response,
  and a capped response size.
Any failure is logged and returns None: the executor then follows the element's `not_found` exit.
"""

import contextlib
import http.client
import ipaddress
import json
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from urllib.parse import SplitResult, urlsplit

from vpbx.domain.calls import CrmRefused

logger = logging.getLogger(__name__)

MAX_TIMEOUT_SECONDS = 5.0
MAX_RESPONSE_BYTES = 16 * 1024
USER_AGENT = "vpbx-crm-lookup/1"
EXTENSION_PATTERN = re.compile(r"^[0-9]{1,6}$")
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
Connector = Callable[[tuple[str, int], float], socket.socket]


class CrmLookupFailed(Exception):
    """Why a lookup gave no extension; logged, never raised to the caller of `lookup`."""


class CrmUrlRefused(CrmLookupFailed, CrmRefused):
    """The network rules refused the URL before any connection; `lookup_or_refuse` raises it."""


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def direct_connector(address: tuple[str, int], timeout: float) -> socket.socket:
    return socket.create_connection(address, timeout)


# ---------------------------------------------------------------------------------------------- address checks


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    embedded = [address.ipv4_mapped, address.sixtofour]
    if address.teredo:
        embedded.extend(address.teredo)
    if address in NAT64_PREFIX or (int(address) >> 32 == 0 and int(address) > 1):  # NAT64 and ::a.b.c.d
        embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [ip for ip in embedded if ip is not None]


def _is_public(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _is_public(address.ipv4_mapped)
    if (
        not address.is_global
        or address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    ):
        return False
    if isinstance(address, ipaddress.IPv6Address):
        return all(_is_public(inner) for inner in _embedded_ipv4(address))
    return True


def _is_loopback(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def refusal_reason(address: str, *, allow_loopback: bool) -> str | None:
    """Why `address` must not be contacted, or None when it may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if allow_loopback and _is_loopback(ip):
        return None
    if not _is_public(ip):
        return f"{ip} is not a public address"
    return None


# ---------------------------------------------------------------------------------------------- the client


@dataclass(frozen=True)
class CrmRequest:
    url: str
    caller: str | None
    called: str
    call_id: str
    timeout_seconds: float

    def body(self) -> bytes:
        return json.dumps({"caller": self.caller, "called": self.called, "call_id": self.call_id}).encode()


@dataclass
class CrmClient:
    """Performs lookups; the resolver, connector and TLS context are injectable so tests never leave 127.0.0.1."""

    allow_insecure: bool = False
    resolver: Resolver = system_resolver
    connector: Connector = direct_connector
    ssl_context: ssl.SSLContext | None = None  # None: the system trust store, loaded on the first HTTPS lookup
    max_response_bytes: int = MAX_RESPONSE_BYTES

    @cached_property
    def _tls(self) -> ssl.SSLContext:
        # Loading the trust store takes ~15 ms: pay it on the first CRM lookup, not on every call function's start.
        return self.ssl_context or ssl.create_default_context()

    def lookup(self, request: CrmRequest) -> str | None:
        """The extension the CRM names for the caller, or None on any failure (logged with its reason)."""
        try:
            return self.lookup_or_refuse(request)
        except CrmUrlRefused:
            return None

    def lookup_or_refuse(self, request: CrmRequest) -> str | None:
        """As `lookup`, but a URL the network rules refuse raises CrmUrlRefused, so the call's trace can say so."""
        started = time.monotonic()
        try:
            extension = self._lookup(request, deadline=started + _bounded(request.timeout_seconds))
        except Exception as exc:  # any failure means "not found"; the reason is logged
            logger.warning(
                "crm lookup gave no extension",
                extra={"call_id": request.call_id, "crm_host": _host_of(request.url), "reason": _describe(exc)},
            )
            if isinstance(exc, CrmUrlRefused):
                raise
            return None
        logger.info(
            "crm lookup answered",
            extra={"call_id": request.call_id, "found": extension is not None, "ms": _ms_since(started)},
        )
        return extension

    def _lookup(self, request: CrmRequest, deadline: float) -> str | None:
        url = self._checked_url(request.url)
        host, port = url.hostname or "", url.port or (443 if url.scheme == "https" else 80)
        address = self._checked_address(host, port, deadline)
        exchange = _Exchange(deadline)
        connection = self._connection(url.scheme, host, port, address, exchange)
        watchdog = threading.Timer(_remaining(deadline), exchange.abort)
        watchdog.daemon = True
        watchdog.start()
        try:
            return self._exchange(connection, url, request, exchange)
        finally:
            watchdog.cancel()
            connection.close()
            exchange.close()

    def _checked_url(self, text: str) -> SplitResult:
        try:
            url = urlsplit(text)
            url.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError as exc:
            raise CrmLookupFailed(f"malformed URL: {exc}") from None
        allowed_schemes = ("https", "http") if self.allow_insecure else ("https",)
        if url.scheme not in allowed_schemes:
            raise CrmUrlRefused(f"scheme {url.scheme!r} is not allowed (https only)")
        if not url.hostname:
            raise CrmLookupFailed("URL has no host")
        if url.username is not None or url.password is not None:
            raise CrmUrlRefused("credentials in the URL are not allowed")
        return url

    def _checked_address(self, host: str, port: int, deadline: float) -> str:
        addresses = _resolve_within(self.resolver, host, port, deadline)
        if not addresses:
            raise CrmLookupFailed(f"{host} has no address")
        for address in addresses:
            reason = refusal_reason(address, allow_loopback=self.allow_insecure)
            if reason:
                raise CrmUrlRefused(f"{host}: {reason}")
        return addresses[0]

    def _connection(
        self, scheme: str, host: str, port: int, address: str, exchange: "_Exchange"
    ) -> http.client.HTTPConnection:
        timeout = _remaining(exchange.deadline)
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._tls)
        else:
            if not _is_loopback(ipaddress.ip_address(address.split("%", 1)[0])):
                raise CrmUrlRefused("plain http is allowed to loopback only")
            connection = http.client.HTTPConnection(host, port, timeout=timeout)

        # http.client connects through this hook: pin the checked address while Host and SNI stay the name.
        def pinned(_: tuple[str, int], timeout: float, source: Any = None) -> socket.socket:
            return self.connector((address, port), _remaining(exchange.deadline))

        connection._create_connection = pinned  # type: ignore[attr-defined]
        return connection

    def _exchange(
        self, connection: http.client.HTTPConnection, url: SplitResult, request: CrmRequest, exchange: "_Exchange"
    ) -> str | None:
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        body = request.body()
        connection.connect()
        exchange.opened(connection.sock)
        connection.request(
            "POST",
            path,
            body=body,
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
                "Content-Length": str(len(body)),
            },
        )
        exchange.tighten_timeout()
        response = connection.getresponse()
        if response.status != 200:
            raise CrmLookupFailed(f"CRM answered HTTP {response.status}")
        payload = self._read_capped(response, exchange)
        return _extension_from(payload)

    def _read_capped(self, response: http.client.HTTPResponse, exchange: "_Exchange") -> bytes:
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > self.max_response_bytes:
            raise CrmLookupFailed(f"response of {declared} bytes exceeds {self.max_response_bytes}")
        chunks: list[bytes] = []
        size = 0
        while True:
            exchange.tighten_timeout()
            chunk = response.read1(min(4096, self.max_response_bytes + 1 - size))
            if not chunk:
                _remaining(exchange.deadline)  # an EOF forced by the watchdog is a timeout, not a short answer
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
            if size > self.max_response_bytes:
                raise CrmLookupFailed(f"response exceeds {self.max_response_bytes} bytes")


def _extension_from(payload: bytes) -> str | None:
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CrmLookupFailed(f"response is not JSON: {exc}") from None
    if not isinstance(document, dict) or "extension" not in document:
        raise CrmLookupFailed('response is not an object with "extension"')
    extension = document["extension"]
    if extension is None:
        return None
    if isinstance(extension, int) and not isinstance(extension, bool):
        extension = str(extension)
    if not isinstance(extension, str) or not EXTENSION_PATTERN.match(extension):
        raise CrmLookupFailed(f"extension {extension!r} is not 1-6 digits")
    return extension


# ---------------------------------------------------------------------------------------------- deadline helpers

_resolver_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="crm-dns")


def _resolve_within(resolver: Resolver, host: str, port: int, deadline: float) -> list[str]:
    """getaddrinfo has no timeout of its own: run it beside us and stop waiting at the deadline."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [host]
    future = _resolver_pool.submit(resolver, host, port)
    try:
        return future.result(timeout=_remaining(deadline))
    except FutureTimeout:
        raise CrmLookupFailed(f"resolving {host} timed out") from None
    except OSError as exc:
        raise CrmLookupFailed(f"cannot resolve {host}: {exc}") from None


def _bounded(timeout_seconds: float) -> float:
    return min(max(timeout_seconds, 0.1), MAX_TIMEOUT_SECONDS)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise CrmLookupFailed("timed out")
    return left


class _Exchange:
    """The socket of one lookup and its total deadline (http.client may drop its own reference to the socket)."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self._sock: socket.socket | None = None

    def opened(self, sock: socket.socket) -> socket.socket:
        self._sock = sock
        return sock

    def tighten_timeout(self) -> None:
        if self._sock is not None:
            self._sock.settimeout(_remaining(self.deadline))

    def abort(self) -> None:
        """The deadline passed mid-exchange (e.g. a server dripping bytes): unblock the reading thread."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()


def _host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(exc, CrmRefused):
        return f"refused: {exc}"
    return str(exc) or type(exc).__name__


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def crm_lookup_for_call(
    client: CrmClient, *, called: str, call_id: str
) -> Callable[[str, str | None, float], str | None]:
    """Bind a call's facts into the executor's `CrmLookup(url, caller, timeout_seconds)` signature."""

    def lookup(url: str, caller: str | None, timeout_seconds: float) -> str | None:
        return client.lookup_or_refuse(
            CrmRequest(url=url, caller=caller, called=called, call_id=call_id, timeout_seconds=timeout_seconds)
        )

    return lookup
