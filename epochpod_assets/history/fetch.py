"""Fetching a source URL without letting a request reach places it must not.

A URL in a request is user text, and the pipeline fetches it from inside the deployment, so
this is the classic server-side request forgery surface. The rules:

- http and https only, on every hop: redirects are followed by hand and each target is checked
  again (scheme, host and address), at most `MAX_REDIRECTS` times;
- the address actually connected to is checked, not a separate DNS lookup made before it (a
  host that resolves to a public address for the check and to 127.0.0.1 for the connection
  cannot slip through): loopback, private, link-local, multicast, reserved and unspecified
  addresses are refused unless the policy allows private addresses (tests on loopback do);
- a timeout on connecting and on every read, and an overall deadline for the whole fetch;
- the body is streamed and reading stops as soon as it passes the size cap, so a huge or
  endless response costs at most the cap.

No proxy from the environment is used: a proxy would make the address check meaningless.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

MAX_REDIRECTS = 5
CHUNK = 64 * 1024
USER_AGENT = "EpochPod-sources/1.0 (+history podcast research)"


class FetchError(ValueError):
    """A URL could not be fetched; the message names the URL and says why."""


@dataclass(frozen=True)
class FetchPolicy:
    max_bytes: int = 10 * 1024 * 1024
    timeout_seconds: float = 20.0
    allow_private: bool = False

    @classmethod
    def from_settings(cls) -> FetchPolicy:
        """The policy of EPOCHPOD_SOURCES_MAX_BYTES, _TIMEOUT_SECONDS and _ALLOW_PRIVATE."""
        from epochpod_assets import settings

        current = settings.load()
        return cls(
            max_bytes=current.sources_max_bytes,
            timeout_seconds=current.sources_timeout_seconds,
            allow_private=current.sources_allow_private,
        )


@dataclass(frozen=True)
class Fetched:
    url: str  # the final URL after redirects
    content_type: str  # media type only, lower case, e.g. "text/html"
    charset: str | None
    data: bytes


def _blocked(address: str) -> str | None:
    """Why this address may not be fetched, or None when it may."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private address"
    if ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return "a reserved address"
    if not ip.is_global:
        return "a non-public address"
    return None


def _checked_connector(url: str, policy: FetchPolicy, connected: list[str]):  # type: ignore[no-untyped-def]
    """A replacement for http.client's `_create_connection` that refuses forbidden addresses
    at the moment of connecting, for every address the host resolves to."""

    def create_connection(
        address: tuple[str, int], timeout: float | None = None, source_address: object = None
    ) -> socket.socket:
        host, port = address
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as error:
            raise FetchError(f"{url}: cannot resolve host {host!r} ({error})") from None
        last_error: OSError | None = None
        refused: str | None = None
        for family, kind, proto, _, sockaddr in infos:
            ip = str(sockaddr[0])
            reason = None if policy.allow_private else _blocked(ip)
            if reason:
                refused = f"{url}: host {host!r} is {reason} ({ip}); fetching it is not allowed"
                continue
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(timeout)
                sock.connect(sockaddr)
            except OSError as error:
                sock.close()
                last_error = error
                continue
            connected.append(ip)
            return sock
        if refused and last_error is None:
            raise FetchError(refused)
        raise FetchError(f"{url}: cannot connect to {host!r} ({last_error})")

    return create_connection


def _check_url(url: str) -> tuple[str, str, int, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise FetchError(
            f"{url}: only http and https URLs can be fetched, not {scheme or 'none'!r}"
        )
    if not parts.hostname:
        raise FetchError(f"{url}: the URL has no host")
    if parts.username or parts.password:
        raise FetchError(f"{url}: URLs with credentials are not fetched")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise FetchError(f"{url}: the port is not a number from 0 to 65535") from None
    path = parts.path or "/"
    if parts.query:
        path += f"?{parts.query}"
    return scheme, parts.hostname, port, path


def fetch_url(url: str, policy: FetchPolicy | None = None) -> Fetched:
    """GET `url` under `policy`; raise FetchError naming the URL when anything is off."""
    policy = policy or FetchPolicy()
    deadline = time.monotonic() + policy.timeout_seconds
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        scheme, host, port, path = _check_url(current)
        connected: list[str] = []
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection(
                host, port, timeout=policy.timeout_seconds, context=ssl.create_default_context()
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=policy.timeout_seconds)
        # http.client opens its socket through this hook; ours checks the address it connects to.
        connection._create_connection = _checked_connector(current, policy, connected)  # type: ignore[attr-defined]
        try:
            connection.request(
                "GET",
                path,
                headers={"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "identity"},
            )
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                if not location:
                    raise FetchError(f"{current}: redirect {response.status} without a Location")
                current = urljoin(current, location)
                continue
            if response.status != 200:
                raise FetchError(f"{current}: the server answered HTTP {response.status}")
            declared = response.getheader("Content-Length")
            if declared and declared.isdigit() and int(declared) > policy.max_bytes:
                raise FetchError(
                    f"{current}: {int(declared)} bytes is over the {policy.max_bytes}-byte cap"
                )
            chunks: list[bytes] = []
            size = 0
            while True:
                if time.monotonic() > deadline:
                    raise FetchError(f"{current}: took longer than {policy.timeout_seconds:g} s")
                chunk = response.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > policy.max_bytes:
                    raise FetchError(f"{current}: over the {policy.max_bytes}-byte cap")
                chunks.append(chunk)
            content_type = response.getheader("Content-Type") or ""
            media_type, _, params = content_type.partition(";")
            charset = None
            for param in params.split(";"):
                key, _, value = param.strip().partition("=")
                if key.lower() == "charset" and value:
                    charset = value.strip('"').strip()
            return Fetched(
                url=current,
                content_type=media_type.strip().lower(),
                charset=charset,
                data=b"".join(chunks),
            )
        except FetchError:
            raise
        except TimeoutError:
            raise FetchError(f"{current}: timed out after {policy.timeout_seconds:g} s") from None
        except (OSError, http.client.HTTPException) as error:
            raise FetchError(f"{current}: {type(error).__name__}: {error}") from None
        finally:
            connection.close()
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")
