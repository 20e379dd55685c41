"""The VATS simulator's core, whatever the PBX: the registry and what every PBX module must
provide, neutral scenarios, the server's dispatch and control endpoint, failure knobs, live
mode and the program. Each PBX's wire format is tested in ``test_simulator_<code>.py``."""

import dataclasses
import json
import pathlib
import signal
import subprocess
import sys
import threading
import time

import pytest
from simulator_support import placeholder_account, placeholder_cli_args, rest

import vats_simulator
from vats_simulator import Simulator, calls, pbx, transport
from vats_simulator.cli import main as cli_main
from vats_simulator.scenarios import SCENARIO_PARAMS, SCENARIOS, build_plan

CODES = pbx.codes()
# The PBXs that post their events as webhooks (a ``stream`` PBX serves them on a socket of
# its own instead: tested in its own file).
WEBHOOK_CODES = tuple(code for code in CODES if pbx.get(code).transport == "webhook")


@pytest.fixture
def sim(receiver):
    """A simulator playing every registered PBX into the receiver (which accepts all)."""
    accounts = {code: placeholder_account(code, receiver.hook(code)) for code in CODES}
    simulator = Simulator(**accounts, recording_size=4096, originate_delay=0.05).start()
    yield simulator
    simulator.stop()


# --- the registry and the hooks -------------------------------------------------------------


def test_registry():
    assert {"zadarma", "generic"} <= set(CODES)
    assert vats_simulator.PROVIDERS == CODES
    assert all(pbx.get(code).code == code for code in CODES)
    with pytest.raises(ValueError, match="unknown PBX"):
        pbx.get("nope")
    for code in CODES:
        module = pbx.get(code)
        owner, route = pbx.owner(module.path_prefix + "/some/route")
        assert (owner, route) == (module, "/some/route")
        # Every account class is exported by its own name.
        assert getattr(vats_simulator, module.Account.__name__) is module.Account
    assert pbx.owner("/generic") == (pbx.get("generic"), "/")
    assert pbx.owner("/genericity")[0] is pbx.get("zadarma")  # only whole path segments
    assert len({pbx.get(code).path_prefix for code in CODES}) == len(CODES)


@pytest.mark.parametrize("code", CODES)
def test_every_pbx_provides_every_hook(code):
    """A PBX module that forgets a hook fails here (and ``register`` refuses it at import)."""
    module = pbx.get(code)
    cls = type(module)
    assert pbx.base.missing_hooks(cls) == []
    for name in pbx.REQUIRED_HOOKS + pbx.OPTIONAL_HOOKS:
        assert hasattr(module, name), name
    for name in ("new_call_id", "new_recording_id", "encode_step", "webhook_request"):
        assert callable(getattr(module, name)), name
    for name in ("event_name", "handle_rest", "error_payload"):
        assert callable(getattr(module, name)), name
    assert isinstance(module.label, str) and module.label
    assert module.path_prefix == "" or (
        module.path_prefix.startswith("/") and not module.path_prefix.endswith("/")
    )
    assert module.missed_disposition in calls.DISPOSITIONS
    assert isinstance(module.malformed_body, bytes)
    # The account: a dataclass with a webhook URL, named by the PBX code.
    assert dataclasses.is_dataclass(module.Account) and module.Account.provider == code
    fields = module.account_fields()
    assert "webhook_url" in fields
    # The command line can build every account: each field without a default has a required
    # option, and every option sets a real field.
    options = module.cli_account_options
    assert {option.field for option in options} <= fields
    required = {
        item.name
        for item in dataclasses.fields(module.Account)
        if item.init
        and item.default is dataclasses.MISSING
        and item.default_factory is dataclasses.MISSING
    }
    assert required == {option.field for option in options if option.required}
    assert all(option.flags and option.flags[0].startswith("--") for option in options)
    # Play options and PBX-specific scenario parameters do not shadow the neutral ones.
    assert not set(module.play_options) & (SCENARIO_PARAMS | module.scenario_params)
    assert not module.scenario_params & SCENARIO_PARAMS
    assert {option.field for option in module.cli_play_options} <= set(module.play_options)
    assert isinstance(module.rate_limits, dict)
    error = module.error_payload("Some failure")
    assert "Some failure" in json.dumps(error)


def test_register_refuses_an_incomplete_pbx():
    class Incomplete(pbx.Pbx):
        label = "Incomplete"
        path_prefix = "/incomplete"

        def new_call_id(self, direction):
            return "x"

    with pytest.raises(TypeError, match="lacks Account, missed_disposition"):
        pbx.register("incomplete")(Incomplete)
    complete = type(pbx.get("generic"))

    class SamePrefix(complete):
        pass

    with pytest.raises(ValueError, match="share the path prefix"):
        pbx.register("same_prefix")(SamePrefix)
    with pytest.raises(ValueError, match="registered twice"):
        pbx.register("generic")(SamePrefix)
    assert pbx.codes() == CODES


