"""Hostile webhooks through the real endpoint, for every PBX: each is answered 4xx with a
reason, never 5xx, and stores nothing. Each family first proves its baseline request is
accepted, so that a refusal is the hostile value's doing."""

import json
import time
from datetime import datetime
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from odoo.fields import Command
from odoo.tests import JsonRpcException, new_test_user, tagged
from odoo.tools import mute_logger

from ..controllers.crm_voip import MAX_BODY_BYTES
from ..providers import generic, mango, zadarma
from .common import GENERIC_SECRET, ZADARMA_SECRET
from .common_http import CrmVoipHttpCommon

WEBHOOK_LOGGER = "odoo.addons.crm_voip.controllers.crm_voip"
VALIDATION_LOGGER = "odoo.addons.crm_voip.providers.validation"
MANGO_KEY, MANGO_SALT = "input-mango-key", "input-mango-salt"
UIS_SECRET = "input-uis-secret"
DEEP = "[" * 5000 + "]" * 5000


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_webhook_input")
class TestWebhookHostileInput(CrmVoipHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mango = cls._create_pbx_account(
            "mango", "Mango input", ("Mango", "74951204581"),
            {"api_key": MANGO_KEY, "api_salt": MANGO_SALT},
        )  # fmt: skip
        cls.uis = cls._create_pbx_account(
            "uis", "UIS input", ("UIS", "74951204582"), {"notification_secret": UIS_SECRET},
            timezone="Europe/Moscow",
        )  # fmt: skip
        cls.telfin = cls._create_pbx_account(
            "telfin", "Telfin input", ("Telfin", "74951204583"),
            {"client_id": "input-app", "client_secret": "input-secret"},
            extensions=("101", "102"),
        )  # fmt: skip

    # -- helpers ---------------------------------------------------------------------------

    def post(self, url, body, headers=None):
        self.env.flush_all()
        with mute_logger(WEBHOOK_LOGGER, VALIDATION_LOGGER):
            response = self.url_open(url, data=body, headers=headers or {}, timeout=30)
        self.env.invalidate_all()
        return response

    def assertRefused(self, response, status=400, what=""):
        self.assertEqual(response.status_code, status, f"{what}: {response.text[:300]}")
        self.assertTrue(response.json()["error"], what)

    def count_events(self):
        return self.env["crm.voip.event"].sudo().search_count([])

    def zadarma_post(self, **fields):
        base = {
            "event": "NOTIFY_START",
            "call_start": datetime.now(ZoneInfo("Europe/Moscow")).strftime("%Y-%m-%d %H:%M:%S"),
            "pbx_call_id": f"in_input_{time.monotonic_ns()}",
            "caller_id": "74957654321",
            "called_did": "74951234567",
        }
        base.update(fields)
        names = zadarma.SIG_FIELDS[base["event"]]
        signature = zadarma.sign(ZADARMA_SECRET, "".join(base.get(name, "") for name in names))
        return self.post(
            self._webhook_url(self.zadarma),
            urlencode(base, errors="surrogatepass").encode(),
            {"Content-Type": "application/x-www-form-urlencoded", "Signature": signature},
        )

    def generic_post(self, body=None, **fields):
        if body is None:
            event = {
                "id": f"input-{time.monotonic_ns()}",
                "type": "call.ended",
                "call_id": f"input-call-{time.monotonic_ns()}",
                "from": "74957654321",
                "timestamp": int(time.time()),
                "disposition": "answered",
                "duration": 12,
            }
            event.update(fields)
            body = json.dumps(event)
        body = body.encode() if isinstance(body, str) else body
        timestamp = str(int(time.time()))
        return self.post(
            self._webhook_url(self.generic),
            body,
            {
                "Content-Type": "application/json",
                "X-Crm-Voip-Timestamp": timestamp,
                "X-Crm-Voip-Signature": generic.signature_header(GENERIC_SECRET, timestamp, body),
            },
        )

    def mango_post(self, json_text=None, **fields):
        if json_text is None:
            payload = {
                "entry_id": f"entry-{time.monotonic_ns()}",
                "call_id": "leg-1",
                "timestamp": int(time.time()),
                "seq": 1,
                "call_state": "Appeared",
                "location": "ivr",
                "from": {"number": "74957654321"},
                "to": {"number": "74951204581", "line_number": "74951204581"},
            }
            payload.update(fields)
            json_text = json.dumps(payload)
        form = {"vpbx_api_key": MANGO_KEY, "sign": mango.sign(MANGO_KEY, json_text, MANGO_SALT)}
        form["json"] = json_text
        return self.post(f"{self._webhook_url(self.mango)}/events/call", form)

    def uis_post(self, body=None, **fields):
        if body is None:
            payload = {
                "event": "call_started",
                "call_session_id": str(time.monotonic_ns() % 10**12),
                "virtual_phone_number": "74951204582",
                "contact_phone_number": "74957654321",
                "notification_time": datetime.now(ZoneInfo("Europe/Moscow")).strftime(
                    "%Y-%m-%d %H:%M:%S"
                ),
                "secret": UIS_SECRET,
            }
            payload.update(fields)
            body = json.dumps(payload)
        return self.post(
            self._webhook_url(self.uis), body.encode(), {"Content-Type": "application/json"}
        )

    def telfin_post(self, **fields):
        base = {
            "EventType": "dial-in",
            "CallID": f"{time.monotonic_ns():x}",
            "CallFlow": "in",
            "CallStatus": "CALLING",
            "CallerIDNum": "74957654321",
            "CalledDID": "74951204583",
            "CalledExtension": "101*101",
            "EventTime": str(int(time.time() * 1_000_000)),
        }
        base.update(fields)
        return self.post(f"{self._webhook_url(self.telfin)}/phone", base)

    # -- every PBX ---------------------------------------------------------------------------

    def test_zadarma(self):
        self.assertEqual(self.zadarma_post().status_code, 200)
        before = self.count_events()
        for what, fields in [
            ("NUL in the call id", {"pbx_call_id": "in_\x00x"}),
            ("NUL in an extra field", {"note": "a\x00b"}),
            ("all-digit time overflowing", {"call_start": "9" * 30}),
            ("non-ASCII digit time", {"call_start": "١٧٠٠٠٠٠٠٠٠"}),
            ("year 1 in the account's zone", {"call_start": "0001-01-01 00:00:00"}),
        ]:
            response = self.zadarma_post(**fields)
            self.assertIn(response.status_code, (400, 403), what)
            self.assertTrue(response.json()["error"], what)
        end = {"event": "NOTIFY_END", "disposition": "answered", "internal": "11"}
        for duration in ("9" * 30, "-5"):
            self.assertRefused(self.zadarma_post(**end, duration=duration), what=duration)
        self.assertEqual(self.count_events(), before)

    def test_generic(self):
        self.assertEqual(self.generic_post().status_code, 200)
        before = self.count_events()
        for duration in ("NaN", "Infinity", "-Infinity", "1e400"):
            body = self.generic_post_body(duration="X").replace('"X"', duration)
            self.assertRefused(self.generic_post(body), what=duration)
        for what, fields in [
            ("NUL in the event id", {"id": "a\x00b"}),
            ("lone surrogate in the event id", {"id": "a\ud800b"}),
            ("NUL in an extra field", {"note": {"deep": ["a\x00b"]}}),
            ("lone surrogate in an extra key", {"x\udc00": 1}),
            ("nesting in an extra field", {"note": json.loads("[" * 40 + "]" * 40)}),
            ("all-digit time", {"timestamp": "9" * 30}),
            ("huge number in an extra field", {"note": 10**40}),
        ]:
            self.assertRefused(self.generic_post(**fields), what=what)
        self.assertRefused(self.generic_post('{"id": ' + DEEP + "}"), what="deep JSON")
        self.assertEqual(self.count_events(), before)

    def generic_post_body(self, **fields):
        event = {
            "id": f"input-{time.monotonic_ns()}",
            "type": "call.ended",
            "call_id": "input-call",
            "from": "74957654321",
            "timestamp": int(time.time()),
            "disposition": "answered",
        }
        event.update(fields)
        return json.dumps(event)

    def test_mango(self):
        self.assertEqual(self.mango_post().status_code, 200)
        before = self.count_events()
        for what, fields in [
            ("NUL in the entry id", {"entry_id": "entry\x00"}),
            ("lone surrogate in the entry id", {"entry_id": "entry\ud800"}),
            ("NUL in an extra field", {"extra": ["a\x00b"]}),
            ("infinite number in an extra field", {"extra": float("inf")}),
        ]:
            self.assertRefused(self.mango_post(**fields), what=what)
        self.assertRefused(self.mango_post('{"entry_id": ' + DEEP + "}"), what="deep JSON")
        self.assertEqual(self.count_events(), before)

    def test_uis(self):
        self.assertEqual(self.uis_post().status_code, 200)
        before = self.count_events()
        for what, fields in [
            ("NUL in the caller", {"contact_phone_number": "7495\x00"}),
            ("lone surrogate in the caller", {"contact_phone_number": "7495\ud800"}),
            ("NUL in an extra field", {"extra": "a\x00b"}),
        ]:
            self.assertRefused(self.uis_post(**fields), what=what)
        deep = json.dumps({"event": "call_started", "secret": UIS_SECRET, "x": "X"})
        deep = deep.replace('"X"', DEEP)
        response = self.uis_post(deep)
        self.assertIn(response.status_code, (400, 403), "deep JSON")
        self.assertEqual(self.count_events(), before)

    def test_telfin(self):
        self.assertEqual(self.telfin_post().status_code, 200)
        # Unreadable digits (once a 500): the time of arrival stands in, as for no time.
        self.assertEqual(self.telfin_post(EventTime="²³").status_code, 200)
        before = self.count_events()
        for what, fields in [
            ("NUL in the call id", {"CallID": "ab\x00cd"}),
            ("NUL in an extra field", {"Extra": "a\x00b"}),
        ]:
            self.assertRefused(self.telfin_post(**fields), what=what)
        self.assertEqual(self.count_events(), before)

    # -- the door --------------------------------------------------------------------------

    def test_token_with_nul_or_garbage_is_unknown(self):
        for token in ("abc%00def", "%00", "a" * 200, "x%ED%A0%80y"):
            response = self.post(f"{self.base_url()}/crm_voip/webhook/{token}", b"x=1")
            self.assertRefused(response, 404, token)

    def test_body_over_the_limit_is_refused_before_it_is_read(self):
        before = self.count_events()
        body = b"x" * (MAX_BODY_BYTES + 1)
        response = self.post(self._webhook_url(self.generic), body)
        self.assertRefused(response, 413, "known token")
        response = self.post(f"{self.base_url()}/crm_voip/webhook/not-a-token", body)
        self.assertRefused(response, 404, "unknown token: not even the length is looked at")
        self.assertEqual(self.count_events(), before)


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_webhook_input")
class TestZadarmaNotificationSources(CrmVoipHttpCommon):
    """Zadarma's published addresses are offered as the allow-list, by administrators only."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.administrator = new_test_user(
            cls.env, "voip_admin", groups="base.group_system,sales_team.group_sale_manager",
            company_id=cls.company.id, company_ids=[Command.set(cls.company.ids)],
            password="voip_admin",
        )  # fmt: skip

    def call_kw(self, method):
        return self.make_jsonrpc_request(
            f"/web/dataset/call_kw/crm.voip.provider/{method}",
            {"model": "crm.voip.provider", "method": method, "args": [self.zadarma.ids],
             "kwargs": {}},
        )  # fmt: skip

    def test_offered_while_the_allowlist_is_empty(self):
        self.zadarma.ip_allowlist = False
        self.assertEqual(self.zadarma.notification_sources, "185.45.152.40/30")
        self.assertFalse(self.generic.notification_sources, "the generic sender is anywhere")
        for user in (self.salesman_other, self.sales_manager):
            self.authenticate(user.login, user.login)
            with mute_logger("odoo.http"), self.assertRaises(JsonRpcException) as refusal:
                self.call_kw("action_crm_voip_use_notification_sources")
            self.assertIn("AccessError", str(refusal.exception.args))
            self.zadarma.invalidate_recordset(["ip_allowlist"])
            self.assertFalse(self.zadarma.ip_allowlist, user.login)
        self.authenticate(self.administrator.login, self.administrator.login)
        self.call_kw("action_crm_voip_use_notification_sources")
        self.zadarma.invalidate_recordset(["ip_allowlist"])
        self.assertEqual(self.zadarma.ip_allowlist, "185.45.152.40/30")
        # The simulator posts from 127.0.0.1, outside Zadarma's addresses: refused, unstored.
        events = self.env["crm.voip.event"].search_count([])
        with mute_logger(WEBHOOK_LOGGER):
            deliveries = self.play("zadarma", "answered", caller="74957654321")
        self.assertEqual({delivery.status for delivery in deliveries}, {403})
        self.assertEqual(self.env["crm.voip.event"].search_count([]), events)
