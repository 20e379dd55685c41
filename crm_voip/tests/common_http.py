"""Integration-test layer: the VATS simulator plays the PBX over real HTTP into the
Odoo test server (no mock between them)."""

import importlib
import pathlib
import sys
from datetime import datetime, timedelta, timezone
from unittest.mock import patch

from odoo.sql_db import TestCursor
from odoo.tests import HttpCase
from odoo.tools.misc import Callbacks

from odoo.addons.bus.websocket import WebsocketConnectionHandler

from .common import GENERIC_API_KEY, GENERIC_SECRET, ZADARMA_KEY, ZADARMA_SECRET, CrmVoipCommon


def import_simulator():
    """``vats_simulator`` lives at the repository root, beside the addons."""
    try:
        return importlib.import_module("vats_simulator")
    except ImportError:
        root = pathlib.Path(__file__).resolve().parents[2]
        sys.path.insert(0, str(root))
        return importlib.import_module("vats_simulator")


def run_commit_hooks(case):
    """Have the test server's commits run their pre- and post-commit hooks, as a real
    server's do: Odoo's test cursor drops them (the bus's pushes, a routing command)."""
    original_commit = TestCursor.commit

    def commit(cursor):
        cursor.flush()
        cursor.precommit.run()
        # Run after the commit, as a real server does (a read-only request's hooks may
        # open a writable cursor only then); the test cursor's commit drops them.
        hooks, cursor.postcommit = cursor.postcommit, Callbacks()
        result = original_commit(cursor)
        cursor.postcommit = hooks
        hooks.run()
        return result

    case.patch(TestCursor, "commit", commit)


def deliver_bus_notifications(case):
    """Let the bus reach the browser, as in production: Odoo's test mode refuses
    websockets and drops the commit hooks that wake the bus."""
    case.startPatcher(
        patch.object(WebsocketConnectionHandler, "websocket_allowed", return_value=True)
    )
    run_commit_hooks(case)


class CrmVoipHttpCommon(HttpCase, CrmVoipCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        simulator = import_simulator()
        cls.simulator_module = simulator
        cls.sim = simulator.Simulator(
            zadarma=simulator.ZadarmaAccount(
                cls._webhook_url(cls.zadarma), ZADARMA_KEY, ZADARMA_SECRET, "Europe/Moscow"
            ),
            generic=simulator.GenericAccount(
                cls._webhook_url(cls.generic), GENERIC_SECRET, GENERIC_API_KEY
            ),
            auto_play_originate=False,
        ).start()
        cls.addClassCleanup(cls.sim.stop)
        cls.zadarma.write({"base_url": cls.sim.api_url("zadarma"), "use_simulator": True})
        cls.generic.write({"base_url": cls.sim.api_url("generic"), "use_simulator": True})
        # HttpCase logs users in with their login as password.
        for user in (cls.salesman_anna, cls.salesman_boris, cls.salesman_other, cls.sales_manager):
            user.password = user.login

    @classmethod
    def _webhook_url(cls, provider):
        return f"{cls.base_url()}/crm_voip/webhook/{provider.sudo().webhook_token}"

    def setUp(self):
        super().setUp()
        self.sim.clear()
        self.sim.webhook_headers = {}
        self._calls_played = 0

    def play(self, provider, scenario, **params):
        # Each call starts a second after the one before: two calls from one number to
        # one line in the same second are one call to a PBX whose signature covers only
        # those (Zadarma's event keys are built from them).
        params.setdefault(
            "call_start", datetime.now(timezone.utc) + timedelta(seconds=self._calls_played)
        )
        self._calls_played += 1
        # The test server shares the test's cursor: pending ORM writes must be in it.
        self.env.flush_all()
        deliveries = self.sim.play(provider, scenario, **params)
        self.env.invalidate_all()
        return deliveries

    def rpc(self, login, model, method, args, **kwargs):
        """``model.method(*args, **kwargs)`` as ``login`` (his login is his password),
        through /web/dataset/call_kw, as the browser calls it."""
        self.authenticate(login, login)
        self.env.flush_all()
        try:
            return self.make_jsonrpc_request(
                f"/web/dataset/call_kw/{model}/{method}",
                {"model": model, "method": method, "args": args, "kwargs": kwargs},
            )
        finally:
            self.env.invalidate_all()

    def send(self, provider, payloads):
        """Post hand-picked payloads (e.g. a call that is not over yet); each must get 200."""
        self.env.flush_all()
        deliveries = self.sim.send(provider, payloads)
        self.env.invalidate_all()
        for delivery in deliveries:
            self.assertEqual(delivery.status, 200, delivery.text)
        return deliveries

    def call_of(self, provider, call_id):
        return self.env["crm.voip.call"].search(
            [("provider_id", "=", provider.id), ("provider_call_id", "=", call_id)]
        )
