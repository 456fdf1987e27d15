"""The SSRF guard: which URLs and hosts are refused, odd numeric host forms, IPv6, and the allowlist.

Host names are answered from a fixed table; nothing reaches a real resolver.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

from crypto_news.fetch import netguard
from crypto_news.fetch.netguard import BlockedAddress, InvalidURL, ResolutionError, check_url, parse_allowlist

NAMES = {
    "localhost": ["127.0.0.1", "::1"],
    "feeds.example": ["93.184.216.34"],
    "dual.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "mixed.example": ["93.184.216.34", "10.0.0.5"],  # one bad address is enough to refuse
    "metadata.example": ["169.254.169.254"],
    "feeds.local": ["192.168.1.20"],
    "v6only.example": ["fd12:3456::1"],
}


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch):
    def resolve(host, port, *args, **kwargs):
        name = str(host).rstrip(".").lower()
        if name not in NAMES:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in NAMES[name]
        ]

    monkeypatch.setattr(netguard, "getaddrinfo", resolve)


NONE = parse_allowlist("")

BLOCKED = [
    # loopback in every spelling
    ("http://127.0.0.1/", "loopback"),
    ("http://127.9.8.7:8080/x", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://0x7F.0.0.1/", "loopback"),
    ("http://2130706433/", "loopback"),
    ("http://0177.0.0.1/", "loopback"),
    ("http://017700000001/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://127.0.1/", "loopback"),
    ("http://127.0.0.1./", "loopback"),
    ("http://localhost/", "loopback"),
    ("http://localhost./", "loopback"),
    ("http://LOCALHOST:80/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[0:0:0:0:0:0:0:1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[::ffff:7f00:1]/", "loopback"),
    ("http://[64:ff9b::127.0.0.1]/", "loopback"),  # NAT64
    ("http://[2002:7f00:1::1]/", "loopback"),  # 6to4
    ("http://user:pw@127.0.0.1/", "loopback"),
    # unspecified / this network
    ("http://0.0.0.0/", "unspecified"),
    ("http://0/", "unspecified"),
    ("http://[::]/", "unspecified"),
    ("http://0.1.2.3/", "this network"),
    # private
    ("http://10.1.2.3/", "private"),
    ("http://172.16.0.1/", "private"),
    ("http://172.31.255.255/", "private"),
    ("http://192.168.0.1/", "private"),
    ("http://[::ffff:192.168.0.1]/", "private"),
    ("http://[fc00::1]/", "unique local"),
    ("http://[fd00:abcd::1]/", "unique local"),
    ("http://feeds.local/", "private"),
    ("http://v6only.example/", "unique local"),
    ("http://mixed.example/", "private"),
    # link-local, metadata
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://0xa9fea9fe/", "link-local"),
    ("http://metadata.example/", "link-local"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fe80::1%25eth0]/", "link-local"),
    ("http://[::ffff:169.254.169.254]/", "link-local"),
    # shared address space, multicast, reserved, broadcast, documentation, benchmarking
    ("http://100.64.0.1/", "shared"),
    ("http://100.127.255.254/", "shared"),
    ("http://224.0.0.1/", "multicast"),
    ("http://239.255.255.250/", "multicast"),
    ("http://[ff02::1]/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "broadcast"),
    ("http://192.0.2.1/", "documentation"),
    ("http://[2001:db8::1]/", "documentation"),
    ("http://198.18.0.1/", "benchmarking"),
    ("http://[100::1]/", "discard"),
    ("http://[::127.0.0.1]/", "reserved"),  # deprecated IPv4-compatible form
    ("http://[2001::1]/", "IETF"),  # Teredo
]


@pytest.mark.parametrize("url,reason", BLOCKED)
def test_blocked(url, reason):
    with pytest.raises(BlockedAddress) as info:
        check_url(url, NONE)
    assert reason in str(info.value)
    assert str(info.value).endswith(", refused unless CRYPTO_NEWS_ALLOW_PRIVATE_HOSTS allows it")
    assert not str(info.value).startswith("blocked")


ALLOWED = [
    ("http://93.184.216.34/", ["93.184.216.34"]),
    ("https://feeds.example/rss", ["93.184.216.34"]),
    ("http://feeds.example./rss", ["93.184.216.34"]),
    ("https://dual.example:8443/", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]),
    ("http://[2606:4700::1111]/", ["2606:4700::1111"]),
    ("http://[64:ff9b::8.8.8.8]/", ["64:ff9b::808:808"]),  # NAT64 of a public address
    ("http://1.1/", ["1.0.0.1"]),
    ("http://100.63.255.255/", ["100.63.255.255"]),  # just outside 100.64/10
    ("http://172.32.0.1/", ["172.32.0.1"]),  # just outside 172.16/12
]


@pytest.mark.parametrize("url,addresses", ALLOWED)
def test_allowed(url, addresses):
    assert check_url(url, NONE) == [ipaddress.ip_address(a) for a in addresses]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "gopher://127.0.0.1/",
        "javascript:alert(1)",
        "//example.com/",
        "http://",
        "http:///path",
        "http://example.com:99999/",
        "http://example.com:port/",
        "http://1.2.3.4.5/",
        "http://256.0.0.1/",
        "http://0x1ffffffff/",
        "http://[::1/",
        "http://[zz::1]/",
        "http://exa mple.com/",
        "http://example.com\\@127.0.0.1/",
        "http://example.com/\n",
    ],
)
def test_invalid_urls(url):
    with pytest.raises(InvalidURL):
        check_url(url, NONE)


def test_unknown_name_is_a_resolution_error():
    with pytest.raises(ResolutionError) as info:
        check_url("http://nothing-here.invalid/", NONE)
    assert "nothing-here.invalid" in str(info.value) and not info.value.temporary


@pytest.mark.parametrize(
    "host,expected",
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7f.0x0.0x0.0x1", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0177.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("1.2.3", "1.2.0.3"),
        ("feeds.example", None),
        ("1a.de", None),
        ("0x.example", None),
        ("256.1.1.1", None),
        ("1.2.3.4.5", None),
    ],
)
def test_parse_ipv4_legacy(host, expected):
    parsed = netguard.parse_ipv4_legacy(host)
    assert (str(parsed) if parsed else None) == expected


# ---------------------------------------------------------------------------------------------- allowlist


def test_allowlist_forms():
    assert not parse_allowlist("") and not parse_allowlist("  ")
    everything = parse_allowlist("1")
    assert everything.allow_all
    assert check_url("http://127.0.0.1/", everything) == [ipaddress.ip_address("127.0.0.1")]
    assert check_url("http://[::1]/", everything)

    allow = parse_allowlist(" 127.0.0.2, 127.0.0.3/32 ,10.0.0.0/8,feeds.local.,[fd00::1],0x7f000004 ")
    assert allow.hosts == {"feeds.local"}
    for url in [
        "http://127.0.0.2/",
        "http://127.0.0.3:8080/",
        "http://0x7f000002/",  # same address, other spelling
        "http://127.0.0.4/",
        "http://10.200.0.1/",
        "http://feeds.local/",
        "http://FEEDS.LOCAL./",
        "http://[fd00::1]/",
        "http://[::ffff:127.0.0.2]/",  # mapped form of an allowed address
        "http://mixed.example/",  # 10.0.0.5 is in 10/8; the other address is public
    ]:
        check_url(url, allow)
    for url in ["http://127.0.0.1/", "http://127.0.0.5/", "http://localhost/", "http://169.254.169.254/"]:
        with pytest.raises(BlockedAddress):
            check_url(url, allow)


def test_allowlist_host_name_does_not_cover_other_names_with_same_address():
    allow = parse_allowlist("localhost")
    check_url("http://localhost/", allow)
    with pytest.raises(BlockedAddress):
        check_url("http://127.0.0.1/", allow)


def test_allowlist_rejects_bad_network():
    with pytest.raises(ValueError):
        parse_allowlist("10.0.0.0/33")


def test_blocked_reason_messages():
    assert netguard.blocked_reason(ipaddress.ip_address("8.8.8.8")) is None
    assert netguard.blocked_reason(ipaddress.ip_address("169.254.169.254")) == "a link-local address"
    lift = ", refused unless CRYPTO_NEWS_ALLOW_PRIVATE_HOSTS allows it$"
    with pytest.raises(BlockedAddress, match=r"^169\.254\.169\.254 is a link-local address" + lift):
        check_url("http://169.254.169.254/", NONE)
    with pytest.raises(BlockedAddress, match=r"^2130706433 \(127\.0\.0\.1\) is a loopback address" + lift):
        check_url("http://2130706433/", NONE)
    with pytest.raises(BlockedAddress, match=r"metadata\.example resolves to 169\.254\.169\.254"):
        check_url("http://metadata.example/", NONE)
