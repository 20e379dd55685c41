"""The adapter base: transport (timeouts, network errors), recording download, source checks."""

import socket
import time
from datetime import datetime, timedelta, timezone

import pytest
import voip_test_local_http as local_http
from voip_providers import base
from voip_providers.base import ProviderAdapter, parse_allowlist, resolve_timezone, sniff_audio
from voip_providers.errors import (
    AuthError,
    PermanentError,
    RateLimitError,
    RetryableError,
    SignatureError,
)
from voip_providers.events import NotificationTemplate, SubscriptionReport, WebhookRequest

MP3_ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\x00" * 500
MP3_FRAME = b"\xff\xfb\x90\x64" + b"\x00" * 500
WAV = b"RIFF\x24\x08\x00\x00WAVEfmt " + b"\x00" * 500
OGG = b"OggS\x00\x02" + b"\x00" * 500


class PlainAdapter(ProviderAdapter):
    """The base class as is (not registered)."""

    name = "Plain PBX"


def serve(status=200, headers=None, body=b"", delay=None):
    headers = dict(headers or {})
    if delay:
        headers["X-Test-Delay"] = str(delay)
    return local_http.LocalServer(lambda request: (status, dict(headers), body))


# -- download ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type, body, mimetype",
    [
        ("audio/mpeg", MP3_ID3, "audio/mpeg"),
        ("audio/mp3", MP3_FRAME, "audio/mpeg"),
        ("audio/mpeg; charset=binary", MP3_ID3, "audio/mpeg"),
        ("audio/x-wav", WAV, "audio/wav"),
        ("audio/ogg", OGG, "audio/ogg"),
        ("application/octet-stream", MP3_ID3, "audio/mpeg"),
        ("application/octet-stream", MP3_FRAME, "audio/mpeg"),
        ("application/octet-stream", WAV, "audio/wav"),
        ("binary/octet-stream", OGG, "audio/ogg"),
        (None, WAV, "audio/wav"),
    ],
    ids=lambda value: value[:12] if isinstance(value, bytes) else str(value),
)
def test_download_audio(content_type, body, mimetype):
    headers = {"Content-Type": content_type} if content_type else {}
    with serve(headers=headers, body=body) as server:
        download = PlainAdapter({"base_url": server.url}).download(
            server.url + "/rec.mp3", max_bytes=10_000, chunk_size=64
        )
        chunks = list(download.chunks)
    assert b"".join(chunks) == body
    assert len(chunks) > 1  # streamed, not read at once
    assert download.mimetype == mimetype


@pytest.mark.parametrize(
    "content_type, body, message",
    [
        ("text/html", b"<html>login</html>", "Content-Type 'text/html', expected audio"),
        ("application/json", b'{"status":"error"}', "expected audio"),
        ("video/mp4", MP3_ID3, "expected audio"),
        ("application/octet-stream", b"PK\x03\x04zipfile....", "not mp3, wav or ogg"),
        ("application/octet-stream", b"RIFF\x00\x00\x00\x00AVI LIST", "not mp3, wav or ogg"),
        ("audio/mpeg", b"", "Recording is empty"),
    ],
    ids=lambda value: value[:12] if isinstance(value, bytes) else str(value),
)
def test_download_refuses_non_audio(content_type, body, message):
    with serve(headers={"Content-Type": content_type}, body=body) as server:
        with pytest.raises(PermanentError, match=message):
            PlainAdapter({"base_url": server.url}).download(server.url + "/rec", max_bytes=10_000)


def test_download_size_limit_from_content_length():
    body = MP3_ID3 * 4
    headers = {"Content-Type": "audio/mpeg", "Content-Length": str(len(body))}
    with serve(headers=headers, body=body) as server:
        with pytest.raises(PermanentError, match=r"is 2040 bytes, above the 1000 bytes limit"):
            PlainAdapter({"base_url": server.url}).download(server.url + "/rec", max_bytes=1000)


def test_download_size_limit_while_streaming():
    # No Content-Length (close-delimited body): the limit is enforced on the bytes read.
    body = MP3_ID3 * 4
    received = []
    with serve(headers={"Content-Type": "audio/mpeg"}, body=body) as server:
        with pytest.raises(PermanentError, match="exceeds the 1000 bytes limit"):
            for chunk in (
                PlainAdapter({"base_url": server.url})
                .download(server.url + "/rec", 1000, chunk_size=100)
                .chunks
            ):
                received.append(chunk)
    assert sum(map(len, received)) <= 1000


def test_download_exact_limit_is_allowed():
    with serve(headers={"Content-Type": "audio/mpeg"}, body=MP3_ID3) as server:
        data = b"".join(
            PlainAdapter({"base_url": server.url})
            .download(server.url + "/rec", max_bytes=len(MP3_ID3))
            .chunks
        )
    assert data == MP3_ID3


