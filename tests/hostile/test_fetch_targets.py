"""Fetch targets an attacker would try, beyond tests/test_fetch.py: other spellings of
loopback, IPv6 forms that embed a private IPv4 address, and names (ours, in /etc/hosts) that
resolve to loopback. Each is refused before a connection is made.
"""

from __future__ import annotations

import socket

import pytest

from plugin.errors import MediaRefused
from plugin.media.fetch import FetchPolicy, fetch_media, is_public_address, resolve_checked

PRODUCTION = FetchPolicy(timeout_s=3)


@pytest.mark.parametrize("address", [
    "2002:a9fe:a9fe::1",      # 6to4 wrapping the metadata address 169.254.169.254
    "2002:7f00:1::",          # 6to4 wrapping 127.0.0.1
    "2002:c0a8:101::1",       # 6to4 wrapping 192.168.1.1
    "fec0::1",                # deprecated site-local
    "::ffff:a9fe:a9fe", "64:ff9b::a9fe:a9fe", "::", "::127.0.0.1", "100::1", "2001:db8::1",
    "198.18.0.1", "192.0.0.1", "240.0.0.1", "255.255.255.255",
])
def test_embedded_and_special_addresses_are_not_public(address):
    assert is_public_address(address) is False


@pytest.mark.parametrize("host", ["2130706433", "0x7f000001", "127.1", "0177.0.0.1", "0",
                                  "[::ffff:127.0.0.1]", "[::]", "[2002:7f00:1::]",
                                  "169.254.169.254", "[fd00:ec2::254]"])
def test_other_spellings_of_private_hosts_are_refused(host):
    with pytest.raises(MediaRefused):
        fetch_media(f"http://{host}/latest/meta-data/x.jpg", PRODUCTION)


def names_resolving_to_loopback() -> list[str]:
    names = []
    with open("/etc/hosts") as hosts:
        for line in hosts:
            fields = line.split("#")[0].split()
            if fields and fields[0] in ("127.0.0.1", "::1"):
                names += fields[1:]
    names.append(socket.gethostname())
    return sorted(set(names))


@pytest.mark.parametrize("name", names_resolving_to_loopback())
def test_names_we_control_resolving_to_loopback_are_refused(name):
    try:
        socket.getaddrinfo(name, 80)
    except socket.gaierror:
        pytest.fail(f"{name} is in /etc/hosts but does not resolve")
    with pytest.raises(MediaRefused, match="non-public"):
        resolve_checked(name, 80, allow_private=False)
    with pytest.raises(MediaRefused):
        fetch_media(f"http://{name}:9/x.jpg", PRODUCTION)


@pytest.mark.parametrize("url", ["data:image/png;base64,AAAA", "javascript:alert(1)",
                                 "//example.org/x.jpg", "HTTP://127.0.0.1/x.jpg",
                                 "http://[::1", "http://a b/x.jpg", "ws://example.org/"])
def test_malformed_and_other_scheme_urls_are_refused(url):
    with pytest.raises(MediaRefused):
        fetch_media(url, PRODUCTION)
