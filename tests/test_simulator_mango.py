"""The simulated Mango Office VPBX API against the vendor's test vectors and a tiny receiver.

The reference signing and JSON encoding below are written again here, differently from
``vats_simulator/pbx/mango.py``, so that a mistake in the simulator cannot pass by agreeing
with itself. Protocol: the Mango section of the protocol notes (VPBX API v1.10).
"""

import datetime as dt
import hashlib
import json
import pathlib
import urllib.parse

import pytest

from vats_simulator import MangoAccount, Simulator, scenario_events
from vats_simulator.cli import main as cli_main
from vats_simulator.pbx.mango import envelope, php_json, sign
from vats_simulator.transport import http_request

KEY, SALT = "test-key-4f1c", "test-salt-9a2e"
FORM = "application/x-www-form-urlencoded"
ENTRY = "MjY4Nzg2ODQwMTo4MQ=="  # the vendor's example entry_id
# 2017-02-28 09:03:53 UTC, the vendor's DTMF walkthrough.
DOC_START = dt.datetime.fromtimestamp(1488272633, dt.timezone.utc)

# --- independent references -----------------------------------------------------------------


def ref_sign(key, text, salt):
    digest = hashlib.sha256()
    for part in (key, text, salt):
        digest.update(part if isinstance(part, bytes) else part.encode("utf-8"))
    return digest.hexdigest()


def ref_php_json(value):
    """PHP ``json_encode``: compact, ``\\/``, ``\\uXXXX`` (UTF-16 units) for non-ASCII."""
    out = []
    for char in json.dumps(value, ensure_ascii=False, separators=(",", ":")):
        if char == "/":
            out.append("\\/")
        elif ord(char) < 0x80:
            out.append(char)
        else:
            units = char.encode("utf-16-be")
            for i in range(0, len(units), 2):
                out.append(f"\\u{int.from_bytes(units[i : i + 2], 'big'):04x}")
    return "".join(out)


def form_of(body):
    return urllib.parse.parse_qsl(body.decode("ascii"), keep_blank_values=True)


def ref_receive(headers, body):
    """A well-behaved Mango endpoint (``Receiver.verifiers``): the key, then the sign over the
    raw json field, then the JSON."""
    # latin-1 keeps every byte of the json field as it was sent: the sign covers those.
    fields = dict(urllib.parse.parse_qsl(body.decode("ascii"), encoding="latin-1"))
    raw_json = fields.get("json", "").encode("latin-1")
    if fields.get("vpbx_api_key") != KEY:
        return 403, {"success": False, "error": "key"}
    if fields.get("sign") != ref_sign(KEY, raw_json, SALT):
        return 403, {"success": False, "error": "sign"}
    try:
        json.loads(raw_json.decode("utf-8"))
    except ValueError:
        return 400, {"success": False, "error": "json"}
    return 200, {"success": True}


@pytest.fixture
def receiver(receiver):
    receiver.verifiers["mango"] = ref_receive
    return receiver


@pytest.fixture
def sim(receiver):
    simulator = Simulator(
        mango=MangoAccount(receiver.hook("mango"), KEY, SALT),
        recording_size=4096,
        originate_delay=0.05,
    ).start()
    yield simulator
    simulator.stop()


def posts(receiver):
    """``(suffix, form pairs, parsed json)`` of every Mango post received."""
    found = []
    for _method, path, _headers, body in receiver.posts("mango"):
        pairs = form_of(body)
        found.append((path.removeprefix("/hook/mango/"), pairs, json.loads(dict(pairs)["json"])))
    return found


def mango_post(sim, command, data, key=KEY, salt=SALT, signature=None, method="POST", **kw):
    text = data if isinstance(data, str) else ref_php_json(data)
    fields = {"vpbx_api_key": key, "sign": signature or ref_sign(key, text, salt), "json": text}
    body = urllib.parse.urlencode(fields).encode() if method == "POST" else None
    url = f"{sim.api_url('mango')}/vpbx/{command}"
    status, answer, headers, error, _elapsed = http_request(
        method, url, body, {"Content-Type": FORM}, timeout=kw.get("timeout", 5)
    )
    return status, headers, answer


# --- vectors --------------------------------------------------------------------------------

