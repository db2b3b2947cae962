"""Where the gateway may send webhooks: http(s) URLs, never link-local or cloud-metadata hosts.

A webhook URL comes from an API caller, and the gateway fetches it from inside the operator's
network, so a careless or hostile URL could reach the cloud metadata service
(169.254.169.254 and friends) or a link-local device. Those are refused twice: when the URL is
registered (literal addresses and well-known metadata names) and when it is connected to
(`GuardedResolver` drops such addresses after DNS resolution, so a name that later resolves to
one, DNS rebinding included, still cannot be reached). Loopback and private LAN addresses are
allowed: an appliance's application server usually lives there. `[webhooks]
allow_private_targets = true` lifts every restriction.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

MAX_URL = 2048

_METADATA_NAMES = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog", "instance-data",
    "instance-data.ec2.internal", "metadata.azure.com", "metadata.tencentyun.com",
})
_METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.169.123", "100.100.100.200", "192.0.0.192",
    "fd00:ec2::254", "fd00:ec2::23",
))


class TargetRefusedError(ValueError):
    """The URL may not be used as a webhook target; the text says why."""


def refused_address(address: str) -> str | None:
    """Why this IP address may not be connected to, or None when it may."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in _METADATA_ADDRESSES:
        return f"{ip} is a cloud metadata address"
    if ip.is_link_local:
        return f"{ip} is link-local"
    if ip.is_unspecified or ip.is_multicast:
        return f"{ip} is not a unicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip == ipaddress.IPv4Address("255.255.255.255"):
        return "the broadcast address"
    return None


def check_target(url: str, *, allow_private: bool = False) -> str:
    """Validate a webhook or callback URL; returns it unchanged or raises TargetRefusedError."""
    if len(url) > MAX_URL:
        raise TargetRefusedError(f"longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefusedError(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise TargetRefusedError("only http:// and https:// URLs can receive webhooks")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise TargetRefusedError("the URL has no host")
    if port == 0:
        raise TargetRefusedError("port 0 cannot be connected to")
    if any(c.isspace() for c in url):
        raise TargetRefusedError("the URL contains white space")
    if allow_private:
        return url
    if host in _METADATA_NAMES:
        raise TargetRefusedError(f"{host} is a cloud metadata host")
    why = refused_address(host)
    if why is not None:
        raise TargetRefusedError(why)
    return url


class GuardedResolver(AbstractResolver):
    """DNS resolution that leaves out refused addresses (link-local, metadata)."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if refused_address(r["host"]) is None]
        if not allowed:
            reasons = sorted({refused_address(r["host"]) or "" for r in results})
            raise OSError(f"{host} resolves only to refused addresses ({'; '.join(reasons)})")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


__all__ = ["GuardedResolver", "TargetRefusedError", "check_target", "refused_address"]