# --- neutral scenarios ------------------------------------------------------------------------

S, R, A, E = calls.STARTED, calls.RINGING, calls.ANSWERED, calls.ENDED
OS, OE, REC = calls.OUTGOING_STARTED, calls.OUTGOING_ENDED, calls.RECORDING_READY
EXPECTED_STEPS = {
    "answered": [S, R, A, E],
    "missed": [S, R, E],
    "busy": [S, R, E],
    "transferred": [S, R, A, R, A, E],
    "ring_group_answered_elsewhere": [S, R, R, R, A, E],
    "outgoing": [OS, OE],
    "recording_ready": [REC],
    "duplicates": [S, R, A, E],  # each posted twice
    "out_of_order": [E, A],
    "bad_signature": [S],
    "unsigned": [S],
    "malformed": [],
}
# Scenarios whose call ends with a recording when asked to (``record=True``).
RECORDED_CALLS = {
    "answered",
    "transferred",
    "ring_group_answered_elsewhere",
    "outgoing",
    "duplicates",
}


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("code", CODES)
def test_every_pbx_encodes_every_scenario(code, scenario):
    module = pbx.get(code)
    plan = build_plan(code, scenario, record=True)
    recorded = scenario in RECORDED_CALLS
    assert [step.kind for step in plan.steps] == EXPECTED_STEPS[scenario] + [REC] * recorded
    assert len(plan.events) == max(len(plan.steps) * (2 if scenario == "duplicates" else 1), 1)
    account = placeholder_account(code, "http://127.0.0.1:9/hook")
    options = module.resolve_play_options({})
    for payload in module.webhook_payloads(plan.events, options):
        assert isinstance(module.event_name(payload), str)
        sent = {}
        for signing in ("valid", "bad", "none"):
            body, headers = module.webhook_request(account, payload, signing, options)
            assert isinstance(body, bytes) and isinstance(headers, dict)
            sent[signing] = (body, headers)
        # A signed request carries something an unsigned one does not (a header, or a field
        # of the body), and a wrong secret gives other values; a PBX that signs nothing
        # sends the same request (its authenticity is the URL it posts to).
        if module.signs_webhooks:
            assert sent["valid"] != sent["none"]
            assert sent["valid"] != sent["bad"]
        else:
            assert sent["valid"] == sent["none"] == sent["bad"]
    if scenario in ("answered", "missed", "outgoing"):
        record = plan.calls[0]
        assert (record.provider, record.call_id) == (code, plan.call.call_id)


@pytest.mark.parametrize("scenario", [s for s in SCENARIOS if s != "malformed"])
def test_steps_are_the_same_for_every_pbx(scenario):
    kinds = {
        code: [step.kind for step in build_plan(code, scenario, call_id="c1").steps]
        for code in CODES
    }
    assert all(steps == EXPECTED_STEPS[scenario] for steps in kinds.values()), kinds


def test_step_details():
    steps = build_plan("generic", "transferred", extensions=["201", "202"]).steps
    assert [(s.kind, s.extension) for s in steps] == [
        (S, ""), (R, "201"), (A, "201"), (R, "202"), (A, "202"), (E, "202"),
    ]  # fmt: skip
    assert [s.offset for s in steps] == [0, 1, 7, 28, 31, 49]
    plan = build_plan("generic", "missed", extensions=["101", "102"], disposition="no answer")
    assert plan.steps[-1] == calls.Step(E, 7, "") and plan.call.disposition == "no_answer"
    assert plan.calls[0].extension == "" and plan.calls[0].duration == 0
    for code in CODES:
        default = build_plan(code, "missed").call.disposition
        assert default == pbx.get(code).missed_disposition
    with pytest.raises(TypeError):
        build_plan("generic", "answered", colour="blue")
    with pytest.raises(ValueError):
        build_plan("generic", "nope")
    with pytest.raises(ValueError):
        build_plan("nope", "answered")
    with pytest.raises(ValueError):
        build_plan("generic", "missed", disposition="maybe")
    # A PBX's own scenario parameters are refused by the others.
    for code in CODES:
        for name in pbx.get(code).scenario_params:
            for other in CODES:
                if name not in pbx.get(other).scenario_params:
                    with pytest.raises(TypeError):
                        build_plan(other, "answered", **{name: True})


# --- the simulator ----------------------------------------------------------------------------