@pytest.mark.parametrize(
    "status, error", [(404, PermanentError), (401, AuthError), (503, RetryableError)]
)
def test_download_http_errors(status, error):
    with serve(status=status, headers={"Content-Type": "text/plain"}, body=b"no") as server:
        with pytest.raises(error, match=f"HTTP {status}"):
            PlainAdapter({"base_url": server.url}).download(server.url + "/rec", max_bytes=1000)


def test_download_only_from_the_accounts_hosts():
    """A URL the PBX API hands out is fetched only on its own host or one the
    administrator listed; nothing is requested otherwise."""
    adapter = PlainAdapter({"base_url": "https://api.pbx.example"})
    adapter._request = None  # would fail if called
    for url in ("https://evil.example/rec.mp3", "ftp://api.pbx.example/rec", "file:///etc/passwd"):
        with pytest.raises(PermanentError, match="not the PBX's|not http"):
            adapter.download(url, max_bytes=1000)
    with serve(headers={"Content-Type": "audio/mpeg"}, body=MP3_ID3) as server:
        listed = PlainAdapter({"base_url": server.url, "download_hosts": "cdn.example, 127.0.0.1"})
        assert "cdn.example" in listed.download_hosts()
        assert b"".join(listed.download(server.url + "/rec", max_bytes=10_000).chunks) == MP3_ID3


def test_download_private_address_only_for_a_private_pbx():
    """An administrator-listed host on a loopback address is refused for a PBX in the
    cloud: the PBX (or whoever answers for it) must not reach inside our network."""
    with serve(headers={"Content-Type": "audio/mpeg"}, body=MP3_ID3) as server:
        cloud = PlainAdapter({"base_url": "https://185.45.152.42", "download_hosts": "127.0.0.1"})
        with pytest.raises(PermanentError, match="private"):
            cloud.download(server.url + "/rec", max_bytes=10_000)
        assert server.requests == []


def test_download_follows_redirects_on_the_same_host_only():
    def responder(request):
        if request["path"] == "/rec":
            return 302, {"Location": "/stored/rec.mp3"}, b""
        if request["path"] == "/away":
            return 302, {"Location": "http://localhost:9/rec.mp3"}, b""
        return 200, {"Content-Type": "audio/mpeg"}, MP3_ID3

    with local_http.LocalServer(responder) as server:
        adapter = PlainAdapter({"base_url": server.url, "download_hosts": "localhost"})
        assert b"".join(adapter.download(server.url + "/rec", max_bytes=10_000).chunks) == MP3_ID3
        with pytest.raises(PermanentError, match="redirected to another host"):
            adapter.download(server.url + "/away", max_bytes=10_000)


def test_download_validates_max_bytes_before_any_request():
    adapter = PlainAdapter()
    adapter._request = None  # would fail if called
    with pytest.raises(ValueError, match="max_bytes"):
        adapter.download("http://127.0.0.1:9/none", max_bytes=0)


def test_download_closes_the_connection_when_left_unread():
    with serve(headers={"Content-Type": "audio/mpeg"}, body=MP3_ID3 * 4) as server:
        with PlainAdapter({"base_url": server.url}).download(
            server.url + "/rec", max_bytes=10_000
        ) as download:
            assert download.mimetype == "audio/mpeg"
        assert download._response.raw.closed


@pytest.mark.parametrize(
    "head, expected",
    [
        (MP3_ID3[:12], "audio/mpeg"),
        (b"\xff\xf3\x00\x00", "audio/mpeg"),  # MPEG-2 layer 3
        (b"\xff\xf1\x50\x80", None),  # AAC ADTS (layer bits 00) is not mp3
        (b"\xff\xe9\x00\x00", None),  # reserved version
        (WAV[:12], "audio/wav"),
        (OGG[:12], "audio/ogg"),
        (b"<html>", None),
        (b"", None),
    ],
    ids=lambda value: value[:12] if isinstance(value, bytes) else str(value),
)
def test_sniff_audio(head, expected):
    assert sniff_audio(head) == expected


# -- transport ---------------------------------------------------------------------------------


def test_request_timeout_is_always_applied():
    with serve(headers={"Content-Type": "audio/mpeg"}, body=MP3_ID3, delay=2) as server:
        adapter = PlainAdapter({"timeout": 0.3})
        started = time.monotonic()
        with pytest.raises(RetryableError, match=r"no answer within 0.3 s"):
            adapter._request("GET", server.url + "/slow")
        assert time.monotonic() - started < 1.5


def test_request_connection_refused_is_retryable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RetryableError, match=f"127.0.0.1:{port}: connection failed"):
        PlainAdapter({"timeout": 2})._request("GET", f"http://127.0.0.1:{port}/x")


