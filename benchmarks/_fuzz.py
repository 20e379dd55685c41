"""Hostile webhook requests for every adapter, and the property they must keep.

Pure Python, no Odoo: ``benchmarks/fuzz_webhooks.py`` runs it at full size (and sends a
sample to a real Odoo), ``tests/test_fuzz_webhooks.py`` runs a bounded slice.

A request is built from a valid one of the adapter's protocol (a known event, its usual
fields) whose fields hypothesis replaces with hostile values (NUL, lone surrogates,
NaN/Infinity/1e400, huge and non-ASCII digits, years 1 and 9999, deep nesting), then
signs as the PBX would (so that hostile content reaches ``parse``, not only ``verify``),
then may mutate byte by byte (before or after signing). The property: ``verify``,
``parse`` and the storage check raise nothing but ``WebhookError``, and what they accept
can be stored as it is (JSON without NaN, no NUL, valid UTF-8).
"""

import json
import random
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

SEED = 20261206
ADAPTERS = ("zadarma", "generic", "mango", "uis", "telfin")
ZADARMA_SECRET = "fuzz-zadarma-secret"
GENERIC_SECRET = "fuzz-generic-secret"
MANGO_KEY, MANGO_SALT = "fuzz-mango-key", "fuzz-mango-salt"
UIS_SECRET = "fuzz-uis-secret"
TIMEZONE = "Europe/Moscow"
# The account settings of each adapter, as an Odoo account of the benchmark stores them.
SECRET_SETTINGS = {
    "zadarma": {"api_key": "fuzz-zadarma-key", "api_secret": ZADARMA_SECRET},
    "generic": {"webhook_secret": GENERIC_SECRET},
    "mango": {"api_key": MANGO_KEY, "api_salt": MANGO_SALT},
    "uis": {"access_key": "fuzz-uis-access", "notification_secret": UIS_SECRET},
    "telfin": {"client_id": "fuzz-telfin-id", "client_secret": "fuzz-telfin-secret"},
}
WEBHOOK_PATH = "/crm_voip/webhook/fuzz-token"

# What broke the endpoint once, and its relatives.
HOSTILE_TEXT = (
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-1",
    "0",
    "9" * 40,
    "9" * 400,
    "9" * 5000,
    "١٢٣٤٥٦٧٨٩٠",  # Arabic-Indic digits: str.isdigit() and int() take them
    "²³",  # digits to isdigit(), not to int()
    "1700000000",
    "99999999999999999999",
    "0001-01-01 00:00:00",
    "9999-12-31 23:59:59",
    "2026-02-30 25:61:61",
    "2026-12-06T12:00:00+99:00",
    "{{call_session_id}}",
    "null",
    '"',
    "%00",
    "\r\n--",
    "in_" + "x" * 300,
)
HOSTILE_NUMBERS = (
    float("nan"),
    float("inf"),
    float("-inf"),
    -1,
    0,
    10**30,
    -(10**30),
    2**63,
    1.5,
    1e308,
    True,
)


def hostile_text():
    return st.one_of(
        st.sampled_from(HOSTILE_TEXT),
        st.text(max_size=12),
        st.text(alphabet=st.characters(codec=None, categories=["Cs", "Cc", "Nd"]), max_size=6),
    )


def json_values():
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.sampled_from(HOSTILE_NUMBERS),
        hostile_text(),
    )
    return st.recursive(
        scalars,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(hostile_text(), children, max_size=3)
        ),
        max_leaves=6,
    )


# A JSON text no json.dumps writes: a number no float holds, and nesting past the parser.
RAW_JSON_TOKENS = ("1e400", "-1e400", "[" * 3000 + "]" * 3000, "{" * 5 + "}")
_RAW_MARK = "__fuzz_raw_json_{}__"


@dataclass
class Case:
    """One generated request: what an adapter gets, and how it was made."""

    code: str
    method: str
    path: str
    headers: dict
    body: bytes
    query: dict = field(default_factory=dict)
    notes: tuple = ()

    def webhook_request(self, events_module, received_at=None):
        return events_module.WebhookRequest(
            method=self.method,
            url=f"http://fuzz.invalid{self.path}",
            path=self.path,
            query=dict(self.query),
            headers=dict(self.headers),
            body=self.body,
            remote_addr="127.0.0.1",
            received_at=received_at or datetime.now(timezone.utc),
        )