# The vendor's PHP examples and a summary signed with KEY123 / SALT456.
VECTORS = json.loads(
    (pathlib.Path(__file__).parent / "fixtures/mango/sign_vectors.json").read_text()
)
VENDOR = VECTORS["vendor"]
VENDOR_VECTORS = [(vector["json"], vector["sign"]) for vector in VENDOR["vectors"]]
CONSTRUCTED_SUMMARY = VECTORS["constructed_summary"]["json"]
CONSTRUCTED_SIGN = VECTORS["constructed_summary"]["sign"]


@pytest.mark.parametrize("text, expected", VENDOR_VECTORS)
def test_vendor_sign_vectors(text, expected):
    assert sign("<YOUR_API_KEY>", text, "<YOUR_API_SALT>") == expected
    assert ref_sign("<YOUR_API_KEY>", text, "<YOUR_API_SALT>") == expected
    # The simulator writes the same bytes as PHP for the same data.
    assert php_json(json.loads(text)) == text


def test_constructed_summary_vector_on_the_wire(receiver):
    account = MangoAccount(receiver.hook("mango"), "KEY123", "SALT456")
    simulator = Simulator(mango=account)
    assert sign("KEY123", CONSTRUCTED_SUMMARY, "SALT456") == CONSTRUCTED_SIGN
    raw = simulator.send("mango", envelope("events/summary", CONSTRUCTED_SUMMARY))[0]
    as_dict = simulator.send("mango", json.loads(CONSTRUCTED_SUMMARY))[0]  # path from fields
    for delivery in (raw, as_dict):
        assert delivery.url == receiver.hook("mango") + "/events/summary"
        assert form_of(delivery.request_body) == [
            ("vpbx_api_key", "KEY123"),
            ("sign", CONSTRUCTED_SIGN),
            ("json", CONSTRUCTED_SUMMARY),
        ]
        assert delivery.request_headers["Content-Type"] == FORM
    assert raw.event_name == "events/summary"


def test_php_json_escaping():
    value = {"name": "Иван Петров", "number": "sip:user@x.mangosip.ru/a", "note": "😀 <&>'"}
    text = php_json(value)
    assert text == ref_php_json(value) and text.isascii()
    assert '"\\u0418\\u0432\\u0430\\u043d ' in text and "x.mangosip.ru\\/a" in text
    assert "\\ud83d\\ude00 <&>'" in text
    assert json.loads(text) == value


# --- webhooks on the wire -------------------------------------------------------------------


