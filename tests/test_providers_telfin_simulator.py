"""The Telfin adapter against the simulated Telfin over real HTTP on loopback: the token,
the event subscriptions it makes (and leaves alone), click-to-call, records and the call
history. No transport is patched here. The simulator's deliveries are checked too: they go
to the subscribed URLs only, by the subscription's method."""

import datetime as dt
import urllib.parse

import pytest
from simulator_support import Receiver
from voip_providers import telfin
from voip_providers.errors import AuthError, RateLimitError
from voip_providers.telfin import TelfinAdapter

from vats_simulator import Simulator, TelfinAccount

CLIENT, SECRET = "app-id", "app-secret"


@pytest.fixture
def receiver():
    hooks = Receiver()
    yield hooks
    hooks.close()


@pytest.fixture
def sim(receiver):
    telfin._tokens.clear()
    account = TelfinAccount(receiver.hook("telfin"), CLIENT, SECRET, auto_subscribe=False)
    simulator = Simulator(
        telfin=account, extensions={"101": "Anna", "102": "Boris"}, originate_delay=0.01
    ).start()
    yield simulator
    simulator.stop()
    telfin._tokens.clear()


@pytest.fixture
def adapter(sim):
    instance = TelfinAdapter(
        {"client_id": CLIENT, "client_secret": SECRET, "base_url": sim.api_url("telfin")}
    )
    yield instance
    instance.close()


def subscriptions(sim):
    account = sim.account("telfin")
    return {number: list(items) for number, items in account.subscriptions.items()}


def test_subscriptions_created_kept_and_cleaned(sim, adapter, receiver):
    hook = receiver.hook("telfin")
    report = adapter.subscribe_events(hook)
    assert (report.created, report.kept, report.removed, report.extensions) == (10, 0, 0, 4)
    assert (report.limit, report.used) == (100, 10)
    made = subscriptions(sim)
    assert sorted(s["event_type"] for s in made["101"]) == [
        "answer",
        "dial-in",
        "dial-out",
        "hangup",
    ]
    assert [(s["url"], s["method"], s["event_type"]) for s in made["099"]] == [
        (f"{hook}/ivr", "POST", "hangup")
    ]
    assert [s["url"] for s in made["098"]] == [f"{hook}/queue"]
    # A second run keeps them; a stale one of ours goes, another system's and an older
    # token's stay.
    account = sim.account("telfin")
    foreign = {
        "id": 1,
        "url": "http://127.0.0.1:9/telfin",
        "method": "GET",
        "event_type": "hangup",
    }
    older = {"id": 2, "url": hook + "-old/phone", "method": "POST", "event_type": "hangup"}
    stale = {"id": 3, "url": f"{hook}/ivr", "method": "GET", "event_type": "dial-in"}
    account.subscriptions["101"] += [foreign, older]
    account.subscriptions["102"].append(stale)
    report = adapter.subscribe_events(hook + "/")
    assert (report.created, report.kept, report.removed) == (0, 10, 1)
    assert report.used == 12
    assert foreign in account.subscriptions["101"] and older in account.subscriptions["101"]
    assert stale not in account.subscriptions["102"]
    # The calls now reach the URLs by type.
    deliveries = sim.play("telfin", "missed", extensions=["101", "102"])
    assert [urllib.parse.urlsplit(d.url).path for d in deliveries if d.ok] == [
        "/hook/telfin/phone",
        "/hook/telfin/phone",
        "/hook/telfin/phone",
        "/hook/telfin-old/phone",  # every subscription of the extension gets it
        "/hook/telfin/phone",
        "/hook/telfin/ivr",
    ]
    assert adapter.unsubscribe_events(hook) == 10
    assert account.subscriptions["101"] == [foreign, older]


def test_the_limit_is_reported_per_refusal(sim, adapter, receiver):
    sim.account("telfin").subscription_limit = 6
    report = adapter.subscribe_events(receiver.hook("telfin"))
    assert (report.created, report.limit, report.used) == (6, 6, 6)
    assert len(report.skipped) == 4 and "Event limit exceeded" in report.skipped[0]


def test_get_deliveries_carry_the_fields_in_the_query(sim, receiver):
    account = sim.account("telfin")
    account.auto_subscribe = True
    account.subscription_method = "GET"
    sim.play("telfin", "answered", answered_by="101")
    methods = {hit[0] for hit in receiver.hits}
    assert methods == {"GET"}
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(receiver.hits[0][1]).query))
    assert (query["EventType"], query["CallFlow"], query["CalledNumber"]) == (
        "dial-in",
        "in",
        "000*101",
    )


def test_expired_token_is_renewed_and_a_revoked_application_refused(sim, adapter):
    assert "4 extensions (2 phones)" in adapter.test_connection()
    sim.advance_clock(7200)  # the token expired on Telfin's side before ours
    assert adapter.list_extensions()
    sim.account("telfin").revoke(application=True)
    telfin._tokens.clear()
    with pytest.raises(AuthError, match="invalid_client") as caught:
        adapter.list_extensions()
    assert caught.value.hint


def test_click_to_call_plays_the_call(sim, adapter, receiver):
    sim.account("telfin").auto_subscribe = True
    result = adapter.originate("101", "84957654321")
    (callback,) = sim.account("telfin").callbacks
    assert callback["request"]["src_num"] == ["000*101"] and callback["call_id"] == result.call_id
    assert sim.wait_background()
    fields = [dict(urllib.parse.parse_qsl(hit[3].decode())) for hit in receiver.posts("telfin")]
    assert {f["CallBackID"] for f in fields} == {result.call_id}
    assert [f["EventType"] for f in fields if f["CallFlow"] == "out"] == [
        "dial-out",
        "answer",
        "hangup",
    ]


def test_recordings_and_history(sim, adapter):
    sim.play("telfin", "answered", record=True, answered_by="101")
    (call,) = sim.calls
    link = adapter.recording_link(call.recording_id)
    with adapter.download(link.url, max_bytes=10**6) as audio:
        assert b"".join(audio.chunks) == sim.recording_bytes(call.recording_id)
    start = call.start - dt.timedelta(minutes=1)
    (history,) = adapter.call_history(start, start + dt.timedelta(hours=1))
    assert (history.call_id, history.extension, history.disposition) == (
        call.call_id,
        "101",
        "answered",
    )
    assert history.recording_ref == call.recording_id
    sim.account("telfin").busy_history(1)
    with pytest.raises(RateLimitError):
        adapter.call_history(start, start + dt.timedelta(hours=1))