def _json_text(payload, raw_tokens):
    """``payload`` as JSON, with any ``_RAW_MARK`` string replaced by its raw token."""
    # ASCII escapes: a lone surrogate or a NUL reaches the adapter as JSON lets it (\\ud800).
    text = json.dumps(payload, ensure_ascii=True, allow_nan=True)
    for index, token in enumerate(raw_tokens):
        text = text.replace(json.dumps(_RAW_MARK.format(index)), token)
    return text


def _utf8(text):
    return text.encode("utf-8", "surrogatepass")


def _form(fields):
    return urlencode(
        {key: value for key, value in fields.items()},
        quote_via=lambda text, safe, encoding, errors: quote(text, safe, "utf-8", "surrogatepass"),
    ).encode("ascii")


def _mutate(body, mutations):
    for operation, position, payload in mutations:
        position = position % (len(body) + 1)
        if operation == "truncate":
            body = body[:position]
        elif operation == "insert":
            body = body[:position] + payload + body[position:]
        elif operation == "flip" and body:
            index = position % len(body)
            flipped = body[index] ^ (payload[:1] or b"\x01")[0]
            body = body[:index] + bytes([flipped]) + body[index + 1 :]
        elif operation == "repeat":
            body = body + body[position:][:4096]
    return body


mutations = st.lists(
    st.tuples(
        st.sampled_from(("truncate", "insert", "flip", "repeat")),
        st.integers(0, 1 << 16),
        st.one_of(st.binary(max_size=8), st.sampled_from([b"\x00", b"%00", b"\xed\xa0\x80", b"&"])),
    ),
    max_size=3,
)