def test_answered_call_on_the_wire(sim, receiver):
    deliveries = sim.play(
        "mango",
        "answered",
        call_id=ENTRY,
        caller="74955404444",
        did="74952150438",
        extensions=["101"],
        talk_seconds=100,
        record=True,
        call_start=DOC_START,
    )
    assert all(d.status == 200 for d in deliveries) and deliveries[0].json() == {"success": True}
    seen = posts(receiver)
    states = [
        (path, data.get("call_state") or data.get("recording_state")) for path, _f, data in seen
    ]
    assert states == [
        ("events/call", "Appeared"),
        ("events/call", "Appeared"),
        ("events/call", "Disconnected"),
        ("events/call", "Connected"),
        ("events/recording", "Started"),
        ("events/call", "Disconnected"),
        ("events/summary", None),
        ("events/recording", "Completed"),
    ]  # fmt: skip
    # The first post, byte for byte (the vendor's example event of an incoming call).
    ivr_json = (
        '{"entry_id":"MjY4Nzg2ODQwMTo4MQ==","call_id":"MToyNjg3ODY4NDAxOjgxOjE=",'
        '"timestamp":1488272633,"seq":1,"call_state":"Appeared","location":"ivr",'
        '"from":{"number":"74955404444"},'
        '"to":{"number":"74952150438","line_number":"74952150438"}}'
    )
    first = receiver.posts("mango")[0]
    assert first[1] == "/hook/mango/events/call"
    assert (
        first[3]
        == (
            f"vpbx_api_key={KEY}&sign={ref_sign(KEY, ivr_json, SALT)}&json="
            + urllib.parse.quote_plus(ivr_json)
        ).encode()
    )
    # Every leg's seq grows by one in posting order; one entry_id for the whole call.
    by_leg = {}
    for path, _fields, data in seen:
        assert data["entry_id"] == ENTRY
        if path == "events/call":
            by_leg.setdefault(data["call_id"], []).append(int(data["seq"]))
    assert list(by_leg.values()) == [[1, 2], [1, 2, 3]]
    ivr, agent = list(by_leg)
    # The vendor's examples write seq and timestamp as numbers and as strings: so does this.
    assert {type(data["seq"]) for path, _f, data in seen if path == "events/call"} == {int, str}
    calls = [data for path, _f, data in seen if path == "events/call"]
    assert calls[1]["from"] == {"number": "74955404444", "taken_from_call_id": ivr}
    assert calls[1]["to"] == {
        "extension": "101",
        "number": "sip:user101@vpbx400123456.mangosip.ru",
        "line_number": "74952150438",
    }
    assert calls[2]["disconnect_reason"] == 1100 and "disconnect_reason" not in calls[3]
    assert calls[4]["disconnect_reason"] == "1100" and calls[4]["timestamp"] == "1488272740"
    summary = seen[6][2]
    assert seen[6][1][2][1] == (
        '{"entry_id":"MjY4Nzg2ODQwMTo4MQ==","call_direction":1,"from":{"number":"74955404444"},'
        '"to":{"extension":"101","number":"sip:user101@vpbx400123456.mangosip.ru"},'
        '"line_number":"74952150438","create_time":1488272633,"forward_time":1488272634,'
        '"talk_time":1488272640,"end_time":1488272740,"entry_result":1,"disconnect_reason":1100}'
    )
    assert summary["entry_result"] == 1
    started, completed = seen[4][2], seen[7][2]
    assert started["recording_id"] == completed["recording_id"] == sim.recordings[0]["recording_id"]
    assert (started["call_id"], started["extension"], started["seq"]) == (agent, "101", 1)
    assert (completed["completion_code"], completed["recipient"], completed["seq"]) == (
        1000,
        "Cloud",
        2,
    )
    assert isinstance(completed["timestamp"], str)
    assert [d.event_name for d in deliveries][:2] == ["events/call Appeared"] * 2


def test_ring_group_nobody_answers(sim, receiver):
    sim.play("mango", "missed", extensions=["101", "102"], call_id=ENTRY, call_start=DOC_START)
    seen = [data for _path, _f, data in posts(receiver)]
    agents = [d for d in seen if d.get("location") == "abonent"]
    assert [(d["to"]["extension"], d["call_state"]) for d in agents] == [
        ("101", "Appeared"), ("102", "Appeared"), ("101", "Disconnected"),
        ("102", "Disconnected"),
    ]  # fmt: skip
    assert [int(d["disconnect_reason"]) for d in agents[2:]] == [1111, 1111]
    summary = seen[-1]
    assert (summary["entry_result"], summary["talk_time"], summary["disconnect_reason"]) == (
        0,
        0,
        1111,
    )
    assert summary["to"]["extension"] == "101"  # the first party it was forwarded to
    assert sim.calls[0].disposition == "no_answer"


def test_transfer_busy_and_outgoing(sim, receiver):
    events = scenario_events("mango", "transferred", extensions=["101", "102"], record=True)
    flat = [post["json"] for step in events for post in step["posts"]]
    first_leg = next(d for d in flat if d.get("to", {}).get("extension") == "101")["call_id"]
    states = [(d.get("call_state"), d.get("to", {}).get("extension")) for d in flat]
    assert ("OnHold", "101") in states
    second = next(d for d in flat if d.get("to", {}).get("extension") == "102")
    assert second["from"]["taken_from_call_id"] == first_leg
    assert [d["recording_state"] for d in flat if "recording_state" in d] == [
        "Started",
        "Continued",
        "Completed",
    ]
    busy = [p["json"] for s in scenario_events("mango", "busy") for p in s["posts"]]
    assert busy[-2]["disconnect_reason"] in (1121, "1121") and busy[-1]["entry_result"] == 0
    out = [
        p["json"] for s in scenario_events("mango", "outgoing", extension="101") for p in s["posts"]
    ]
    assert out[0]["from"]["extension"] == "101" and out[0]["seq"] == "1"  # the doc's strings
    assert out[-1]["call_direction"] == 2 and out[-1]["forward_time"] == out[-1]["create_time"]
    internal = scenario_events("mango", "outgoing", extension="101", number="102")[-1]
    assert internal["posts"][-1]["json"]["call_direction"] == 0
    typed = scenario_events("mango", "answered", number_types="int", disconnect_reason=1120)
    flat = [p["json"] for s in typed for p in s["posts"]]
    assert all(isinstance(d.get("seq", 0), int) for d in flat)
    assert flat[-1]["disconnect_reason"] == 1120
    with pytest.raises(ValueError):
        scenario_events("mango", "answered", number_types="float")


