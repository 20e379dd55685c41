"""The simulated UIS alone: what it posts is the account's template with the values put in
as UIS does (checked here with a plain reading of our own, not the adapter's), and its Call
API / Data API answer JSON-RPC as documented."""

import json

import pytest
from simulator_support import Receiver, rest

from vats_simulator import Simulator, UisAccount
from vats_simulator.pbx import uis

SECRET = "sim-secret"


@pytest.fixture
def receiver():
    hooks = Receiver()
    yield hooks
    hooks.close()


@pytest.fixture
def sim(receiver):
    simulator = Simulator(
        uis=UisAccount(receiver.hook("uis"), SECRET, login="u", password="p"),
        auto_play_originate=False,
    ).start()
    yield simulator
    simulator.stop()


def rpc(sim, api, method, **params):
    payload = {"jsonrpc": "2.0", "id": "r1", "method": method, "params": params}
    status, _headers, body = rest(
        f"{sim.api_url('uis')}/{api}",
        method="POST",
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 200
    return json.loads(body)


def token(sim):
    return rpc(sim, "callapi/v4.0", "login.user", login="u", password="p")["result"]["data"][
        "access_token"
    ]


def test_default_templates_are_the_shipped_ones_with_the_secret():
    account = UisAccount("http://x", SECRET)
    shipped_secret, bodies = uis.load_shipped_templates()
    assert set(account.templates) == set(bodies)
    for key, body in account.templates.items():
        assert json.loads(body)["secret"] == SECRET
        assert body == bodies[key].replace(shipped_secret, SECRET)


def test_rendering_like_uis():
    template = '{"a":"{{a}}","n":"{{n}}","e":"{{e}}","u":"{{u}}"}'
    values = {"a": 'say "hi"', "n": 5, "e": ""}
    assert uis.render(template, values) == '{"a":"say "hi"","n":"5","e":"","u":"{{u}}"}'
    assert (
        uis.render(template, values, "json")
        == '{"a":""say \\"hi\\""","n":"5","e":"""","u":"{{u}}"}'
    )
    assert uis.render(template, values, "bare") == '{"a":say "hi","n":5,"e":,"u":{{u}}}'
    assert uis.render(template, values, unfilled=("n",)) == (
        '{"a":"say "hi"","n":"{{n}}","e":"","u":"{{u}}"}'
    )


def test_a_call_as_posted(sim, receiver):
    deliveries = sim.play("uis", "missed", extensions=["101", "102"], did="74951234567")
    assert [d.event_name for d in deliveries] == [
        "call_started",
        "agent_ringing",
        "agent_ringing",
        "ended",
        "missed",
    ]
    bodies = [json.loads(hit[3]) for hit in receiver.posts("uis")]
    assert {b["secret"] for b in bodies} == {SECRET}
    assert len({b["call_session_id"] for b in bodies}) == 1
    assert bodies[1]["employee_id"] == "101" and bodies[2]["employee_id"] == "102"
    assert bodies[3]["talk_time_duration"] == "0"
    assert bodies[3]["finish_reason"] == "no_success_operator_call"
    assert len(bodies[0]["notification_time"]) == len("2026-11-02 10:00:00")


def test_signing_modes(sim, receiver):
    sim.play("uis", "bad_signature")
    sim.play("uis", "unsigned")
    bad, unsigned = (json.loads(hit[3]) for hit in receiver.posts("uis"))
    assert bad["secret"] != SECRET and "secret" not in unsigned


def test_call_api_tokens_and_refusals(sim):
    refused = rpc(sim, "callapi/v4.0", "login.user", login="u", password="no")
    assert refused["error"]["code"] == -32001
    good = token(sim)
    call = rpc(
        sim,
        "callapi/v4.0",
        "start.employee_call",
        access_token=good,
        first_call="employee",
        direction="out",
        virtual_phone_number="74951234567",
        contact="74955404444",
        external_id="c2c-1",
        employee={"id": 101},
    )
    assert isinstance(call["result"]["data"]["call_session_id"], int)
    assert call["result"]["metadata"]["limits"]["day_limit"] == uis.DAY_LIMIT
    assert sim.account("uis").employee_calls[0]["external_id"] == "c2c-1"
    sim.account("uis").expire_tokens()
    expired = rpc(sim, "dataapi/v2.0", "get.employees", access_token=good)
    assert expired["error"]["data"]["mnemonic"] == "access_token_expired"
    sim.account("uis").api_error = -32003
    blocked = rpc(sim, "callapi/v4.0", "login.user", login="u", password="p")
    assert blocked["error"]["data"]["mnemonic"] == "ip_not_whitelisted"


def test_data_api(sim):
    sim.add_history("uis", "answered", answered_by="101", record=True)
    access = token(sim)
    employees = rpc(sim, "dataapi/v2.0", "get.employees", access_token=access, limit=2)
    assert [row["id"] for row in employees["result"]["data"]] == [100, 101]
    report = rpc(
        sim,
        "dataapi/v2.0",
        "get.calls_report",
        access_token=access,
        date_from="2000-01-01 00:00:00",
        date_till="2000-01-02 00:00:00",
    )
    assert report["result"]["data"] == []
    too_long = rpc(
        sim,
        "dataapi/v2.0",
        "get.calls_report",
        access_token=access,
        date_from="2000-01-01 00:00:00",
        date_till="2000-06-01 00:00:00",
    )
    assert too_long["error"]["data"]["mnemonic"] == "date_interval_limit_reached"
    (record,) = sim.calls
    row = uis.Uis._report_row(record, sim.account("uis").tzinfo)
    communication, record_id = record.recording_id.split("/")
    assert (row["communication_id"], row["call_records"]) == (int(communication), [record_id])
    status, headers, audio = rest(
        f"{sim.api_url('uis')}/system/media/talk/{communication}/{record_id}/"
    )
    assert status == 200 and audio == sim.recording_bytes(record.recording_id)
    assert headers["Content-Type"].startswith("audio/")