class Builders:
    """Valid requests of each protocol, their fields overridden, signed."""

    def __init__(self, providers):
        self.providers = providers
        self.zadarma = providers.get_adapter_class("zadarma")
        self.zadarma_module = __import__(self.zadarma.__module__, fromlist=["sign"])
        self.generic_module = __import__(
            providers.get_adapter_class("generic").__module__, fromlist=["sign"]
        )
        self.mango_module = __import__(
            providers.get_adapter_class("mango").__module__, fromlist=["sign"]
        )

    # -- Zadarma: a form, signed over two or three of its fields -------------------------

    def zadarma_case(self, event, overrides, extra, mutation, resign, local_now):
        fields = {
            "event": event,
            "call_start": local_now,
            "pbx_call_id": "in_fuzz1",
            "caller_id": "74957654321",
            "called_did": "74951204567",
            "internal": "101",
            "destination": "101",
            "disposition": "answered",
            "duration": "42",
            "is_recorded": "1",
            "call_id_with_rec": "1700000000.1234",
        }
        fields.update(overrides)
        fields.update(extra)
        content_type = "application/x-www-form-urlencoded"
        body = _form(fields)
        if resign:  # a valid signature over the mutated body
            body = _mutate(body, mutation)
        signature = self._zadarma_signature(body, content_type, fields)
        if not resign:
            body = _mutate(body, mutation)
        return Case(
            "zadarma",
            "POST",
            WEBHOOK_PATH,
            {"Content-Type": content_type, "Signature": signature},
            body,
        )

    def _zadarma_signature(self, body, content_type, fields):
        """What Zadarma would sign: the signed fields as the adapter decodes them."""
        module = self.zadarma_module
        try:
            decoded = module.parse_form_body(body, content_type)
        except Exception:  # noqa: BLE001 - unreadable: any signature will do
            decoded = fields
        names = module.SIG_FIELDS.get(decoded.get("event", ""), ("caller_id",))
        signed = "".join(decoded.get(name, "") for name in names)
        return module.sign(ZADARMA_SECRET, signed.encode("utf-8", "replace").decode())

    # -- generic: JSON signed over the timestamp and the exact body --------------------

    def generic_case(self, payload, raw_tokens, mutation, resign, batch):
        text = _json_text({"events": [payload, payload]} if batch else payload, raw_tokens)
        body = _utf8(text)
        timestamp = str(int(time.time()))
        if resign:
            body = _mutate(body, mutation)
        headers = {
            "Content-Type": "application/json",
            "X-Crm-Voip-Timestamp": timestamp,
            "X-Crm-Voip-Signature": self.generic_module.signature_header(
                GENERIC_SECRET, timestamp, body
            ),
        }
        if not resign:
            body = _mutate(body, mutation)
        return Case("generic", "POST", WEBHOOK_PATH, headers, body)

    # -- Mango: a form whose json field is signed with the key and the salt --------------

    def mango_case(self, path, payload, raw_tokens, mutation, resign):
        text = _json_text(payload, raw_tokens)
        json_field = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        sign = self.mango_module.sign(MANGO_KEY, json_field, MANGO_SALT)
        body = _form({"vpbx_api_key": MANGO_KEY, "sign": sign, "json": text})
        body = _mutate(body, mutation)
        if resign and mutation:
            try:
                form = dict(
                    self.mango_module.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
                )
                sign = self.mango_module.sign(MANGO_KEY, form.get("json", ""), MANGO_SALT)
                form["sign"] = sign
                body = _form(form)
            except (UnicodeDecodeError, ValueError):
                pass
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return Case("mango", "POST", f"{WEBHOOK_PATH}/{path}", headers, body)

    # -- UIS: JSON carrying our secret -------------------------------------------------

    def uis_case(self, payload, raw_tokens, mutation):
        payload = {**payload, "secret": UIS_SECRET}
        body = _mutate(_utf8(_json_text(payload, raw_tokens)), mutation)
        return Case("uis", "POST", WEBHOOK_PATH, {"Content-Type": "application/json"}, body)

    # -- Telfin: an unsigned form (the URL token is the proof) -------------------------

    def telfin_case(self, path, fields, mutation, as_get):
        if as_get:
            return Case("telfin", "GET", f"{WEBHOOK_PATH}/{path}", {}, b"", query=fields)
        body = _mutate(_form(fields), mutation)
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return Case("telfin", "POST", f"{WEBHOOK_PATH}/{path}", headers, body)

    # -- mutants of a generated request -----------------------------------------------

    def resign(self, case):
        """``case`` signed again over its (mutated) body, as a PBX holding the secret
        would sign hostile content: the adapter must then read it, not only refuse it."""
        headers = dict(case.headers)
        if case.code == "zadarma":
            headers["Signature"] = self._zadarma_signature(case.body, headers["Content-Type"], {})
        elif case.code == "generic":
            timestamp = str(int(time.time()))
            headers["X-Crm-Voip-Timestamp"] = timestamp
            headers["X-Crm-Voip-Signature"] = self.generic_module.signature_header(
                GENERIC_SECRET, timestamp, case.body
            )
        elif case.code == "mango":
            try:
                text = case.body.decode("utf-8")
                pairs = self.mango_module.parse_qsl(text, keep_blank_values=True)
            except (UnicodeDecodeError, ValueError):
                return case
            form = dict(pairs)
            form["sign"] = self.mango_module.sign(MANGO_KEY, form.get("json", ""), MANGO_SALT)
            return Case(case.code, case.method, case.path, headers, _form(form), case.query)
        return Case(case.code, case.method, case.path, headers, case.body, case.query)

    def mutants(self, case, rng, count):
        """``count`` byte-level mutants of ``case`` (seeded by ``rng``), half signed again."""
        operations = ("truncate", "insert", "flip", "repeat")
        inserts = (
            *(b"\x00", b"%00", b"\xed\xa0\x80", b"&", b"=", b"1e400"),
            *(b"[[[[", b"\xff", b"%ED%A0%80", b"\\u0000", b"\\ud800"),
        )
        for _index in range(count):
            mutation = [
                (rng.choice(operations), rng.randrange(1 << 16), rng.choice(inserts))
                for _step in range(rng.randint(1, 3))
            ]
            mutant = Case(
                case.code, case.method, case.path, case.headers, _mutate(case.body, mutation),
                case.query,
            )  # fmt: skip
            yield self.resign(mutant) if rng.random() < 0.5 else mutant


def _overrides(names):
    return st.dictionaries(st.sampled_from(names), hostile_text(), max_size=4)