def test_accounts_by_pbx_code(sim, receiver):
    assert set(sim.accounts) == set(CODES)
    for code in CODES:
        assert sim.account(code) is sim.accounts[code]
        assert sim.api_url(code) == sim.base_url + pbx.get(code).path_prefix
    with pytest.raises(TypeError, match="unexpected keyword argument 'nope'"):
        Simulator(nope=placeholder_account("generic", "http://x"))
    first, second = CODES[:2]
    with pytest.raises(TypeError, match=f"{first} must be a"):
        Simulator(**{first: placeholder_account(second, "http://x")})
    alone = Simulator(**{first: None, second: placeholder_account(second, "http://x")})
    assert list(alone.accounts) == [second]
    with pytest.raises(ValueError, match=f"no {first} account"):
        alone.play(first, "answered")


@pytest.mark.parametrize("code", WEBHOOK_CODES)
def test_unreachable_webhook_reports_error(code):
    account = placeholder_account(code, "http://127.0.0.1:9/hook")
    simulator = Simulator(**{code: account}, webhook_timeout=1)
    delivery = simulator.play(code, "recording_ready")[0]
    assert delivery.status is None and delivery.error and not delivery.ok
    assert delivery.provider == code and code in repr(delivery)


def posted(code, payloads):
    """What ``code`` posts for ``payloads`` (a PBX may group or spread them), by default."""
    module = pbx.get(code)
    return module.webhook_payloads(payloads, module.resolve_play_options({}))


def test_play_send_and_history(sim, receiver):
    posts = 0
    for code in WEBHOOK_CODES:
        deliveries = sim.play(code, "answered", record=True, event_gap=0.01)
        expected = posted(code, sim.scenario_events(code, "answered", record=True))
        assert [d.status for d in deliveries] == [200] * len(expected)
        assert [d.event_name for d in deliveries] == [pbx.get(code).event_name(e) for e in expected]
        assert all(d.provider == code and d.url.startswith(receiver.hook(code)) for d in deliveries)
        posts += len(deliveries)
        sent = sim.send(code, deliveries[0].event, signing="none")
        assert len(sent) == 1 and sent[0].signing == "none"
        with pytest.raises(ValueError):
            sim.send(code, [], signing="maybe")
        history = sim.add_history(code, "missed")
        assert history[0].provider == code and history[0] in sim.calls
        recording = sim.add_recording(code, call_id="c1")
        assert {"recording_id": recording, "call_id": "c1", "provider": code, "extension": ""} in (
            sim.recordings
        )
    assert len(receiver.posts()) == posts + len(WEBHOOK_CODES)
    assert len(sim.calls) == 2 * len(WEBHOOK_CODES)
    assert sum(1 for r in sim.recordings if r["call_id"] != "c1") == len(WEBHOOK_CODES)
    sim.clear()
    assert not sim.deliveries and sim.calls


def test_failure_knobs_answer_in_each_pbx_format(sim):
    sim.rate_limit_next(len(CODES), retry_after=7)
    sim.fail_next(len(CODES), status=503)
    for code in CODES:
        status, headers, body = rest(sim.api_url(code) + "/anything")
        assert (status, headers["Retry-After"]) == (429, "7")
        assert json.loads(body) == pbx.get(code).error_payload("You exceeded the rate limit")
    for code in CODES:
        status, _headers, body = rest(sim.api_url(code) + "/anything")
        assert status == 503
        assert json.loads(body) == pbx.get(code).error_payload("Simulated failure")
    assert [r.provider for r in sim.requests] == list(CODES) * 2


def test_transport_names():
    account = placeholder_account("generic", "http://x")
    body, headers = transport.webhook_request(account, {"id": "e1"}, "none")
    assert body == b'{"id":"e1"}' and "X-Crm-Voip-Signature" not in headers
    with pytest.raises(TypeError):
        transport.webhook_request(account, {"id": "e1"}, colour="blue")


# --- the control endpoint ---------------------------------------------------------------------


def post_json(url, payload):
    return rest(
        url,
        method="POST",
        headers={"Content-Type": "application/json"},
        body=json.dumps(payload).encode(),
    )


@pytest.mark.parametrize("code", WEBHOOK_CODES)
def test_control_endpoint_under_every_pbx_base_url(sim, receiver, code):
    """``<PBX base URL>/_simulator/play`` answers 202 at once, then posts the scenario's
    webhooks; the PBX is the one whose base URL was called unless the body names one."""
    params = {"caller": "79161234567"}
    status, _h, body = post_json(
        sim.api_url(code) + "/_simulator/play", {"scenario": "missed", "params": params}
    )
    assert status == 202
    call_id = json.loads(body)["call_id"]
    assert sim.wait_background()
    assert sim.deliveries and all(d.ok and d.provider == code for d in sim.deliveries)
    assert [call.call_id for call in sim.calls] == [call_id]
    assert sim.requests[-1].provider == "control"
    other = next(c for c in WEBHOOK_CODES if c != code)
    status, _h, body = post_json(
        sim.api_url(code) + "/_simulator/play", {"provider": other, "scenario": "answered"}
    )
    assert status == 202 and sim.wait_background()
    assert sim.calls[-1].provider == other and sim.calls[-1].call_id == json.loads(body)["call_id"]


