"""Against a real Asterisk: calls placed by SIP phones through it, folded by the bridge,
logged by Odoo.

``tests/asterisk/`` holds the test configuration (AMI and ARI users, three extensions and
a client's phone reaching the company's lines as a trunk would, a ring group, a queue,
MixMonitor) and its runner. The phones are pyVoIP user agents (GPL-3, never imported by an
addon) driven in a process of their own (``tests/asterisk/phones.py``). These tests are
tagged ``crm_voip_asterisk`` and not ``standard``: ``make test`` adds the tag where it
finds an ``asterisk`` binary and says in its summary whether they ran.
"""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

from odoo import Command
from odoo.tests import tagged

from .common_http import CrmVoipHttpCommon
from .test_crm_voip_asterisk import import_bridge

ROOT = pathlib.Path(__file__).resolve().parents[2]
SECRET = "real-asterisk-bridge-secret"
CLIENT = "79161234567"
LINE_DIRECT, LINE_GROUP, LINE_QUEUE = "74950000001", "74950000002", "74950000003"


def import_lab():
    spec = importlib.util.spec_from_file_location("asterisk_lab", ROOT / "tests/asterisk/lab.py")
    lab = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lab)
    return lab


class Phones:
    """The pyVoIP phones' process: 101, 102, 103 (salespeople) and the client."""

    def __init__(self, lab):
        base = 41000 + (os.getpid() % 300) * 10
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "tests/asterisk/phones.py"),
                "--port",
                str(lab.ports["SIP_PORT"]),
                "--secret",
                lab.PHONE_SECRET,
                "--sip-base",
                str(base),
                "--rtp-base",
                str(base + 2000),
                *("--ext", "101", "--ext", "102", "--ext", "103", "--ext", "client"),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        ready = json.loads(self.process.stdout.readline() or "{}").get("ready", [])
        if sorted(ready) != ["101", "102", "103", "client"]:
            self.stop()
            raise RuntimeError(f"the phones did not all register: {ready}")

    def send(self, **command):
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def behave(self, hold=2, **by_extension):
        """``behave(**{"101": "answer", "102": "ignore"})``: the others ignore the ring; who
        answers hangs up ``hold`` seconds later."""
        for extension in ("101", "102", "103", "client"):
            on_ring = by_extension.get(extension, "ignore")
            self.send(behave=extension, on_ring=on_ring, hold=hold)

    def call(self, number, caller="client"):
        self.send(call=caller, to=number, hold=2)

    def stop(self):
        if self.process.poll() is None:
            try:
                self.process.stdin.write(json.dumps({"quit": True}) + "\n")
                self.process.stdin.flush()
                self.process.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(5)


