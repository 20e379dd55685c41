"""A real Asterisk for the tests: calls placed by SIP phones through it, folded by the
bridge, logged by Odoo.

``tests/asterisk/`` (at the repository root) holds the test configuration (AMI and ARI
users, three extensions and a client's phone reaching the company's lines as a trunk
would, a ring group, a queue, a line whose dialplan asks Odoo through the bridge,
MixMonitor) and its runner. The phones are pyVoIP user agents (GPL-3, never imported by an
addon) driven in a process of their own (``tests/asterisk/phones.py``). Test classes built
on ``RealAsteriskCommon`` are tagged ``crm_voip_asterisk`` and not ``standard``:
``make test`` adds the tag where it finds an ``asterisk`` binary and says in its summary
whether they ran.
"""

import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import threading
import time

from odoo import Command

from ..models.crm_voip_recording import FETCH_DELAY_PARAM
from .common_http import CrmVoipHttpCommon
from .test_crm_voip_asterisk import import_bridge

ROOT = pathlib.Path(__file__).resolve().parents[2]
SECRET = "real-asterisk-bridge-secret"
CLIENT = "79161234567"
LINE_DIRECT, LINE_GROUP, LINE_QUEUE = "74950000001", "74950000002", "74950000003"
# The line whose dialplan asks the bridge, which asks Odoo, who answers the call.
LINE_ROUTED = "74950000004"


def import_lab():
    spec = importlib.util.spec_from_file_location("asterisk_lab", ROOT / "tests/asterisk/lab.py")
    lab = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lab)
    return lab


class Phones:
    """The pyVoIP phones' process: 101, 102, 103 (salespeople) and the client."""

    def __init__(self, lab):
        base = 41000 + (os.getpid() % 300) * 10
        self.log = open(lab.folder / "phones.log", "w")  # pyVoIP's own prints
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
            stderr=self.log,
            text=True,
        )
        ready = json.loads(self.process.stdout.readline() or "{}").get("ready", [])
        if sorted(ready) != ["101", "102", "103", "client"]:
            self.stop()
            raise RuntimeError(f"the phones did not all register: {ready}")
        #: What the phones did, as they say it (for failure messages).
        self.events = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self.events.append(line.strip())

    def send(self, **command):
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def behave(self, hold=2, **by_extension):
        """``behave(**{"101": "answer", "102": "ignore"})``: the others ignore the ring; who
        answers hangs up ``hold`` seconds later."""
        for extension in ("101", "102", "103", "client"):
            on_ring = by_extension.get(extension, "ignore")
            self.send(behave=extension, on_ring=on_ring, hold=hold)

    def call(self, number, caller="client", hold=2):
        self.send(call=caller, to=number, hold=hold)

    def stop(self):
        if self.process.poll() is None:
            try:
                self.process.stdin.write(json.dumps({"quit": True}) + "\n")
                self.process.stdin.flush()
                self.process.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(5)
        self.log.close()


class RealAsteriskCommon(CrmVoipHttpCommon):
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
        # Calls happen now, whatever the day: everyone works around the clock.
        always = cls.env["resource.calendar"].create(
            {
                "name": "Around the clock",
                "tz": "Europe/Moscow",
                "attendance_ids": [
                    Command.create(
                        {"name": str(day), "dayofweek": str(day), "hour_from": 0, "hour_to": 24}
                    )
                    for day in range(7)
                ],
            }
        )
        cls.company.resource_calendar_id = always
        cls.client = cls.env["res.partner"].create(
            {"name": "Client Ltd", "phone": "+" + CLIENT, "user_id": cls.salesman_boris.id}
        )
        cls.account = cls._asterisk_account("Office Asterisk")
        cls.bridge = cls._start_bridge(cls.account, "ami", cls.lab.ports["BRIDGE_PORT"])
        cls.salesman_anna.password = cls.salesman_anna.login
        # Recordings are asked for as soon as Asterisk names them.
        cls.env["ir.config_parameter"].sudo().set_param(FETCH_DELAY_PARAM, "0")

    @classmethod
    def _asterisk_account(cls, name):
        return cls.env["crm.voip.provider"].create(
            {
                "name": name,
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
                        ("Routed by Odoo", LINE_ROUTED),
                    )
                ],
                "extension_ids": [
                    Command.create({"user_id": cls.salesman_anna.id, "extension": "101"}),
                    Command.create({"user_id": cls.salesman_boris.id, "extension": "102"}),
                    Command.create({"user_id": cls.salesman_other.id, "extension": "103"}),
                ],
            }
        )

    @classmethod
    def _start_bridge(cls, account, source, api_port=0, cleanup=None):
        """A bridge reading Asterisk's AMI (or ARI) and posting to ``account``, its API
        the account's base URL; stopped by ``cleanup`` (the class's by default)."""
        config_module, _fold, service = import_bridge()
        token = account.sudo().webhook_token
        lab = cls.lab
        bridge = service.Bridge(
            config_module.from_dict(
                {
                    "source": source,
                    "odoo": {
                        "webhook_url": f"{cls.base_url()}/crm_voip/webhook/{token}",
                        "secret": SECRET,
                        "heartbeat_interval": 3600.0,
                        "retry_max": 0.5,
                        "timeout": 20.0,
                    },
                    "ami": {
                        "host": "127.0.0.1",
                        "port": lab.ports["AMI_PORT"],
                        "username": lab.AMI_USER,
                        "secret": lab.AMI_SECRET,
                    },
                    "ari": {
                        "url": f"http://127.0.0.1:{lab.ports['HTTP_PORT']}/ari",
                        "username": lab.ARI_USER,
                        "password": lab.ARI_SECRET,
                    },
                    "dialplan": {
                        "channel_template": "SIP/{extension}",
                        "originate_timeout": 10,
                    },
                    "api": {
                        "listen": "127.0.0.1",
                        "port": api_port,
                        "route_token": lab.ROUTE_TOKEN,
                        "route_budget": 4.0,
                        "dial_template": "SIP/{extension}",
                    },
                    "spool": {"dir": tempfile.mkdtemp(prefix=f"crm_voip_bridge_{source}_")},
                    "recordings": {"dir": str(lab.recording_dir)},
                }
            )
        ).start()
        (cleanup or cls.addClassCleanup)(bridge.stop)
        deadline = time.monotonic() + 10
        while not bridge.source.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert bridge.source.connected, bridge.source.last_drop_reason
        account.base_url = f"http://127.0.0.1:{bridge.api_port}"
        return bridge

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
        self.fail(
            f"not logged in time; bridge: {self.bridge.health()}; calls: {logged};"
            f" phones: {self.phones.events[-12:]}"
        )

    def place(self, number, caller_hold=2, **behaviour):
        before = self.calls()
        self.phones.behave(**behaviour)
        self.env.flush_all()
        self.phones.call(number, hold=caller_hold)
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
