"""SSRF guard: refuse URLs whose host resolves to a non-public address.

Feeds and article pages come from configuration and from links inside fetched documents, so a URL may point
at the machine itself (``127.0.0.1``, ``localhost``), the local network (``10.0.0.0/8``), or a cloud metadata
service (``169.254.169.254``). :func:`check_url` resolves the host and refuses the URL when **any** of its
addresses is not a public unicast address, unless the allowlist (``CRYPTO_NEWS_ALLOW_PRIVATE_HOSTS``) covers
it.

Numeric hosts are read the way the C resolver reads them (``inet_aton``), so ``2130706433``, ``0x7f000001``,
``0177.0.0.1`` and ``127.1`` are all recognised as ``127.0.0.1``. IPv6 addresses that embed an IPv4 address
(IPv4-mapped ``::ffff:a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``) are judged by that IPv4 address.

:func:`resolve_checked` is the same check for a bare host name; the HTTP client calls it again at the moment
it opens a socket and connects to one of the addresses it returned, so a name that changes its answer between
the check and the connection (DNS rebinding) cannot reach a refused address.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ALLOWED_SCHEMES = ("http", "https")
getaddrinfo = socket.getaddrinfo  # the resolver; a module attribute so tests can substitute a fixed table
DEFAULT_PORTS = {"http": 80, "https": 443}


ALLOW_SETTING = "CRYPTO_NEWS_ALLOW_PRIVATE_HOSTS"


class BlockedAddress(Exception):
    """The URL's host is, or resolves to, an address that the guard refuses.

    The message carries no "blocked:" prefix: callers report it under the error kind ``blocked``, and it names the
    setting that lifts the refusal, which is what the reader needs next."""

    def __init__(self, host: str, reason: str):
        super().__init__(f"{reason}, refused unless {ALLOW_SETTING} allows it")
        self.host = host
        self.reason = reason


class InvalidURL(ValueError):
    """Not an http(s) URL, or a URL with a malformed host or port."""


class ResolutionError(Exception):
    """The host name did not resolve. ``temporary`` is true for a resolver failure worth retrying later."""

    def __init__(self, host: str, error: OSError):
        super().__init__(f"cannot resolve {host}: {error.strerror or error}")
        self.host = host
        self.temporary = getattr(error, "errno", None) == socket.EAI_AGAIN


# Refused IPv4 ranges, first match gives the reason. Anything else that ipaddress does not call global is
# refused too (see _blocked_reason).
_V4_BLOCKED: list[tuple[IPNetwork, str]] = [
    (ipaddress.ip_network(net), reason)
    for net, reason in [
        ("0.0.0.0/32", "an unspecified address"),
        ("0.0.0.0/8", "a 'this network' address"),
        ("127.0.0.0/8", "a loopback address"),
        ("10.0.0.0/8", "a private address"),
        ("172.16.0.0/12", "a private address"),
        ("192.168.0.0/16", "a private address"),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("169.254.0.0/16", "a link-local address"),
        ("192.0.0.0/24", "an IETF protocol address"),
        ("192.0.2.0/24", "a documentation address"),
        ("198.51.100.0/24", "a documentation address"),
        ("203.0.113.0/24", "a documentation address"),
        ("192.88.99.0/24", "a 6to4 relay address"),
        ("198.18.0.0/15", "a benchmarking address"),
        ("224.0.0.0/4", "a multicast address"),
        ("255.255.255.255/32", "a broadcast address"),
        ("240.0.0.0/4", "a reserved address"),
    ]
]

# IPv6: only global unicast (2000::/3) is allowed, minus these ranges. Embedded IPv4 forms are unwrapped first.
_V6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
_V6_BLOCKED: list[tuple[IPNetwork, str]] = [
    (ipaddress.ip_network(net), reason)
    for net, reason in [
        ("2001::/23", "an IETF protocol address (e.g. Teredo)"),
        ("2001:db8::/32", "a documentation address"),
        ("3fff::/20", "a documentation address"),
    ]
]
_V6_SPECIAL: list[tuple[IPNetwork, str]] = [
    (ipaddress.ip_network(net), reason)
    for net, reason in [
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address"),
        ("fc00::/7", "a unique local (private) address"),
        ("ff00::/8", "a multicast address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address"),
        ("100::/64", "a discard-only address"),
    ]
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address inside an IPv4-mapped, NAT64 or 6to4 IPv6 address, else None."""
    if ip.version != 6:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` is refused (e.g. "a loopback address"), or None for a public unicast address."""
    inner = embedded_ipv4(ip)
    if inner is not None:
        reason = blocked_reason(inner)
        return f"{reason} (embeds {inner})" if reason else None
    if ip.version == 4:
        for net, reason in _V4_BLOCKED:
            if ip in net:
                return reason
        return None if ip.is_global else "a non-public address"
    for net, reason in _V6_SPECIAL:
        if ip in net:
            return reason
    if ip not in _V6_GLOBAL_UNICAST:
        return "a reserved address"
    for net, reason in _V6_BLOCKED:
        if ip in net:
            return reason
    return None


@dataclass(frozen=True)
class Allowlist:
    """Hosts and networks exempt from the guard. ``allow_all`` switches the guard off (tests, local setups)."""

    allow_all: bool = False
    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = field(default_factory=tuple)

    def allows_host(self, host: str) -> bool:
        return self.allow_all or normalize_host(host) in self.hosts

    def allows_ip(self, ip: IPAddress) -> bool:
        if self.allow_all:
            return True
        candidates = [ip]
        inner = embedded_ipv4(ip)
        if inner is not None:
            candidates.append(inner)
        return any(c in net for c in candidates for net in self.networks if c.version == net.version)

    def __bool__(self) -> bool:
        return self.allow_all or bool(self.hosts) or bool(self.networks)


def parse_allowlist(spec: str | None) -> Allowlist:
    """Parse ``CRYPTO_NEWS_ALLOW_PRIVATE_HOSTS``: "" (none), "1" (all), or "host,ip,cidr,...".

    Example: ``"127.0.0.2,127.0.0.3/32,feeds.local"``. A host name exempts every address it resolves to.
    """
    spec = (spec or "").strip()
    if not spec:
        return Allowlist()
    if spec == "1":
        return Allowlist(allow_all=True)
    hosts: set[str] = set()
    networks: list[IPNetwork] = []
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        legacy = parse_ipv4_legacy(item)
        if legacy is not None:
            networks.append(ipaddress.ip_network(legacy))
        elif "/" in item:
            raise ValueError(f"CRYPTO_NEWS_ALLOW_PRIVATE_HOSTS: not a network: {item!r}")
        else:
            hosts.add(normalize_host(item))
    return Allowlist(hosts=frozenset(hosts), networks=tuple(networks))


def normalize_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


_LEGACY_PART = re.compile(r"^(0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*)$")
_NUMBER_LABEL = re.compile(r"^([0-9]+|0[xX][0-9a-fA-F]*)$")


def parse_ipv4_legacy(host: str) -> ipaddress.IPv4Address | None:
    """Read ``host`` as ``inet_aton`` does (1 to 4 parts, each decimal, 0-octal or 0x-hex), else None.

    ``127.1`` -> 127.0.0.1, ``2130706433`` -> 127.0.0.1, ``0x7f.1`` -> 127.0.0.1, ``0177.0.0.1`` -> 127.0.0.1.
    """
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_LEGACY_PART.match(p) for p in parts):
        return None
    values = []
    for p in parts:
        if p[:2].lower() == "0x":
            values.append(int(p[2:] or "0", 16))
        elif len(p) > 1 and p.startswith("0"):
            values.append(int(p, 8))
        else:
            values.append(int(p))
    last_bits = 8 * (5 - len(parts))  # the last part fills the remaining bytes
    if any(v > 255 for v in values[:-1]) or values[-1] >= 1 << last_bits:
        return None
    number = 0
    for v in values[:-1]:
        number = (number << 8) | v
    number = (number << last_bits) | values[-1]
    return ipaddress.IPv4Address(number)


def literal_ip(host: str) -> IPAddress | None:
    """The address a numeric host stands for (IPv6 with or without brackets, any inet_aton IPv4 form)."""
    h = host.strip("[]")
    if ":" in h:
        try:
            return ipaddress.ip_address(h.split("%", 1)[0])  # drop an IPv6 zone id: fe80::1%eth0
        except ValueError as exc:
            raise InvalidURL(f"malformed IPv6 host {host!r}") from exc
    h = h.removesuffix(".")
    legacy = parse_ipv4_legacy(h)
    # Like browsers: a host whose last label is a number must be an IPv4 address, never a name to look up.
    if legacy is None and _NUMBER_LABEL.match(h.rsplit(".", 1)[-1]):
        raise InvalidURL(f"malformed numeric host {host!r}")
    return legacy


def resolve(host: str, port: int) -> list[IPAddress]:
    """All addresses of ``host`` (numeric forms parsed without asking the resolver)."""
    ip = literal_ip(host)
    if ip is not None:
        return [ip]
    host = host.rstrip(".")  # "localhost." is "localhost" (the HTTP client connects to the same name)
    try:
        infos = getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ResolutionError(host, exc) from exc
    except UnicodeError as exc:
        raise InvalidURL(f"malformed host name {host!r}") from exc
    addresses: list[IPAddress] = []
    for family, _, _, _, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        addr = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if addr not in addresses:
            addresses.append(addr)
    if not addresses:
        raise ResolutionError(host, OSError(f"no IPv4/IPv6 address for {host}"))
    return addresses


def resolve_checked(host: str, port: int, allow: Allowlist) -> list[IPAddress]:
    """Resolve ``host`` and return its addresses; raise :class:`BlockedAddress` if any of them is refused."""
    addresses = resolve(host, port)
    if allow.allows_host(host):
        return addresses
    for ip in addresses:
        reason = blocked_reason(ip)
        if reason and not allow.allows_ip(ip):
            if literal_ip(host) is None:
                shown = f"{host} resolves to {ip}, which"
            elif normalize_host(host) == str(ip) or ":" in host:
                shown = normalize_host(host)
            else:
                shown = f"{host} ({ip})"
            raise BlockedAddress(host, f"{shown} is {reason}")
    return addresses


_BAD_URL_CHARS = re.compile(r"[\x00-\x20\x7f\\]")


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; raise :class:`InvalidURL` for anything else."""
    if not isinstance(url, str) or _BAD_URL_CHARS.search(url):
        raise InvalidURL(f"malformed URL {url!r}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"malformed URL {url!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise InvalidURL(f"unsupported scheme {scheme or '(none)'!r} in {url!r}")
    host = parts.hostname
    if not host:
        raise InvalidURL(f"no host in {url!r}")
    return scheme, host, port or DEFAULT_PORTS[scheme]


def check_url(url: str, allow: Allowlist | None = None) -> list[IPAddress]:
    """Check an http(s) URL before connecting; return the addresses its host resolves to.

    Raises :class:`InvalidURL` (not http/https, malformed), :class:`ResolutionError` (DNS failure) or
    :class:`BlockedAddress` (some address is loopback, private, link-local, shared, multicast, reserved, ...).
    """
    _, host, port = split_url(url)
    return resolve_checked(host, port, allow if allow is not None else Allowlist())
