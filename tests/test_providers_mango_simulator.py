"""The Mango adapter against the simulated Mango over real HTTP on loopback: what Odoo asks
Mango (click-to-call, employees, recordings, call history) reaches it signed as Mango
checks, and Mango's answers read right. No transport is patched here."""

import datetime as dt

import pytest
from voip_providers import events as ev
from voip_providers import mango
from voip_providers.errors import AuthError, PermanentError
from voip_providers.mango import MangoAdapter

from vats_simulator import MangoAccount, Simulator

KEY, SALT = "adapter-key", "adapter-salt"
START = dt.datetime(2026, 11, 2, 7, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def sim():
    account = MangoAccount(
        "http://127.0.0.1:9/unused", KEY, SALT, emails={"101": "anna@example.com"}
    )
    # No poll interval: the adapter's own 5 s pause is skipped below.
    account.stats_poll_interval = 0
    simulator = Simulator(
        mango=account, extensions={"101": "Anna", "102": "Boris"}, auto_play_originate=False
    ).start()
    yield simulator
    simulator.stop()


@pytest.fixture
def adapter(sim):
    instance = MangoAdapter({"api_key": KEY, "api_salt": SALT, "base_url": sim.api_url("mango")})
    yield instance
    instance.close()


def test_click_to_call_reaches_mango_signed(sim, adapter):
    adapter.originate("101", "+7 (495) 540-44-44", request_ref="c2c-abc")
    (command,) = sim.account("mango").commands
    assert command["command_id"] == "c2c-abc"
    assert (command["extension"], command["to_number"], command["result"]) == (
        "101",
        "74955404444",
        1000,
    )


def test_wrong_salt_is_refused(sim):
    wrong = MangoAdapter({"api_key": KEY, "api_salt": "other", "base_url": sim.api_url("mango")})
    with pytest.raises(AuthError, match="3102"):
        wrong.originate("101", "74955404444")


def test_employees_with_their_email(adapter):
    extensions = adapter.list_extensions()
    assert [(item.extension, item.name) for item in extensions] == [
        ("101", "Anna"),
        ("102", "Boris"),
    ]
    assert extensions[0].email == "anna@example.com"
    assert adapter.test_connection() == "Connected to Mango Office, 2 employees with an extension"


def test_recording_through_the_one_time_link(sim, adapter):
    sim.play("mango", "answered", call_start=START, record=True)
    [recording_id] = [item["recording_id"] for item in sim.recordings]
    link = adapter.recording_link(recording_id)
    with adapter.download(link.url, max_bytes=10**7) as download:
        audio = b"".join(download.chunks)
    assert download.mimetype == "audio/mpeg"
    assert audio == sim.recording_bytes(recording_id)
    with pytest.raises(PermanentError):  # used once: gone
        adapter.download(link.url, max_bytes=10**7)


def test_call_history(sim, adapter, monkeypatch):
    monkeypatch.setattr(mango.time, "sleep", lambda _seconds: None)
    sim.play("mango", "answered", call_start=START, caller="74955404444", record=True)
    sim.play("mango", "missed", call_start=START + dt.timedelta(hours=1))
    calls = adapter.call_history(START - dt.timedelta(minutes=1), START + dt.timedelta(days=1))
    answered, missed = sorted(calls, key=lambda call: call.started_at)
    assert (answered.direction, answered.disposition, answered.from_number) == (
        ev.INBOUND,
        "answered",
        "74955404444",
    )
    assert answered.started_at == START and answered.recording_ref
    assert (missed.disposition, missed.duration) == ("no_answer", 0)
