"""The safe media fetcher against a real loopback HTTP server."""

from __future__ import annotations

import time

import pytest

from plugin.errors import (
    MediaFetchError,
    MediaRefused,
    MediaTooLarge,
    TransientError,
    UnsupportedMedia,
)
from plugin.media.fetch import FetchPolicy, fetch_media, is_public_address, sniff_media_type
from tests.conftest import corpus_photo

OPEN = FetchPolicy(allow_private=True, max_bytes=5_000_000, timeout_s=5)


def test_fetches_an_image_from_an_allowed_loopback_server(media_server):
    fetched = fetch_media(media_server.url(corpus_photo(1).name), OPEN)
    assert fetched.media_type == "image/jpeg"
    assert fetched.data == corpus_photo(1).read_bytes()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_loopback_is_refused_in_production(media_server, host):
    url = media_server.url(corpus_photo(1).name).replace("127.0.0.1", host)
    with pytest.raises(MediaRefused, match="non-public"):
        fetch_media(url, FetchPolicy())
    assert media_server.hits.get(f"/media/{corpus_photo(1).name}") is None


@pytest.mark.parametrize("address, public", [
    ("127.0.0.1", False), ("10.1.2.3", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("::1", False),
    ("fe80::1", False), ("fc00::1", False), ("::ffff:127.0.0.1", False), ("224.0.0.1", False),
    ("93.184.216.34", True), ("2606:4700::1111", True),
])
def test_address_classification(address, public):
    assert is_public_address(address) is public


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x.jpg",
                                 "gopher://x/", "http://user:pw@example.org/x.jpg", "http:///x"])
def test_non_http_schemes_and_credentials_are_refused(url):
    with pytest.raises(MediaRefused):
        fetch_media(url, OPEN)


def test_redirects_are_followed_and_checked_per_hop(media_server):
    target = media_server.url(corpus_photo(3).name)
    fetched = fetch_media(f"{media_server.base_url}/redirect?to={target}", OPEN)
    assert fetched.url == target
    with pytest.raises(MediaRefused):
        fetch_media(f"{media_server.base_url}/redirect?to=file:///etc/passwd", OPEN)


def test_redirect_loops_are_bounded(media_server):
    url = f"{media_server.base_url}/redirect?to=/redirect?to=/redirect?to=/redirect?to=" \
          f"/redirect?to=/redirect?to=/redirect?to=/media/x.jpg"
    with pytest.raises(MediaRefused, match="redirects"):
        fetch_media(url, FetchPolicy(allow_private=True, max_redirects=3))


def test_size_cap_holds_for_endless_bodies(media_server):
    started = time.monotonic()
    with pytest.raises(MediaTooLarge):
        fetch_media(f"{media_server.base_url}/endless", FetchPolicy(allow_private=True,
                                                                    max_bytes=1_000_000))
    assert time.monotonic() - started < 5


def test_slow_servers_time_out(media_server):
    started = time.monotonic()
    with pytest.raises(TransientError, match="timed out"):
        fetch_media(f"{media_server.base_url}/slow", FetchPolicy(allow_private=True,
                                                                 timeout_s=1.0))
    assert time.monotonic() - started < 3


def test_wrong_content_is_sniffed_not_trusted(media_server):
    with pytest.raises(UnsupportedMedia, match="Content-Type image/jpeg"):
        fetch_media(f"{media_server.base_url}/html", OPEN)


@pytest.mark.parametrize("code, error", [(404, MediaFetchError), (410, MediaFetchError),
                                         (500, TransientError), (503, TransientError),
                                         (429, TransientError)])
def test_status_codes_sort_into_permanent_and_transient(media_server, code, error):
    with pytest.raises(error):
        fetch_media(f"{media_server.base_url}/status/{code}", OPEN)


def test_unreachable_host_is_transient():
    with pytest.raises(TransientError):
        fetch_media("http://127.0.0.1:9/x.jpg", OPEN)


def test_sniffing():
    assert sniff_media_type(b"\x89PNG\r\n\x1a\n....") == "image/png"
    assert sniff_media_type(b"RIFF\0\0\0\0WEBPVP8 ") == "image/webp"
    assert sniff_media_type(b"<svg xmlns=") is None
    assert sniff_media_type(b"") is None