def test_order_duplicates_shuffle_and_signing(sim, receiver):
    late = sim.play("mango", "out_of_order")
    assert [d.event_name for d in late] == [
        "events/call Disconnected",
        "events/summary",
        "events/call Connected",
    ]
    assert [int(d.event["json"]["seq"]) for d in late if "seq" in d.event["json"]] == [3, 2]
    twice = sim.play("mango", "duplicates", base="missed")
    assert len(twice) % 2 == 0 and twice[0].request_body == twice[1].request_body
    plain = sim.play("mango", "answered", call_id=ENTRY, call_start=DOC_START)
    shuffled = sim.play("mango", "answered", call_id=ENTRY, call_start=DOC_START, shuffle=3)
    assert sorted(d.request_body for d in plain) == sorted(d.request_body for d in shuffled)
    assert [d.request_body for d in plain] != [d.request_body for d in shuffled]
    assert all(d.ok for d in late + twice + plain + shuffled)
    assert [d.status for d in sim.play("mango", "bad_signature")] == [403]
    unsigned = sim.play("mango", "unsigned")[0]
    assert unsigned.status == 403 and "sign" not in dict(form_of(unsigned.request_body))
    broken = sim.play("mango", "malformed")[0]
    assert broken.status == 400 and broken.url.endswith("/events/call")
    with pytest.raises(TypeError):
        sim.play("mango", "answered", multipart=True)


# --- the REST API ---------------------------------------------------------------------------


def test_rest_refusals(sim):
    users = {}
    status, _h, body = mango_post(sim, "config/users/request", users, salt="wrong")
    assert (status, body) == (420, b'{"code":3102}')
    assert mango_post(sim, "config/users/request", users, key="other")[2] == b'{"code":3105}'
    assert mango_post(sim, "config/users/request", "{not json")[2] == b'{"code":3104}'
    assert mango_post(sim, "config/users/request", users, method="GET")[2] == b'{"code":3101}'
    url = sim.api_url("mango") + "/vpbx/config/users/request"
    missing = http_request("POST", url, b"vpbx_api_key=" + KEY.encode(), {"Content-Type": FORM})
    assert (missing[0], missing[1]) == (420, b'{"code":3103}')
    assert mango_post(sim, "commands/nothing", users)[:3:2] == (404, b'{"code":4001}')
    assert [r.auth_ok for r in sim.requests] == [False, False, True, False, False, True]
    assert "sign mismatch" in sim.requests[0].auth_error


def test_callback_accepted(sim, receiver):
    command = {"command_id": "cmd-1", "from": {"extension": "101"}, "to_number": "79990001122"}
    status, headers, body = mango_post(sim, "commands/callback", command)
    assert (status, body) == (200, b'{"result":1000}')
    assert headers["Content-Type"] == "application/json"
    assert sim.wait_background(timeout=3)
    seen = posts(receiver)
    assert seen[0][0] == "result/callback"
    assert seen[0][1][2] == ("json", '{"command_id":"cmd-1","result":"1000"}')
    legs = [data for path, _f, data in seen if path == "events/call"]
    assert all(d["command_id"] == "cmd-1" for d in legs)
    first, second = legs[0]["call_id"], legs[2]["call_id"]
    assert legs[0]["to"]["extension"] == "101" and legs[0]["call_state"] == "Appeared"
    assert legs[2]["from"]["taken_from_call_id"] == first
    assert legs[2]["to"]["number"] == "79990001122" and legs[3]["call_id"] == first
    assert int(legs[3]["disconnect_reason"]) == 1000
    assert legs[-1]["call_id"] == second and legs[-1]["call_state"] == "Disconnected"
    summary = seen[-1][2]
    assert seen[-1][0] == "events/summary" and summary["call_direction"] == 2
    assert summary["entry_id"] == legs[0]["entry_id"] == sim.calls[-1].call_id
    assert sim.accounts["mango"].commands[0]["result"] == 1000