def _json_overrides(names):
    return st.dictionaries(st.sampled_from(names), json_values(), max_size=4)


def _with_raw_tokens(payload_strategy):
    """A payload in which some values are placeholders for raw JSON tokens."""

    @st.composite
    def build(draw):
        payload = draw(payload_strategy)
        tokens = []
        for key in draw(st.lists(st.sampled_from(sorted(payload) or ["x"]), max_size=2)):
            token = draw(st.sampled_from(RAW_JSON_TOKENS))
            payload[key] = _RAW_MARK.format(len(tokens))
            tokens.append(token)
        return payload, tokens

    return build()


def case_strategy(builders, code):
    """The hypothesis strategy of ``code``'s requests."""
    now = int(time.time())
    if code == "zadarma":
        local_now = datetime.now(ZoneInfo(TIMEZONE)).strftime("%Y-%m-%d %H:%M:%S")
        names = (
            *("event", "call_start", "pbx_call_id", "caller_id", "called_did", "internal"),
            *("destination", "disposition", "duration", "is_recorded", "call_id_with_rec"),
        )
        events = st.sampled_from(sorted(builders.zadarma_module.SIG_FIELDS) + ["NOTIFY_X", ""])
        return st.builds(
            builders.zadarma_case,
            events,
            _overrides(names),
            st.dictionaries(hostile_text(), hostile_text(), max_size=2),
            mutations,
            st.booleans(),
            st.just(local_now),
        )
    if code == "generic":
        base = st.fixed_dictionaries(
            {
                "id": st.just("evt-1"),
                "type": st.sampled_from(["call.started", "call.ended", "call.recording", "x"]),
                "call_id": st.just("call-1"),
                "from": st.just("74957654321"),
                "timestamp": st.just(now),
                "disposition": st.just("answered"),
                "duration": st.just(42),
                "recording_id": st.just("rec-1"),
            }
        )
        names = (
            *("id", "type", "call_id", "from", "to", "timestamp", "disposition", "duration"),
            *("recording_id", "direction", "extension", "extra"),
        )
        payload = st.builds(lambda b, o: {**b, **o}, base, _json_overrides(names))
        return st.builds(
            lambda p, m, r, batch: builders.generic_case(p[0], p[1], m, r, batch),
            _with_raw_tokens(payload),
            mutations,
            st.booleans(),
            st.booleans(),
        )
    if code == "mango":
        base = {
            "entry_id": "entry-1",
            "call_id": "leg-1",
            "timestamp": now,
            "seq": 1,
            "call_state": "Appeared",
            "location": "ivr",
            "from": {"number": "74957654321"},
            "to": {"number": "74951204568", "line_number": "74951204568", "extension": "11"},
            "call_direction": 1,
            "talk_time": 30,
            "end_time": now,
            "create_time": now - 40,
            "entry_result": 1,
            "disconnect_reason": 1100,
            "recording_id": "rec-1",
            "recording_state": "Completed",
            "completion_code": 1000,
            "command_id": "cmd-1",
            "result": 1000,
        }
        payload = st.builds(lambda o: {**base, **o}, _json_overrides(sorted(base) + ["extra"]))
        paths = st.sampled_from(
            ["events/call", "events/summary", "events/recording", "result/callback", "ping", "x"]
        )
        return st.builds(
            lambda path, p, m, r: builders.mango_case(path, p[0], p[1], m, r),
            paths,
            _with_raw_tokens(payload),
            mutations,
            st.booleans(),
        )
    if code == "uis":
        kinds = (
            *("call_started", "agent_ringing", "answered", "ended", "missed"),
            *("outgoing_started", "recording_ready", "x"),
        )
        base = {
            "call_session_id": "1000001",
            "leg_id": "2000001",
            "employee_id": "11",
            "direction": "in",
            "virtual_phone_number": "74951204569",
            "contact_phone_number": "74957654321",
            "external_id": "",
            "talk_time_duration": "30",
            "total_time_duration": "40",
            "wait_time_duration": "10",
            "finish_reason": "subscriber_disconnects",
            "notification_time": "2026-12-06 12:00:00.123",
            "communication_id": "3000001",
            "file_link": "https://app.uiscom.ru/system/media/talk/3000001/abc/",
            "file_duration": "30",
        }
        payload = st.builds(
            lambda kind, o: {"event": kind, **base, **o},
            st.sampled_from(kinds),
            _json_overrides(sorted(base) + ["event"]),
        )
        return st.builds(
            lambda p, m: builders.uis_case(p[0], p[1], m), _with_raw_tokens(payload), mutations
        )
    # telfin
    base = {
        "EventType": "hangup",
        "CallID": "5d1f0c7a2b",
        "CallFlow": "in",
        "CallStatus": "ANSWER",
        "CallerIDNum": "74957654321",
        "CalledDID": "74951204570",
        "CalledExtension": "11*101",
        "CalledNumber": "74951204570",
        "CallerExtension": "",
        "EventTime": str(now * 1_000_000),
        "Duration": "30000000",
        "SubCallID": "sub-1",
        "Transfered": "",
        "CallBackID": "",
    }
    events = st.sampled_from(["dial-in", "dial-out", "answer", "hangup", "voicemail", "x"])
    fields = st.builds(
        lambda event, o: {**base, "EventType": event, **o},
        events,
        _overrides(sorted(base)),
    )
    return st.builds(
        builders.telfin_case,
        st.sampled_from(["phone", "ivr", "queue", "other"]),
        fields,
        mutations,
        st.booleans(),
    )


