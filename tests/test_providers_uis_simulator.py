"""The UIS adapter against the simulated UIS over real HTTP on loopback: the templates the
form shows, pasted into UIS and rendered by it, read back right; what Odoo asks UIS
(click-to-call, employees, recordings, call history) reaches its Call API and Data API with
a valid token. No transport is patched here."""

import dataclasses
import datetime as dt

import pytest
from voip_providers import events as ev
from voip_providers import uis
from voip_providers.errors import AuthError, MalformedEventError, PermanentError, SignatureError
from voip_providers.events import WebhookRequest
from voip_providers.uis import UisAdapter

from vats_simulator import Simulator, UisAccount

SECRET = "n0t1f1cat10n-secret"
START = dt.datetime(2026, 11, 2, 7, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(autouse=True)
def _fresh_tokens():
    uis.forget_tokens()
    yield
    uis.forget_tokens()


@pytest.fixture
def receiver():
    """A webhook receiver that feeds every post to the adapter, as the controller does."""
    from voip_test_local_http import LocalServer

    got = {"events": [], "refused": []}
    adapter = UisAdapter({"notification_secret": SECRET, "timezone": "Europe/Moscow"})

    def respond(request):
        webhook = WebhookRequest(
            method=request["method"],
            url=request["path"],
            headers=request["headers"],
            body=request["body"],
            remote_addr="127.0.0.1",
        )
        try:
            adapter.verify(webhook)
            got["events"].extend(adapter.parse(webhook))
        except (SignatureError, MalformedEventError) as error:
            got["refused"].append(error)
            return error.status, {}, error.reason.encode()
        return 200, {}, b"ok"

    with LocalServer(respond) as server:
        got["url"] = server.url + "/crm_voip/webhook/token"
        got["adapter"] = adapter
        yield got


def start_sim(receiver, **account):
    templates = {
        item.key: item.body for item in receiver["adapter"].notification_templates(receiver["url"])
    }
    values = {"login": "api-user", "password": "api-password", **account}
    return Simulator(
        uis=UisAccount(receiver["url"], SECRET, templates=templates, **values),
        extensions={"101": "Anna Petrova", "102": "Boris Ivanov"},
        auto_play_originate=False,
    ).start()


@pytest.fixture
def sim(receiver):
    simulator = start_sim(receiver)
    yield simulator
    simulator.stop()


def api_adapter(sim, **config):
    values = {
        "login": "api-user",
        "password": "api-password",
        "virtual_number": "74951234567",
        "base_url": sim.api_url("uis"),
        "timezone": "Europe/Moscow",
        **config,
    }
    return UisAdapter(values)


@pytest.mark.parametrize("rendering", ["raw", "json", "bare"])
def test_shipped_templates_rendered_by_uis_read_back(sim, receiver, rendering):
    deliveries = sim.play(
        "uis", "answered", call_start=START, answered_by="101", rendering=rendering
    )
    assert {d.status for d in deliveries} == {200}, [d.text for d in deliveries]
    kinds = [(e.kind, e.extension, e.direction) for e in receiver["events"]]
    assert kinds == [
        (ev.CALL_STARTED, "", ev.INBOUND),
        (ev.AGENT_RINGING, "101", ev.INBOUND),
        (ev.ANSWERED, "101", ev.INBOUND),
        (ev.ENDED, "101", ev.INBOUND),
    ]
    started, *_rest, ended = receiver["events"]
    assert started.occurred_at == START
    assert (started.from_number, started.did) == ("79161234567", "74951234567")
    assert (ended.disposition, ended.duration) == ("answered", 42)
    assert ended.occurred_at == START + dt.timedelta(seconds=49)


def test_placeholders_left_unfilled_and_a_lost_call(sim, receiver):
    deliveries = sim.play(
        "uis", "busy", extensions=["102"], unfilled=("notification_time", "direction")
    )
    assert {d.status for d in deliveries} == {200}
    ends = [e for e in receiver["events"] if e.kind == ev.MISSED]
    assert [e.provider_event for e in ends] == ["ended", "missed"]
    assert {e.disposition for e in ends} == {"busy"}
    assert len({e.event_key for e in ends}) == 2


def test_wrong_or_missing_secret_is_refused(sim, receiver):
    for scenario in ("bad_signature", "unsigned"):
        (delivery,) = sim.play("uis", scenario)
        assert delivery.status == 403
    (delivery,) = sim.play("uis", "malformed")
    assert delivery.status == 400
    assert not receiver["events"]


def test_click_to_call_with_a_login_token(sim, receiver):
    adapter = api_adapter(sim)
    result = adapter.originate("101", "+7 (495) 540-44-44", request_ref="c2c-abc")
    (asked,) = sim.account("uis").employee_calls
    assert asked["external_id"] == "c2c-abc"
    assert (asked["first_call"], asked["direction"], asked["employee"]) == (
        "employee",
        "out",
        {"id": 101},
    )
    assert (asked["contact"], asked["virtual_phone_number"]) == ("74955404444", "74951234567")
    assert result.call_id.isdigit()
    # The token is cached: a second call does not log in again.
    adapter.originate("102", "74955404444")
    logins = [r for r in sim.requests if (r.json or {}).get("method") == "login.user"]
    assert len(logins) == 1


def test_click_to_call_notifications_carry_odoo_id(receiver):
    simulator = start_sim(receiver)
    simulator.auto_play_originate, simulator.originate_delay = True, 0.01
    try:
        api_adapter(simulator).originate("101", "74955404444", request_ref="c2c-xyz")
        assert simulator.wait_background()
    finally:
        simulator.stop()
    events = receiver["events"]
    assert [e.kind for e in events] == [ev.OUTGOING_STARTED, ev.ENDED]
    assert {e.origin_ref for e in events} == {"c2c-xyz"}
    assert events[0].extension == "101" and events[0].to_number == "74955404444"


def test_expired_token_is_renewed_once(sim):
    adapter = api_adapter(sim)
    adapter.list_extensions()
    sim.account("uis").expire_tokens()
    assert [e.extension for e in adapter.list_extensions()] == ["101", "102"]
    logins = [r for r in sim.requests if (r.json or {}).get("method") == "login.user"]
    assert len(logins) == 2


def test_refusals_explained(sim):
    with pytest.raises(AuthError, match="auth_error") as refused:
        api_adapter(sim, password="wrong").list_extensions()
    assert "login and password" in refused.value.hint
    sim.account("uis").api_error = uis.IP_NOT_WHITELISTED
    with pytest.raises(AuthError, match="ip_not_whitelisted") as refused:
        api_adapter(sim).originate("101", "74955404444")
    assert "Rules and security settings > API" in refused.value.hint
    sim.account("uis").api_error = None
    with pytest.raises(PermanentError, match="employee_not_found"):
        api_adapter(sim).originate("999", "74955404444")


def test_employees_and_connection(sim):
    adapter = api_adapter(sim, login="", password="", access_key="perm-key")
    sim.account("uis").access_key = "perm-key"
    extensions = adapter.list_extensions()
    assert [dataclasses.astuple(e) for e in extensions] == [
        ("101", "Anna Petrova", "anna.petrova@example.com"),
        ("102", "Boris Ivanov", "boris.ivanov@example.com"),
    ]
    assert adapter.test_connection().startswith("Connected to UIS (uiscom.ru), ")


def test_recording_from_the_notification_and_from_the_data_api(sim, receiver):
    sim.play("uis", "answered", call_start=START, record=True)
    (ready,) = [e for e in receiver["events"] if e.kind == ev.RECORDING_READY]
    (recording_id,) = [item["recording_id"] for item in sim.recordings]
    assert ready.recording_ref == recording_id
    adapter = api_adapter(sim)
    for ref in (ready.recording_ref, adapter.whole_call_ref(ready.provider_call_id)):
        link = adapter.recording_link(ref)
        with adapter.download(link.url, max_bytes=10**7) as download:
            assert b"".join(download.chunks) == sim.recording_bytes(recording_id)
    receiver["events"].clear()
    sim.play("uis", "recording_ready", file_link="missing")
    (ready,) = receiver["events"]
    assert ready.recording_ref == f"session:{ready.provider_call_id}"


def test_call_history(sim):
    sim.add_history("uis", "answered", call_start=START, answered_by="101", record=True)
    sim.add_history("uis", "busy", call_start=START + dt.timedelta(days=40), extensions=["102"])
    sim.add_history("uis", "outgoing", call_start=START + dt.timedelta(hours=1), extension="102")
    adapter = api_adapter(sim)
    calls = adapter.call_history(START - dt.timedelta(days=1), START + dt.timedelta(days=45))
    assert [(c.direction, c.disposition, c.extension, c.duration) for c in calls] == [
        (ev.INBOUND, "answered", "101", 42),
        (ev.OUTBOUND, "answered", "102", 42),
        (ev.INBOUND, "busy", "", 0),
    ]
    assert calls[0].started_at == START and calls[0].recording_ref.count("/") == 1
    reports = [r for r in sim.requests if (r.json or {}).get("method") == "get.calls_report"]
    assert len(reports) == 2  # a month each
