"""Asterisk / FreePBX through the bridge, over real sockets end to end: the simulator plays
Asterisk's AMI server, the bridge (``bridge/pbx_bridge``, in-process threads) folds its
channel events and posts them signed to Odoo's webhook, and Odoo's adapter calls the
bridge's signed API (click-to-call, recordings, extensions, history, health)."""

import pathlib
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone

from odoo.tests import tagged
from odoo.tools import mute_logger

from ..providers.errors import PermanentError
from .common_scenarios import ROMASHKA, ROUTING, WEBHOOK_LOGGER, CallScenarioSuite

AMI_USER, AMI_SECRET = "crm", "ami-secret"
SECRET = "bridge-shared-secret"
BRIDGE_LOGGER = "pbx_bridge"


def import_bridge():
    """``bridge/`` lives at the repository root, beside the addons."""
    root = pathlib.Path(__file__).resolve().parents[2] / "bridge"
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from pbx_bridge import config, fold, service

    return config, fold, service


class AsteriskScenarioAccount:
    """Asterisk in the scenario suites: the simulator's AMI server, the bridge beside it,
    the account's base URL the bridge's API."""

    provider_code = "asterisk"
    SECRET_SETTINGS = {"secret": SECRET}
    UNSUPPORTED = {
        ROUTING: "the dialplan asks the bridge (CURL) before it dials; the simulator's "
        "Asterisk plays its dialplan without asking",
    }

    @classmethod
    def sim_account(cls, simulator, webhook_url):
        cls._recordings = tempfile.mkdtemp(prefix="crm_voip_asterisk_")
        cls.ast_account = simulator.AsteriskAccount(
            AMI_USER, AMI_SECRET, webhook_url, recording_dir=cls._recordings
        )
        return cls.ast_account

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        config_module, fold, service = import_bridge()
        from vats_simulator.pbx._asterisk_script import RECORDING_DIR

        webhook_url = f"{cls.base_url()}/crm_voip/webhook/{cls.account.sudo().webhook_token}"
        state = tempfile.mkdtemp(prefix="crm_voip_bridge_")
        cls.bridge_config = config_module.from_dict(
            {
                "source": "ami",
                "odoo": {
                    "webhook_url": webhook_url,
                    "secret": SECRET,
                    # Posted only when a test asks: the test server shares the test's cursor.
                    "heartbeat_interval": 3600.0,
                    "retry_max": 0.5,
                    "timeout": 20.0,
                },
                "ami": {
                    "host": "127.0.0.1",
                    "port": cls.ast_account.services.port,
                    "username": AMI_USER,
                    "secret": AMI_SECRET,
                    "ping_interval": 5.0,
                },
                "api": {"listen": "127.0.0.1", "port": 0, "route_token": "route"},
                "spool": {"dir": state},
                "recordings": {"dir": cls._recordings, "pbx_dir": RECORDING_DIR},
            }
        )
        # MixMonitor writes WAV: the simulator's recording bytes are that file's.
        cls.sim.recording_format = "wav"
        cls.bridge = service.Bridge(cls.bridge_config).start()
        cls.addClassCleanup(cls.bridge.stop)
        deadline = time.monotonic() + 10
        while not cls.bridge.source.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        assert cls.bridge.source.connected, cls.bridge.source.last_drop_reason
        cls.account.write({"base_url": f"http://127.0.0.1:{cls.bridge.api_port}"})

    def refuse_next_click_to_call(self):
        self.ast_account.refusing_extensions = ("101",)
        self.addCleanup(setattr, self.ast_account, "refusing_extensions", ())

    def wait_for_bridge(self, since, timeout=20):
        """Until the bridge has read what the PBX sent since ``since``, folded it and
        delivered it all (the test thread leaves the cursor to the server meanwhile)."""
        bridge = self.bridge
        deadline = time.monotonic() + timeout
        quiet_since = None
        while time.monotonic() < deadline:
            settled = (
                (bridge.last_event or 0) >= since
                and bridge.spool.depth() == 0
                and bridge.folder.open_calls() == 0
            )
            if settled:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 0.3:
                    return
            else:
                quiet_since = None
            time.sleep(0.02)
        self.fail(f"the bridge did not deliver in time: {bridge.health()}")

    def play_call(self, scenario, direction="inbound", expect=200, **params):
        call_id = self.pbx.new_call_id(direction)
        since = time.time()
        self.env.flush_all()
        self.sim.play(self.provider_code, scenario, call_id=call_id, **params)
        self.sim.wait_background()
        self.wait_for_bridge(since)
        self.env.invalidate_all()
        return self.env["crm.voip.call"].search(
            [("provider_id", "=", self.account.id), ("provider_call_id", "=", call_id)]
        )

    def click_to_call(self):
        since = time.time()
        call = super().click_to_call()
        self.wait_for_bridge(since)
        self.env.invalidate_all()
        return call


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_scenarios")
class TestAsteriskScenarios(AsteriskScenarioAccount, CallScenarioSuite):
    def test_scenario_popup_in_the_browser_of_the_rung_salesperson(self):
        # The tour asks the simulator (the account's base URL in simulator mode) to play
        # the call; the bridge's posts carry the tour's cookie, as the simulator's would.
        self.account.base_url = self.sim.api_url(self.provider_code)
        self.addCleanup(
            setattr, self.account, "base_url", f"http://127.0.0.1:{self.bridge.api_port}"
        )
        session_headers = self.bridge.odoo.session.headers
        session_headers["Cookie"] = f"test_request_key={self.canonical_tag}_browser_js"
        self.addCleanup(session_headers.pop, "Cookie", None)
        since = time.time()
        super().test_scenario_popup_in_the_browser_of_the_rung_salesperson()
        self.wait_for_bridge(since)

    def test_scenario_duplicated_event(self):
        """The PBX's events of one call read twice (a reconnect replays what the bridge's
        folder already saw): one call, one summary."""
        call_id = self.pbx.new_call_id("inbound")
        since = time.time()
        self.env.flush_all()
        self.sim.play(self.provider_code, "duplicates", call_id=call_id, caller=ROMASHKA)
        self.sim.wait_background()
        self.wait_for_bridge(since)
        self.env.invalidate_all()
        calls = self.env["crm.voip.call"].search([("provider_id", "=", self.account.id)])
        self.assertEqual(len(calls), 1)
        self.assertEqual(calls.state, "done")
        self.assert_summary_once(self.client_romashka, "Incoming call from")

    def test_scenario_click_to_call_refused(self):
        """Asterisk accepts every Originate (``Async``); the phone that declines it makes
        a call that ends busy, as the PBX reports it: the click-to-call ends busy."""
        self.refuse_next_click_to_call()
        with mute_logger(WEBHOOK_LOGGER):
            call = self.click_to_call()
        self.assertRecordValues(
            call, [{"origin": "click_to_call", "state": "busy", "disposition": "busy"}]
        )

    def test_scenario_events_out_of_order(self):
        """AMI is one ordered TCP stream: what may reach Odoo out of order are the
        bridge's posts (the dialplan's routing post before older spooled ones). The
        folded events of an answered call, posted last first, make the same call."""
        import_bridge()
        from pbx_bridge.fold import AmiFolder
        from pbx_bridge.poster import OdooClient, Poster
        from pbx_bridge.spool import Spool

        from vats_simulator.pbx._asterisk_script import RECORDING_DIR

        call_id = self.pbx.new_call_id("inbound")
        steps = self.sim.scenario_events(
            self.provider_code, "answered", call_id=call_id, caller=ROMASHKA,
            answered_by="101", talk_seconds=42,
        )  # fmt: skip
        folder = AmiFolder(internal_contexts=["from-internal"], recording_dir=RECORDING_DIR)
        posts = [post for step in steps for post in (step.get("posts") or [step])]
        events = [event for post in posts for event in folder.feed(post)]
        self.assertGreaterEqual(len(events), 3)
        state = tempfile.mkdtemp(prefix="crm_voip_bridge_order_")
        spool = Spool(f"{state}/spool")
        poster = Poster(
            spool, OdooClient(self.bridge_config.odoo.webhook_url, SECRET, timeout=20),
            f"{state}/dead-letters.jsonl", batch_size=1,
        )  # fmt: skip
        spool.append(list(reversed(events)))
        self.env.flush_all()
        while spool.depth():
            self.assertEqual(poster.deliver_once(), 0, poster.last_error)
        self.env.invalidate_all()
        spool.close()
        call = self.call_of(call_id)
        self.assertRecordValues(
            call,
            [
                {
                    "state": "done",
                    "partner_id": self.client_romashka.id,
                    "user_id": self.salesman_anna.id,
                    "talk_seconds": 42,
                }
            ],
        )
        self.assertTrue(call.date_answer and call.date_end)

    def call_of(self, call_id):
        return self.env["crm.voip.call"].search(
            [("provider_id", "=", self.account.id), ("provider_call_id", "=", call_id)]
        )

    @mute_logger(WEBHOOK_LOGGER, BRIDGE_LOGGER)
    def test_scenario_unsigned_or_tampered_request(self):
        """Events signed with another secret (a bridge configured wrong) are refused with
        403 and kept in the bridge's dead letters, never retried for ever; nothing is
        stored."""
        import_bridge()
        from pbx_bridge.poster import OdooClient, Poster
        from pbx_bridge.spool import Spool

        Event = self.env["crm.voip.event"]
        before = Event.search_count([])
        folder = tempfile.mkdtemp(prefix="crm_voip_bridge_wrong_")
        spool = Spool(f"{folder}/spool")
        client = OdooClient(self.bridge_config.odoo.webhook_url, "not-the-secret", timeout=20)
        poster = Poster(spool, client, f"{folder}/dead-letters.jsonl")
        spool.append(
            [
                {
                    "id": "tampered:started",
                    "type": "call.started",
                    "call_id": "tampered",
                    "from": ROMASHKA,
                    "timestamp": int(time.time()),
                }
            ]
        )
        self.env.flush_all()
        poster.deliver_once()
        self.env.invalidate_all()
        spool.close()
        self.assertEqual(poster.dead_letters, 1)
        self.assertIn("HTTP 403", poster.last_error)
        self.assertEqual(spool.depth(), 0)
        self.assertEqual(Event.search_count([]), before)
        self.assertFalse(self.env["crm.voip.call"].search([("provider_id", "=", self.account.id)]))


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_scenarios")
class TestAsteriskBridge(AsteriskScenarioAccount, CallScenarioSuite):
    """The account's own actions through the bridge. Runs the scenario fixture only."""

    allow_inherited_tests_method = False

    def test_heartbeat_status_on_the_account(self):
        self.assertTrue(self.account.reports_peer_status)
        self.assertFalse(self.account.peer_status_date)
        self.env.flush_all()
        result = self.bridge.poster.send_heartbeat()
        self.env.invalidate_all()
        self.assertTrue(result.ok, result.reason)
        self.assertEqual(result.payload, {"status": "ok", "accepted": 0, "duplicates": 0})
        self.assertRecordValues(
            self.account,
            [
                {
                    "peer_connected": True,
                    "peer_queue_depth": 0,
                    "peer_dead_letters": 0,
                    "peer_version": self.bridge.health()["version"],
                    "peer_problem": False,
                    "health": "ok",  # contact from the PBX, though no call was made
                }
            ],
        )
        self.assertTrue(self.account.peer_status_date)
        self.assertFalse(self.account.last_event_date)
        # The generic account has no peer: its form hides the block.
        self.assertFalse(self.generic.reports_peer_status)

    def test_test_connection_reports_the_bridge_health(self):
        action = self.account.action_test_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("AMI connected", action["params"]["message"])
        self.assertIn("events waiting for Odoo", action["params"]["message"])

    def test_extension_import_lists_the_endpoints(self):
        action = self.account.action_crm_voip_import_extensions()
        wizard = self.env["crm.voip.extension.import"].with_context(action["context"]).create({})
        self.assertIn("101", wizard.line_ids.mapped("extension"))

    def test_recording_download_and_history_through_the_bridge(self):
        call = self.play_call(
            "answered", caller=ROMASHKA, answered_by="101", talk_seconds=42, record=True
        )
        self.assertEqual(call.state, "done")
        recording = call.recording_ids
        self.assertEqual(len(recording), 1)
        self.assertEqual(self.fetch_recordings(), 1)
        self.assertEqual(recording.state, "done")
        # MixMonitor's file on the PBX's disk, as the bridge served it.
        with open(f"{self._recordings}/{recording.recording_ref}", "rb") as handle:
            self.assertEqual(recording.attachment_id.raw, handle.read())
        adapter = self.account._get_crm_voip_adapter()
        try:
            now = datetime.now(timezone.utc)
            history = adapter.call_history(now - timedelta(hours=1), now + timedelta(minutes=1))
            with self.assertRaisesRegex(PermanentError, "HTTP 400"):
                adapter.download(adapter.recording_link("../../etc/passwd").url, max_bytes=1 << 20)
        finally:
            adapter.close()
        [row] = [item for item in history if item.call_id == call.provider_call_id]
        self.assertEqual(row.duration, 42)
        self.assertEqual(row.recording_ref, recording.recording_ref)

    def test_click_to_call_adopted_through_the_bridge(self):
        call = self.click_to_call()
        self.assertRecordValues(
            call,
            [{"origin": "click_to_call", "state": "done", "user_id": self.salesman_anna.id}],
        )
        self.assertEqual(call.provider_call_id.count("-"), 4, "the ChannelId the bridge preset")