@pytest.mark.parametrize("url", ["ftp://example.com/x", "no-scheme/path", "http://"])
def test_request_invalid_url_is_permanent(url):
    with pytest.raises(PermanentError, match="Invalid URL for Plain PBX"):
        PlainAdapter()._request("GET", url)


def test_request_returns_http_errors_unmapped():
    with serve(status=500, body=b"boom") as server:
        response = PlainAdapter()._request("POST", server.url + "/x", json={"a": 1})
    assert response.status_code == 500
    assert server.requests[0]["body"] == b'{"a": 1}'
    assert server.requests[0]["headers"]["User-Agent"] == base.USER_AGENT


def test_retry_after_http_date():
    class FakeResponse:
        headers = {
            "Retry-After": (datetime.now(timezone.utc) + timedelta(seconds=120)).strftime(
                "%a, %d %b %Y %H:%M:%S GMT"
            )
        }

    assert 115 <= ProviderAdapter._retry_after(FakeResponse()) <= 121


def test_unsupported_operations_raise_permanent_errors():
    adapter = PlainAdapter()
    for call, message in [
        (lambda: adapter.originate("101", "+74951234567"), "does not support click-to-call"),
        (lambda: adapter.recording_link("r"), "does not support recording download"),
        (lambda: adapter.list_extensions(), "does not support listing extensions"),
        (lambda: adapter.call_history(None, None), "does not support call history"),
        (lambda: adapter.test_connection(), "has no API to test"),
        (lambda: adapter.subscribe_events("https://x"), "has no event subscriptions"),
        (lambda: adapter.unsubscribe_events("https://x"), "has no event subscriptions"),
    ]:
        with pytest.raises(PermanentError, match=f"Plain PBX {message}"):
            call()
    assert adapter.handshake(WebhookRequest()) is None
    assert adapter.notification_templates("https://x") == []
    assert not PlainAdapter.manages_subscriptions()
    assert not PlainAdapter.shows_notification_templates()
    with pytest.raises(NotImplementedError):
        adapter.verify(WebhookRequest())


def test_capabilities_follow_the_methods_an_adapter_defines():
    class Subscribing(PlainAdapter):
        def subscribe_events(self, webhook_url):
            return SubscriptionReport(created=1)

        def notification_templates(self, webhook_url):
            return [NotificationTemplate("end", "Call finished", "POST", webhook_url, "{}")]

    assert Subscribing.manages_subscriptions()
    assert Subscribing.shows_notification_templates()
    assert Subscribing().notification_templates("https://x")[0].url == "https://x"


def test_generated_settings_are_secret_texts():
    assert base.ConfigField("secret", "Secret", secret=True, generated=True).generated
    for kwargs in ({"secret": False}, {"secret": True, "kind": "integer"}):
        with pytest.raises(ValueError, match="only secret texts are generated"):
            base.ConfigField("secret", "Secret", generated=True, **kwargs)


def test_errors_carry_a_hint_for_the_administrator():
    error = RateLimitError("slow down", 5, hint="Wait a minute.")
    assert (error.hint, error.retry_after, error.message) == ("Wait a minute.", 5, "slow down")
    assert PermanentError("x").hint == ""


# -- configuration helpers ---------------------------------------------------------------------


def test_parse_allowlist():
    networks = parse_allowlist("185.45.152.40/30, 10.0.0.1\n2001:db8::/32;")
    assert [str(n) for n in networks] == ["185.45.152.40/30", "10.0.0.1/32", "2001:db8::/32"]
    assert [str(n) for n in parse_allowlist(["192.168.1.7/24"])] == ["192.168.1.0/24"]
    assert parse_allowlist(None) == []
    with pytest.raises(ValueError, match="Invalid IP allow-list entry 'nope'"):
        parse_allowlist(["10.0.0.1", "nope"])


def test_check_source_without_allowlist_accepts_anything():
    PlainAdapter().check_source("")
    PlainAdapter({"ip_allowlist": ""}).check_source("203.0.113.1")
    with pytest.raises(SignatureError):
        PlainAdapter({"ip_allowlist": "10.0.0.0/8"}).check_source("203.0.113.1")


@pytest.mark.parametrize(
    "name, offset_hours",
    [
        ("Europe/Moscow", 3),
        ("UTC", 0),
        ("UTC+3", 3),
        ("GMT-5", -5),
        ("UTC+05:30", 5.5),
        ("+0300", 3),
        ("Asia/Almaty", 5),
    ],
)
def test_resolve_timezone(name, offset_hours):
    moment = datetime(2024, 7, 1, 12, 0)
    offset = resolve_timezone(name).utcoffset(moment)
    assert offset == timedelta(hours=offset_hours)


@pytest.mark.parametrize("name", ["", "Mars/Olympus", "UTC+25", "../etc/passwd"])
def test_resolve_timezone_errors(name):
    with pytest.raises(PermanentError):
        resolve_timezone(name)