def test_callback_refused(receiver):
    account = MangoAccount(receiver.hook("mango"), KEY, SALT, command_results={"79990000000": 2101})
    with Simulator(mango=account, originate_delay=0.01) as simulator:
        for to_number, ext in (("79990000000", "101"), ("79990001122", "999"), ("abc", "101")):
            command = {"command_id": f"c-{to_number}", "from": {"extension": ext}}
            command["to_number"] = to_number
            assert mango_post(simulator, "commands/callback", command)[0] == 200
        assert simulator.wait_background(timeout=3)
        missing = {"command_id": "c", "from": {"extension": "101"}}
        assert mango_post(simulator, "commands/callback", missing)[2] == b'{"code":3103}'
    seen = posts(receiver)
    assert {path for path, _f, _d in seen} == {"result/callback"}
    assert sorted(data["result"] for _p, _f, data in seen) == ["2101", "3100", "3100"]
    assert not simulator.calls


def test_route(sim, receiver):
    deliveries = sim.play("mango", "answered", wait_in_ivr=True, call_id=ENTRY)
    assert [d.event_name for d in deliveries] == ["events/call Appeared"]
    ivr = deliveries[0].event["json"]["call_id"]
    command = {"command_id": "route-1", "call_id": ivr, "to_number": "102"}
    assert mango_post(sim, "commands/route", command)[:3:2] == (200, b'{"result":1000}')
    assert sim.wait_background(timeout=3)
    seen = posts(receiver)[1:]
    assert seen[0][0] == "result/route"
    assert seen[0][2] == {"command_id": "route-1", "result": 1000}
    calls = [data for path, _f, data in seen if path == "events/call"]
    assert calls[0]["call_state"] == "Appeared" and calls[0]["to"]["extension"] == "102"
    assert calls[0]["from"] == {"number": "79161234567", "taken_from_call_id": ivr}
    assert (calls[1]["call_id"], calls[1]["seq"], calls[1]["disconnect_reason"]) == (ivr, 2, 1181)
    assert [d["call_state"] for d in calls[2:]] == ["Connected", "Disconnected"]
    assert seen[-1][0] == "events/summary" and seen[-1][2]["entry_id"] == ENTRY
    account = sim.accounts["mango"]
    assert account.routes == [
        {"command_id": "route-1", "call_id": ivr, "to_number": "102", "result": 1000,
         "entry_id": ENTRY},
    ]  # fmt: skip
    # The leg is over now; an unknown one is not found; a slow VPBX makes the client time out.
    for call_id in (ivr, "nope"):
        mango_post(sim, "commands/route", {**command, "call_id": call_id})
    assert sim.wait_background(timeout=3)
    assert [r["result"] for r in account.routes[1:]] == [4101, 3310]
    account.route_delay = 0.5
    status, _h, _b = mango_post(sim, "commands/route", command, timeout=0.1)
    assert status is None


def test_recording_one_time_link(sim, receiver):
    deliveries = sim.play("mango", "answered", record=True)
    recording_id = deliveries[-1].event["json"]["recording_id"]
    query = {"recording_id": recording_id, "action": "download"}
    status, headers, body = mango_post(sim, "queries/recording/post", query)
    assert (status, body) == (302, b"")
    link = headers["Location"]
    assert link.startswith(sim.api_url("mango") + "/files/download/")
    status, audio, audio_headers, _error, _elapsed = http_request("GET", link)
    assert (status, audio_headers["Content-Type"], len(audio)) == (200, "audio/mp3", 4096)
    assert audio[:3] == b"ID3" and "attachment" in audio_headers["Content-Disposition"]
    assert http_request("GET", link)[0] == 404  # links work once
    again = mango_post(sim, "queries/recording/post", {**query, "action": "play"})[1]["Location"]
    assert http_request("GET", again)[1] == audio
    unknown = {"recording_id": "nope", "action": "download"}
    assert mango_post(sim, "queries/recording/post", unknown)[2] == b'{"code":3320}'
    assert mango_post(sim, "queries/recording/post", {**query, "action": "x"})[2] == (
        b'{"code":3104}'
    )