def test_control_endpoint_refusals(sim):
    url = sim.base_url + "/_simulator/play"
    assert post_json(url, {"provider": "generic", "scenario": "nope"})[0] == 400
    assert post_json(url, {"provider": "generic", "scenario": "malformed"})[0] == 400
    assert post_json(url, {"provider": "nope", "scenario": "answered"})[0] == 400
    bad_params = {"provider": "generic", "params": {"colour": "blue"}}
    assert post_json(url, bad_params)[0] == 400
    not_an_object = rest(
        url, method="POST", body=b"[]", headers={"Content-Type": "application/json"}
    )
    assert not_an_object[0] == 400
    assert rest(url)[0] == 404  # GET
    assert not sim.deliveries
    only = Simulator(generic=sim.accounts["generic"]).start()
    try:
        status, _h, body = post_json(only.base_url + "/_simulator/play", {"provider": "zadarma"})
        assert status == 400 and "no 'zadarma' account" in body.decode()
    finally:
        only.stop()


# --- live mode and the program ----------------------------------------------------------------


@pytest.mark.parametrize("code", CODES)
def test_live_mode(sim, receiver, code):
    played = sim.run_live(code, interval=0, max_calls=6, seed=7, extensions=["100", "101"])
    assert len(played) == 6 and all(call.ok for call in played)
    assert {call.scenario for call in played} <= {s for s, _w in vats_simulator.LIVE_MIX}
    assert len(sim.calls) == 6
    assert [c.call_id for c in sim.calls] == [c.params["call_id"] for c in played]
    again = Simulator(**{code: sim.accounts[code]}).run_live(
        code, interval=0, max_calls=6, seed=7, extensions=["100", "101"]
    )
    assert [c.scenario for c in again] == [c.scenario for c in played]
    stop = threading.Event()
    worker = threading.Thread(
        target=sim.run_live, args=(code,), kwargs={"interval": 0.01, "stop_event": stop}
    )
    worker.start()
    time.sleep(0.15)
    stop.set()
    worker.join(timeout=2)
    assert not worker.is_alive()


@pytest.mark.parametrize("code", WEBHOOK_CODES)
def test_program(receiver, capsys, code):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(["--help"])
    assert exit_info.value.code == 0
    shown = capsys.readouterr().out
    assert all(option.flags[0] in shown for option in pbx.get(code).cli_account_options)
    args = [*placeholder_cli_args(code, receiver.hook(code)), "--log-level", "WARNING"]
    assert cli_main([*args, "--scenario", "answered", "--record"]) == 0
    lines = capsys.readouterr().out.splitlines()
    events = posted(code, vats_simulator.scenario_events(code, "answered", record=True))
    names = [pbx.get(code).event_name(e) for e in events]
    assert [line.split("\t")[0] for line in lines] == ["200"] * len(names)
    assert [line.split("\t")[1] for line in lines] == names
    assert cli_main([*args, "--live", code, "--interval", "0", "--max-calls", "2"]) == 0
    assert len(receiver.posts(code)) >= 7
    with pytest.raises(SystemExit):
        cli_main(args[:2])  # part of an account
    with pytest.raises(SystemExit):
        cli_main(["--log-level", "WARNING"])  # no account


def test_program_needs_a_provider_with_two_accounts(receiver):
    args = []
    for code in CODES:
        args += placeholder_cli_args(code, receiver.hook(code))
    with pytest.raises(SystemExit):
        cli_main([*args, "--scenario", "answered"])
    first = WEBHOOK_CODES[0]
    assert cli_main([*args, "--scenario", "recording_ready", "--provider", first]) == 0
    assert [hit[1] for hit in receiver.posts()] == [f"/hook/{first}"]


def test_program_stops_cleanly_on_sigterm():
    command = [sys.executable, "-m", "vats_simulator", "--port", "0"]
    command += placeholder_cli_args(CODES[0], "http://127.0.0.1:9/x")
    root = pathlib.Path(__file__).resolve().parents[1]
    process = subprocess.Popen(command, cwd=root, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 5
        line = ""
        while "serving until" not in line and time.monotonic() < deadline:
            line = process.stderr.readline()
        assert "serving until" in line
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
        assert "stopped" in process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