@tagged("post_install", "-at_install", "-standard", "crm_voip_asterisk")
class TestCrmVoipRealAsterisk(CrmVoipHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        lab_module = import_lab()
        binary = os.environ.get("ASTERISK") or lab_module.find_asterisk()
        if not binary:
            raise RuntimeError("no asterisk binary: run these tests where one is installed")
        cls.lab = lab_module.AsteriskLab(binary).start()
        cls.addClassCleanup(cls.lab.stop)
        cls.phones = Phones(cls.lab)
        cls.addClassCleanup(cls.phones.stop)

        (cls.zadarma | cls.generic).active = False
        cls.account = cls.env["crm.voip.provider"].create(
            {
                "name": "Office Asterisk",
                "code": "asterisk",
                "company_id": cls.company.id,
                "country_id": cls.env.ref("base.ru").id,
                "timezone": "Europe/Moscow",
                "secret_settings": {"secret": SECRET},
                "unknown_caller_policy": "lead",
                "line_ids": [
                    Command.create({"name": name, "number": number, "team_id": cls.team.id})
                    for name, number in (
                        ("Direct line", LINE_DIRECT),
                        ("Sales group", LINE_GROUP),
                        ("Sales queue", LINE_QUEUE),
                    )
                ],
                "extension_ids": [
                    Command.create({"user_id": cls.salesman_anna.id, "extension": "101"}),
                    Command.create({"user_id": cls.salesman_boris.id, "extension": "102"}),
                    Command.create({"user_id": cls.salesman_other.id, "extension": "103"}),
                ],
            }
        )
        config_module, _fold, service = import_bridge()
        token = cls.account.sudo().webhook_token
        cls.bridge = service.Bridge(
            config_module.from_dict(
                {
                    "source": "ami",
                    "odoo": {
                        "webhook_url": f"{cls.base_url()}/crm_voip/webhook/{token}",
                        "secret": SECRET,
                        "heartbeat_interval": 3600.0,
                        "retry_max": 0.5,
                        "timeout": 20.0,
                    },
                    "ami": {
                        "host": "127.0.0.1",
                        "port": cls.lab.ports["AMI_PORT"],
                        "username": cls.lab.AMI_USER,
                        "secret": cls.lab.AMI_SECRET,
                    },
                    "dialplan": {
                        "channel_template": "SIP/{extension}",
                        "originate_timeout": 10,
                    },
                    "api": {"listen": "127.0.0.1", "port": 0, "route_token": "route"},
                    "spool": {"dir": tempfile.mkdtemp(prefix="crm_voip_bridge_real_")},
                    "recordings": {"dir": str(cls.lab.recording_dir)},
                }
            )
        ).start()
        cls.addClassCleanup(cls.bridge.stop)
        deadline = time.monotonic() + 10
        while not cls.bridge.source.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cls.bridge.source.connected, cls.bridge.source.last_drop_reason
        cls.account.base_url = f"http://127.0.0.1:{cls.bridge.api_port}"
        cls.salesman_anna.password = cls.salesman_anna.login

    def calls(self):
        return self.env["crm.voip.call"].search([("provider_id", "=", self.account.id)], order="id")

    def wait_for(self, condition, timeout=40):
        """Leave the cursor to the server while the real call goes on, until ``condition()``
        holds on what Odoo has logged, the bridge has delivered everything and folded every
        call it saw."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.env.invalidate_all()
            settled = self.bridge.spool.depth() == 0 and self.bridge.folder.open_calls() == 0
            if settled and condition():
                return
            time.sleep(0.25)
        logged = self.calls().read(["state", "provider_call_id"])
        self.fail(f"not logged in time; bridge: {self.bridge.health()}; calls: {logged}")

    def place(self, number, **behaviour):
        before = self.calls()
        self.phones.behave(**behaviour)
        self.env.flush_all()
        self.phones.call(number)
        self.wait_for(
            lambda: (self.calls() - before).filtered(
                lambda c: c.state not in ("ringing", "talking")
            )
        )
        # Nothing more comes for it (a late event would show here as a second call).
        time.sleep(1.0)
        self.env.invalidate_all()
        new = self.calls() - before
        self.assertEqual(len(new), 1, "one call, whatever its channels")
        return new

    def test_ring_group_answered_on_one_of_three_phones(self):
        call = self.place(LINE_GROUP, **{"102": "answer"})
        self.assertRecordValues(
            call,
            [{"state": "done", "direction": "inbound", "user_id": self.salesman_boris.id}],
        )
        self.assertTrue(call.line_id and call.line_id.number.endswith(LINE_GROUP[-7:]))
        self.assertIn(CLIENT[-10:], call.partner_number_e164 or "")
        self.assertGreaterEqual(call.talk_seconds, 1)
        self.assertGreaterEqual(call.ring_seconds, 1)
        self.assertTrue(call.lead_id, "an unknown caller's call makes a lead")
        self.assertEqual(len(call.recording_ids), 1)
        done = self.env["crm.voip.recording"].sudo()._cron_crm_voip_fetch_recordings()
        self.assertEqual(done, 1)
        self.assertTrue(call.recording_ids.attachment_id.raw.startswith(b"RIFF"))

    def test_queue_nobody_took_is_one_missed_call(self):
        call = self.place(LINE_QUEUE)
        self.assertEqual(call.state, "missed")
        self.assertFalse(call.talk_seconds)

    def test_declined_direct_call_is_busy(self):
        call = self.place(LINE_DIRECT, **{"101": "decline"})
        self.assertIn(call.state, ("busy", "missed"))
        self.assertEqual(call.state, "busy")

    def test_click_to_call_rings_the_salesperson_then_the_client(self):
        before = self.calls()
        # The salesperson waits on the line while the client's phone rings.
        self.phones.behave(hold=5, **{"101": "answer", "client": "answer"})
        payload = (
            self.env["crm.voip.call"].with_user(self.salesman_anna).crm_voip_dial_prepare(CLIENT)
        )
        call = self.env["crm.voip.call"].browse(payload["call_id"])
        self.env.flush_all()
        self.authenticate(self.salesman_anna.login, self.salesman_anna.login)
        reply = self.make_jsonrpc_request("/crm_voip/originate", {"call_id": call.id})
        self.assertFalse(reply.get("error"), reply)
        self.wait_for(lambda: call.state == "done")
        self.assertEqual(self.calls() - before, call, "the PBX's call is the click-to-call's")
        self.assertEqual(call.user_id, self.salesman_anna)
        self.assertGreaterEqual(call.talk_seconds, 1)

    def test_extensions_and_health_come_from_the_pbx(self):
        adapter = self.account._get_crm_voip_adapter()
        extensions = {item.extension for item in adapter.list_extensions()}
        self.assertLessEqual({"101", "102", "103"}, extensions)
        status = adapter.test_connection()
        self.assertIn("AMI", status)
