"""The bridge's poster against a real loopback HTTP server: signed as the generic adapter
verifies, retried on 500 without loss or reordering, a refusal (wrong secret: 403) kept in
the dead-letter file with its reason, a bad event not taking its batch with it."""

import json
import pathlib
import sys
import time
from datetime import datetime, timezone

import voip_providers
import voip_test_local_http

BRIDGE = pathlib.Path(__file__).resolve().parents[1] / "bridge"
if str(BRIDGE) not in sys.path:
    sys.path.insert(0, str(BRIDGE))

from pbx_bridge.poster import Backoff, OdooClient, Poster  # noqa: E402
from pbx_bridge.spool import Spool  # noqa: E402

SECRET = "bridge-secret"


def _adapter():
    return voip_providers.registry.get_adapter_class("generic")({"webhook_secret": SECRET})


def _verified(request, secret_adapter=None):
    """The request as Odoo's generic adapter checks it (raises on a bad signature)."""
    adapter = secret_adapter or _adapter()
    webhook_request = voip_providers.events.WebhookRequest(
        method="POST",
        url="http://odoo/crm_voip/webhook/t",
        path="/crm_voip/webhook/t",
        query={},
        form={},
        headers=request["headers"],
        body=request["body"],
        content_type="application/json",
        remote_addr="127.0.0.1",
        received_at=datetime.now(timezone.utc),
    )
    adapter.verify(webhook_request)
    return json.loads(request["body"])


def _event(number):
    return {
        "id": f"ev-{number}",
        "type": "call.started",
        "call_id": f"c{number}",
        "from": "79161234567",
        "timestamp": 1765000000 + number,
    }


def _poster(tmp_path, url, **kwargs):
    spool = Spool(tmp_path / "spool")
    client = OdooClient(url, kwargs.pop("secret", SECRET), timeout=2)
    poster = Poster(spool, client, str(tmp_path / "dead.jsonl"), **kwargs)
    poster.backoff = Backoff(base=0.01, cap=0.05)
    return spool, poster


def _run_until(poster, condition, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delay = poster.deliver_once()
        if condition():
            return
        if delay:
            time.sleep(delay)
    raise AssertionError("condition not reached")


def test_500_then_200_loses_nothing_and_keeps_order(tmp_path):
    answers = iter([500, 500, 503])
    received = []

    def odoo(request):
        payload = _verified(request)
        status = next(answers, 200)
        if status == 200:
            received.extend(event["id"] for event in payload["events"])
            return 200, {"Content-Type": "application/json"}, '{"status": "ok"}'
        return status, {}, "busy"

    with voip_test_local_http.LocalServer(odoo) as server:
        spool, poster = _poster(tmp_path, server.url + "/crm_voip/webhook/t")
        spool.append([_event(number) for number in range(250)])
        poster.start()
        deadline = time.monotonic() + 10
        while spool.depth() and time.monotonic() < deadline:
            time.sleep(0.02)
        poster.stop()
        batches = [json.loads(request["body"])["events"] for request in server.requests]
    assert received == [f"ev-{number}" for number in range(250)]
    assert max(len(batch) for batch in batches) == 100
    # The refused batch was the same each time.
    assert batches[0] == batches[1] == batches[2] == batches[3]
    assert spool.depth() == 0
    assert "HTTP 500" in poster.last_error or poster.last_error == ""


def test_timeout_and_connection_refused_are_retried(tmp_path):
    spool, poster = _poster(tmp_path, "http://127.0.0.1:9/crm_voip/webhook/t")
    spool.append([_event(1)])
    assert poster.deliver_once() > 0
    assert "connection failed" in poster.last_error
    assert spool.depth() == 1


def test_wrong_secret_goes_to_the_dead_letter_file(tmp_path, caplog):
    def odoo(request):
        try:
            _verified(request)
        except voip_providers.errors.SignatureError as error:
            return (
                403,
                {"Content-Type": "application/json"},
                json.dumps({"status": "error", "error": str(error)}),
            )
        return 200, {}, "{}"

    with voip_test_local_http.LocalServer(odoo) as server:
        spool, poster = _poster(tmp_path, server.url + "/w", secret="not-the-secret")
        spool.append([_event(1), _event(2)])
        _run_until(poster, lambda: spool.depth() == 0)
    lines = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert [line["events"][0]["id"] for line in lines] == ["ev-1", "ev-2"]
    assert all(line["status"] == 403 and "Invalid signature" in line["reason"] for line in lines)
    assert poster.dead_letters == 2
    assert "refused event ev-1 for good (HTTP 403: Invalid signature)" in caplog.text
    # Counted again after a restart.
    assert Poster(spool, poster.client, str(tmp_path / "dead.jsonl")).dead_letters == 2


def test_one_bad_event_does_not_take_its_batch_with_it(tmp_path):
    stored = []

    def odoo(request):
        events = _verified(request)["events"]
        if any(event["id"] == "ev-3" for event in events):
            return 400, {"Content-Type": "application/json"}, '{"error": "events[0].from: bad"}'
        stored.extend(event["id"] for event in events)
        return 200, {}, "{}"

    with voip_test_local_http.LocalServer(odoo) as server:
        spool, poster = _poster(tmp_path, server.url + "/w")
        spool.append([_event(number) for number in range(6)])
        _run_until(poster, lambda: spool.depth() == 0)
    assert stored == ["ev-0", "ev-1", "ev-2", "ev-4", "ev-5"]
    dead = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert [line["events"][0]["id"] for line in dead] == ["ev-3"]


def test_heartbeat_posts_the_status_without_events(tmp_path):
    def odoo(request):
        _verified(request)
        return 200, {}, "{}"

    with voip_test_local_http.LocalServer(odoo) as server:
        spool, poster = _poster(
            tmp_path, server.url + "/w", status=lambda: {"connected": True, "spool_depth": 0}
        )
        assert poster.send_heartbeat().ok
        body = json.loads(server.requests[0]["body"])
    assert body == {"bridge": {"connected": True, "spool_depth": 0}}


def test_backoff_grows_with_jitter_up_to_its_cap():
    backoff = Backoff(base=1.0, cap=8.0)
    delays = [backoff.next_delay() for _ in range(8)]
    assert 0.5 <= delays[0] <= 1.0
    assert 2.0 <= delays[2] <= 4.0
    assert all(4.0 <= delay <= 8.0 for delay in delays[4:])
    backoff.reset()
    assert backoff.next_delay() <= 1.0