_NUL_ESCAPE_RE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


@dataclass
class Tally:
    """What a run found, per adapter."""

    inputs: int = 0
    accepted: int = 0
    refused: int = 0
    crashes: int = 0
    unstorable: int = 0
    examples: list = field(default_factory=list)


def storable_problem(call_event):
    """Why PostgreSQL would refuse the stored form of an accepted event, or ``None``."""
    try:
        text = json.dumps(call_event.to_dict(), ensure_ascii=False, allow_nan=False)
        text.encode("utf-8")
    except (ValueError, TypeError, UnicodeEncodeError) as error:
        return f"{type(error).__name__}: {error}"
    # A NUL escape (not an escaped backslash followed by "u0000"): jsonb refuses it.
    if "\x00" in text or _NUL_ESCAPE_RE.search(text):
        return "NUL in the payload"
    return None


class Runner:
    """Runs cases through an adapter's ``verify``, ``parse`` and the storage check."""

    def __init__(self, providers):
        self.providers = providers
        self.builders = Builders(providers)
        self.adapters = {
            code: providers.get_adapter_class(code)(
                {**SECRET_SETTINGS[code], "timezone": TIMEZONE, "ip_allowlist": ()}
            )
            for code in ADAPTERS
        }

    def check(self, case, tally):
        """Run one case; return the accepted events (``None`` when refused)."""
        tally.inputs += 1
        errors = self.providers.errors
        request = case.webhook_request(self.providers.events)
        adapter = self.adapters[case.code]
        try:
            adapter.verify(request)
            call_events = adapter.parse(request)
            self.providers.validation.check_call_events(call_events)
        except errors.WebhookError:
            tally.refused += 1
            return None
        except Exception as error:  # noqa: BLE001 - the property under test
            tally.crashes += 1
            if len(tally.examples) < 5:
                tally.examples.append((f"{type(error).__name__}: {error}"[:300], case))
            return None
        for call_event in call_events:
            problem = storable_problem(call_event)
            if problem:
                tally.unstorable += 1
                if len(tally.examples) < 5:
                    tally.examples.append((problem[:300], case))
                return None
        tally.accepted += 1
        return call_events

    def run(self, code, examples, mutants=0, keep=0, seed_value=SEED):
        """Generate ``examples`` requests for ``code`` with hypothesis (fixed seed), each
        followed by ``mutants`` seeded byte-level mutants of it; return the tally and the
        first ``keep`` requests, mutants included (for the HTTP sample)."""
        tally = Tally()
        kept = []
        rng = random.Random(f"{seed_value}-{code}")

        @seed(seed_value)
        @settings(
            max_examples=examples,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case_strategy(self.builders, code))
        def property_holds(case):
            for each in (case, *self.builders.mutants(case, rng, mutants)):
                if len(kept) < keep:
                    kept.append(each)
                self.check(each, tally)

        property_holds()
        return tally, kept