def test_users(receiver):
    account = MangoAccount(receiver.hook("mango"), KEY, SALT, emails={"101": "ivan@example.com"})
    extensions = {"101": "Ivan Petrov", "102": "Мария Сидорова"}
    with Simulator(mango=account, extensions=extensions) as simulator:
        status, _h, body = mango_post(simulator, "config/users/request", {})
        one = json.loads(mango_post(simulator, "config/users/request", {"extension": "102"})[2])
    assert status == 200 and b"\\u041c\\u0430\\u0440" in body  # PHP-style escapes
    users = json.loads(body)["users"]
    assert [u["telephony"]["extension"] for u in users] == ["101", "102"]
    assert users[0]["general"] == {"name": "Ivan Petrov", "email": "ivan@example.com"}
    assert users[1]["general"]["email"] == "user102@example.com"
    numbers = users[0]["telephony"]["numbers"]
    assert numbers[0] == {
        "number": "sip:user101@vpbx400123456.mangosip.ru",
        "protocol": "sip",
        "order": "0",
        "wait_sec": "20",
        "status": "on",
    }
    assert numbers[1]["protocol"] == "tel" and numbers[1]["number"].isdigit()
    assert [u["general"]["name"] for u in one["users"]] == ["Мария Сидорова"]


def test_statistics(sim):
    sim.play("mango", "answered", call_start=DOC_START, caller="74955404444", record=True)
    sim.play("mango", "missed", call_start=DOC_START + dt.timedelta(hours=1))
    sim.play("mango", "answered", call_start=DOC_START + dt.timedelta(days=40))
    start = int(DOC_START.timestamp())
    request = {
        "date_from": str(start - 60),
        "date_to": str(start + 86400),
        "fields": "entry_id,records,start,answer,from_number,to_extension,disconnect_reason",
        "from": {"extension": "", "number": ""},
        "to": {"extension": "", "number": ""},
    }
    status, _h, body = mango_post(sim, "stats/request", request)
    key = json.loads(body)["key"]
    assert status == 200 and key
    assert mango_post(sim, "stats/result", {"key": key})[0] == 204  # being built
    assert mango_post(sim, "stats/result", {"key": key})[0] == 503  # polled within 5 s
    sim.advance_clock(5)
    status, headers, csv = mango_post(sim, "stats/result", {"key": key})
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    answered, missed = [line.split(";") for line in csv.decode().split("\n")]
    calls = sim.calls
    recording = calls[0].recording_id
    assert answered == [
        calls[0].call_id, f"[{recording}]", str(start), str(start + 7), "74955404444", "100",
        "1100",
    ]  # fmt: skip
    assert missed[1:] == ["[]", str(start + 3600), "0", "79161234567", "", "1111"]
    assert mango_post(sim, "stats/result", {"key": "unknown"})[:3:2] == (404, b"")
    month = {**request, "date_to": str(start + 32 * 86400)}
    assert mango_post(sim, "stats/request", month)[2] == b'{"code":3104}'
    assert mango_post(sim, "stats/request", {"date_to": "1"})[2] == b'{"code":3103}'
    filtered = {**request, "to": {"extension": "100", "number": ""}}
    key = json.loads(mango_post(sim, "stats/request", filtered)[2])["key"]
    mango_post(sim, "stats/result", {"key": key})
    sim.advance_clock(5)
    assert mango_post(sim, "stats/result", {"key": key})[2].count(b"\n") == 0


def test_program(receiver, capsys):
    args = ["--mango-webhook", receiver.hook("mango"), "--mango-key", KEY, "--mango-salt", SALT]
    args += ["--mango-emails", "101=ivan@example.com", "--log-level", "WARNING"]
    assert cli_main([*args, "--scenario", "missed", "--shuffle"]) == 0
    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert all(line[0] == "200" for line in lines) and len(lines) == 5
    assert sorted(line[1] for line in lines)[-1] == "events/summary"
    paths = {hit[1] for hit in receiver.posts("mango")}
    assert paths == {"/hook/mango/events/call", "/hook/mango/events/summary"}
