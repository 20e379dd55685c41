"""Call recordings, end to end: the VATS simulator reports a recording over real HTTP, the
download cron fetches it from the simulator's REST API, the controller plays it."""

import hashlib
import io
import os
import wave
from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.fields import Command
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from ..models.crm_voip_recording import (
    FETCH_DELAY_PARAM,
    MAX_ATTEMPTS,
    MAX_BYTES_PARAM,
)
from .common_http import CrmVoipHttpCommon

MODEL_LOGGER = "odoo.addons.crm_voip.models.crm_voip_recording"
ROMASHKA_CALLER = "74957654321"


class CrmVoipRecordingCommon(CrmVoipHttpCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Real PCM WAV files: the tour's browser must be able to decode them.
        cls.sim.recording_format = "wav"
        # Tests fetch at once instead of waiting for the PBX to finish the file.
        cls.env["ir.config_parameter"].sudo().set_param(FETCH_DELAY_PARAM, "0")
        cls.fetch_cron = cls.env.ref("crm_voip.ir_cron_crm_voip_fetch_recordings")

    def setUp(self):
        super().setUp()
        self.sim.clear()
        self.addCleanup(setattr, self.sim, "recording_content_type", None)

    def recorded_call(self, provider="zadarma", **params):
        """Play an answered, recorded call; return the call."""
        params.setdefault("caller", ROMASHKA_CALLER)
        params.setdefault("answered_by", "101" if provider == "zadarma" else "201")
        deliveries = self.play(provider, "answered", record=True, **params)
        self.assertEqual({d.status for d in deliveries}, {200})
        event = deliveries[0].event
        record = self.zadarma if provider == "zadarma" else self.generic
        return self.call_of(record, event.get("pbx_call_id") or event.get("call_id"))

    def fetch(self):
        """Run the download cron as the scheduler does (superuser, no commit in tests)."""
        self.env.flush_all()
        done = self.env["crm.voip.recording"].sudo()._cron_crm_voip_fetch_recordings()
        self.env.invalidate_all()
        return done

    def make_due(self, recordings):
        recordings.write({"next_attempt_at": fields.Datetime.now() - timedelta(seconds=1)})

    def expected_audio(self, recording):
        return self.sim.recording_bytes(recording.recording_ref)


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_recording")
class TestRecordingFetch(CrmVoipRecordingCommon):
    def test_answered_call_recording_is_fetched_without_user_action(self):
        call = self.recorded_call()
        recording = call.recording_ids
        # NOTIFY_END and NOTIFY_RECORD both name the recording: it is queued once.
        self.assertEqual(len(recording), 1)
        self.assertEqual(recording.recording_ref, call.recording_ref)
        self.assertEqual(recording.state, "pending")
        self.assertTrue(
            self.env["ir.cron.trigger"].search_count([("cron_id", "=", self.fetch_cron.id)]),
            "the webhook scheduled the download cron; it downloads nothing itself",
        )
        self.assertFalse(
            [r for r in self.sim.requests if r.path.startswith("/v1/pbx/record")],
            "no PBX call during the webhook",
        )

        self.assertEqual(self.fetch(), 1)
        audio = self.expected_audio(recording)
        attachment = recording.attachment_id
        self.assertRecordValues(
            recording,
            [
                {
                    "state": "done",
                    "attempts": 1,
                    "mimetype": "audio/wav",
                    "file_size": len(audio),
                    "checksum": hashlib.sha256(audio).hexdigest(),
                    "duration": 4,  # 64 KiB of 8 kHz 16-bit mono
                    "partner_id": self.client_romashka.id,
                    "lead_id": self.opportunity_romashka.id,
                    "user_id": self.salesman_anna.id,
                    "last_error": False,
                }
            ],
        )
        self.assertRecordValues(
            attachment,
            [
                {
                    "res_model": "crm.voip.recording",
                    "res_id": recording.id,
                    "mimetype": "audio/wav",
                    "file_size": len(audio),
                    "checksum": hashlib.sha1(audio).hexdigest(),
                    "public": False,
                }
            ],
        )
        self.assertTrue(attachment.store_fname, "stored in the filestore")
        self.assertEqual(attachment.raw, audio)
        self.assertRegex(attachment.name, rf"^{call.id}_74957654321_\d{{8}}-\d{{6}}\.wav$")
        with wave.open(io.BytesIO(attachment.raw)) as reader:
            self.assertEqual(reader.getframerate(), 8000)
        self.assertEqual(recording.player_url, f"/crm_voip/recording/{recording.id}")
        paths = [r.path for r in self.sim.requests]
        self.assertIn("/v1/pbx/record/request/", paths)
        self.assertTrue(any(p.startswith("/v1/pbx/record/download/") for p in paths))

        self.client_romashka.invalidate_recordset()
        self.assertEqual(self.client_romashka.crm_voip_recording_count, 1)
        self.assertEqual(self.client_ivan.crm_voip_recording_count, 1, "same company")
        self.assertEqual(self.opportunity_romashka.crm_voip_recording_count, 1)
        action = self.client_romashka.action_crm_voip_open_recordings()
        self.assertEqual(self.env["crm.voip.recording"].search(action["domain"]), recording)
        action = self.opportunity_romashka.action_crm_voip_open_recordings()
        self.assertEqual(self.env["crm.voip.recording"].search(action["domain"]), recording)

    def test_generic_pbx_recording(self):
        call = self.recorded_call("generic")
        recording = call.recording_ids
        self.assertEqual(len(recording), 1)
        self.fetch()
        self.assertEqual(recording.state, "done")
        self.assertEqual(recording.attachment_id.raw, self.expected_audio(recording))
        download = [r for r in self.sim.requests if r.path.startswith("/generic/recordings/")]
        self.assertEqual(len(download), 1)
        self.assertTrue(download[0].auth_ok, "the API key is sent to the PBX's own API")

    def test_mp3_recording(self):
        self.sim.recording_format = "mp3"
        self.addCleanup(setattr, self.sim, "recording_format", "wav")
        call = self.recorded_call(talk_seconds=50)
        self.fetch()
        recording = call.recording_ids
        self.assertEqual(recording.mimetype, "audio/mpeg")
        self.assertTrue(recording.attachment_id.name.endswith(".mp3"))
        self.assertEqual(recording.duration, 50, "unknown from the file: the talk time")

    def test_recording_is_queued_once(self):
        call = self.recorded_call()
        recording = call.recording_ids
        self.assertEqual(call._crm_voip_on_recording(call.recording_ref), recording)
        # A whole-call reference (call history) names the recording already queued.
        self.assertEqual(
            call._crm_voip_on_recording("pbx_call_id:" + call.provider_call_id), recording
        )
        self.assertEqual(call.recording_ids, recording)
        self.fetch()
        self.assertEqual(call._crm_voip_on_recording(call.recording_ref), recording)
        self.assertEqual(recording.state, "done")

    def test_fetch_waits_for_the_pbx(self):
        """Zadarma serves a recording about 40 s after the call: the download waits."""
        self.env["ir.config_parameter"].sudo().set_param(FETCH_DELAY_PARAM, "")
        Recording = self.env["crm.voip.recording"]
        # In simulator mode (demo, training) the recordings are served at once.
        self.assertEqual(Recording._crm_voip_fetch_delay(self.generic), 0)
        (self.zadarma | self.generic).use_simulator = False
        self.assertEqual(Recording._crm_voip_fetch_delay(self.zadarma), 40)
        self.assertEqual(Recording._crm_voip_fetch_delay(self.generic), 5)
        before = fields.Datetime.now()
        call = self.recorded_call()
        recording = call.recording_ids
        self.assertGreaterEqual(recording.next_attempt_at, before + timedelta(seconds=40))
        triggers = self.env["ir.cron.trigger"].search([("cron_id", "=", self.fetch_cron.id)])
        self.assertIn(recording.next_attempt_at, triggers.mapped("call_at"))
        self.assertEqual(self.fetch(), 0, "not due yet")
        self.assertEqual((recording.state, recording.attempts), ("pending", 0))

    def test_interrupted_download_is_taken_again(self):
        call = self.recorded_call()
        recording = call.recording_ids
        recording.write(
            {
                "state": "downloading",
                "attempts": 1,
                "last_attempt_at": fields.Datetime.now() - timedelta(hours=1),
            }
        )
        self.fetch()
        self.assertEqual((recording.state, recording.attempts), ("done", 2))

    @mute_logger(MODEL_LOGGER)
    def test_endlessly_interrupted_download_fails(self):
        recording = self.recorded_call().recording_ids
        recording.write(
            {
                "state": "downloading",
                "attempts": MAX_ATTEMPTS,
                "last_attempt_at": fields.Datetime.now() - timedelta(hours=1),
            }
        )
        self.fetch()
        self.assertEqual(recording.state, "failed")
        self.assertIn("interrupted", recording.last_error)


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_recording")
class TestRecordingFailures(CrmVoipRecordingCommon):
    def test_retry_with_backoff(self):
        recording = self.recorded_call().recording_ids
        self.sim.fail_next(2, 500)
        before = fields.Datetime.now()
        self.fetch()
        self.assertEqual((recording.state, recording.attempts), ("pending", 1))
        self.assertIn("500", recording.last_error)
        self.assertGreaterEqual(recording.next_attempt_at, before + timedelta(minutes=1))
        self.assertLess(recording.next_attempt_at, before + timedelta(minutes=2))
        self.assertEqual(self.fetch(), 0, "nothing is due before the backoff is over")
        self.assertEqual(recording.attempts, 1)

        self.make_due(recording)
        before = fields.Datetime.now()
        self.fetch()
        self.assertEqual((recording.state, recording.attempts), ("pending", 2))
        self.assertGreaterEqual(recording.next_attempt_at, before + timedelta(minutes=5))

        self.make_due(recording)
        self.fetch()
        self.assertRecordValues(recording, [{"state": "done", "attempts": 3, "last_error": False}])
        self.assertEqual(recording.attachment_id.raw, self.expected_audio(recording))

    def test_rate_limit_honours_retry_after(self):
        first = self.recorded_call().recording_ids
        second = self.recorded_call(caller="79167654321").recording_ids
        self.make_due(first | second)
        self.sim.rate_limit_next(1, retry_after=120)
        before = fields.Datetime.now()
        self.fetch()
        self.assertEqual((first.state, first.attempts), ("pending", 1))
        self.assertIn("429", first.last_error)
        self.assertGreaterEqual(first.next_attempt_at, before + timedelta(seconds=119))
        self.assertLess(first.next_attempt_at, before + timedelta(seconds=125))
        # The PBX said to wait: the other recording waits too, without losing an attempt.
        self.assertEqual((second.state, second.attempts), ("pending", 0))
        self.assertEqual(second.next_attempt_at, first.next_attempt_at)
        self.make_due(first | second)
        self.fetch()
        self.assertEqual((first | second).mapped("state"), ["done", "done"])

    @mute_logger(MODEL_LOGGER)
    def test_gives_up_after_max_attempts(self):
        recording = self.recorded_call().recording_ids
        self.sim.fail_next(MAX_ATTEMPTS, 503)
        for _attempt in range(MAX_ATTEMPTS):
            self.make_due(recording.filtered(lambda r: r.state == "pending"))
            self.fetch()
        self.assertRecordValues(
            recording, [{"state": "failed", "attempts": MAX_ATTEMPTS, "next_attempt_at": False}]
        )
        self.assertIn("503", recording.last_error)
        self.fetch()
        self.assertEqual(recording.attempts, MAX_ATTEMPTS, "never retried forever")
        # Administrators see it, and may try again once the PBX is fixed.
        self.zadarma.invalidate_recordset()
        self.assertEqual(self.zadarma.recording_failed_count, 1)
        action = self.zadarma.action_crm_voip_open_failed_recordings()
        self.assertEqual(self.env["crm.voip.recording"].search(action["domain"]), recording)
        recording.action_retry()
        self.assertEqual((recording.state, recording.attempts), ("pending", 0))
        self.fetch()
        self.assertEqual(recording.state, "done")
        self.assertEqual(self.zadarma.recording_failed_count, 0)

    @mute_logger(MODEL_LOGGER)
    def test_not_audio_is_a_permanent_failure(self):
        recording = self.recorded_call().recording_ids
        self.sim.recording_content_type = "text/html; charset=utf-8"
        self.fetch()
        self.assertEqual((recording.state, recording.attempts), ("failed", 1))
        self.assertIn("text/html", recording.last_error)
        self.assertFalse(recording.attachment_id)
        self.assertFalse(
            self.env["ir.attachment"].search(
                [("res_model", "=", "crm.voip.recording"), ("res_id", "=", recording.id)]
            )
        )

    @mute_logger(MODEL_LOGGER)
    def test_unknown_recording_is_a_permanent_failure(self):
        call = self.recorded_call("generic")
        recording = call._crm_voip_on_recording("no-such-recording")
        self.fetch()
        self.assertEqual((recording.state, recording.attempts), ("failed", 1))
        self.assertIn("404", recording.last_error)
        self.assertEqual(call.recording_ids.filtered(lambda r: r != recording).state, "done")

    @mute_logger(MODEL_LOGGER)
    def test_refused_credentials(self):
        recording = self.recorded_call().recording_ids
        self.zadarma.secret_settings = {**self.zadarma.secret_settings, "api_secret": "nope"}
        self.fetch()
        self.assertEqual((recording.state, recording.attempts), ("failed", 1))
        self.assertIn("Auth error", recording.last_error)

    @mute_logger(MODEL_LOGGER)
    def test_size_limit(self):
        recording = self.recorded_call().recording_ids
        self.env["ir.config_parameter"].sudo().set_param(MAX_BYTES_PARAM, "1000")
        self.fetch()
        self.assertEqual(recording.state, "failed")
        self.assertIn("1000 bytes", recording.last_error)
        folder = self.env["ir.attachment"]._full_path("crm_voip_tmp")
        self.assertFalse(os.listdir(folder), "no partial file is left behind")


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_recording", "security")
class TestRecordingAccess(CrmVoipRecordingCommon):
    """Who hears what: the call's owner, the leader of its team, the telephony managers
    of its company; nobody else, not even with the URL."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        user_values = {"company_id": cls.company.id, "company_ids": [Command.set(cls.company.ids)]}
        cls.team_leader = new_test_user(
            cls.env, "voip_leader", groups="sales_team.group_sale_salesman", **user_values
        )
        cls.employee = new_test_user(
            cls.env, "voip_employee", groups="base.group_user", **user_values
        )
        cls.other_company = cls.env["res.company"].create({"name": "Other telephony Co"})
        cls.other_manager = new_test_user(
            cls.env,
            "voip_other_manager",
            groups="sales_team.group_sale_manager",
            company_id=cls.other_company.id,
            company_ids=[Command.set(cls.other_company.ids)],
        )

    def setUp(self):
        super().setUp()
        self.team.user_id = self.team_leader
        call = self.recorded_call()
        self.fetch()
        self.recording = call.recording_ids
        self.assertEqual(self.recording.state, "done")
        self.audio = self.expected_audio(self.recording)
        self.env.flush_all()

    def get(self, login, path=None, **kwargs):
        self.authenticate(login, login)
        return self.url_open(
            path or f"/crm_voip/recording/{self.recording.id}", allow_redirects=False, **kwargs
        )

    def test_owner_plays_and_seeks(self):
        response = self.get("voip_anna")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, self.audio)
        self.assertEqual(response.headers["Content-Type"], "audio/wav")
        self.assertEqual(response.headers["Accept-Ranges"], "bytes")
        self.assertTrue(response.headers["Content-Disposition"].startswith("inline"))

        response = self.get("voip_anna", headers={"Range": "bytes=1000-1999"})
        self.assertEqual(response.status_code, 206)
        self.assertEqual(response.content, self.audio[1000:2000])
        self.assertEqual(response.headers["Content-Range"], f"bytes 1000-1999/{len(self.audio)}")
        response = self.get("voip_anna", headers={"Range": f"bytes={len(self.audio) - 10}-"})
        self.assertEqual((response.status_code, response.content), (206, self.audio[-10:]))

        response = self.get("voip_anna", path=f"/crm_voip/recording/{self.recording.id}?download=1")
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.headers["Content-Disposition"].startswith("attachment"))
        self.assertIn(".wav", response.headers["Content-Disposition"])

    def test_nothing_of_the_pbx_reaches_the_browser(self):
        response = self.get("voip_anna", head=True)
        self.assertEqual(response.status_code, 200)
        served = " ".join(f"{k}: {v}" for k, v in response.headers.items())
        for secret in (
            self.sim.base_url,
            f"127.0.0.1:{self.sim.port}",
            "test-key",
            "test-secret",
        ):
            self.assertNotIn(secret, served)
        self.assertNotIn(self.sim.base_url.encode(), self.get("voip_anna").content)

    def test_team_leader_and_manager_hear_it(self):
        for login in ("voip_leader", "voip_manager"):
            response = self.get(login, headers={"Range": "bytes=0-99"})
            self.assertEqual(
                (response.status_code, response.content), (206, self.audio[:100]), login
            )

    @mute_logger("odoo.http")
    def test_others_get_not_found_even_with_the_url(self):
        for login in ("voip_boris", "voip_other", "voip_employee", "voip_other_manager"):
            response = self.get(login)
            self.assertEqual(response.status_code, 404, login)
            self.assertNotEqual(response.content[:4], b"RIFF", login)
        # A recording that does not exist looks the same.
        response = self.get("voip_boris", path="/crm_voip/recording/999999999")
        self.assertEqual(response.status_code, 404)
        # Nor through the generic attachment URL.
        attachment = self.recording.attachment_id
        response = self.get("voip_boris", path=f"/web/content/{attachment.id}")
        self.assertIn(response.status_code, (403, 404))
        self.assertNotEqual(response.content[:4], b"RIFF")
        response = self.get("voip_anna", path=f"/web/content/{attachment.id}")
        self.assertEqual(response.status_code, 200)

    def test_anonymous_is_sent_to_the_login_page(self):
        self.authenticate(None, None)
        response = self.url_open(f"/crm_voip/recording/{self.recording.id}", allow_redirects=False)
        self.assertIn(response.status_code, (303, 302))
        self.assertIn("/web/login", response.headers["Location"])

    def test_record_rules(self):
        Recording = self.env["crm.voip.recording"]
        domain = [("id", "=", self.recording.id)]
        for user in (self.salesman_anna, self.team_leader, self.sales_manager):
            self.assertEqual(Recording.with_user(user).search(domain), self.recording, user.login)
            self.recording.with_user(user).read(["state", "player_url"])
        self.assertFalse(Recording.with_user(self.salesman_boris).search(domain))
        self.assertFalse(Recording.with_user(self.salesman_other).search(domain))
        self.assertFalse(
            Recording.with_user(self.other_manager)
            .with_context(allowed_company_ids=self.other_company.ids)
            .search(domain)
        )
        for user in (self.salesman_boris, self.salesman_other, self.employee):
            with self.assertRaises(AccessError):
                self.recording.with_user(user).read(["state"])
            with self.assertRaises(AccessError):
                self.recording.attachment_id.with_user(user).read(["raw"])
        Attachment = self.env["ir.attachment"]
        attachment_domain = [("id", "=", self.recording.attachment_id.id)]
        self.assertFalse(Attachment.with_user(self.salesman_boris).search(attachment_domain))
        self.assertTrue(Attachment.with_user(self.salesman_anna).search(attachment_domain))
        # Salespeople only listen; managers keep, hold and delete.
        with self.assertRaises(AccessError):
            self.recording.with_user(self.salesman_anna).write({"keep_forever": True})
        with self.assertRaises(AccessError):
            self.recording.with_user(self.salesman_anna).action_delete_file()
        self.recording.with_user(self.sales_manager).write({"legal_hold": True})

    def test_unassigned_call_recording_is_for_managers(self):
        """An unassigned call shows in every salesperson's log (someone must call back),
        but its recording is not theirs to hear."""
        self.recording.call_id.write({"user_id": False, "team_id": False})
        self.env.flush_all()
        self.assertEqual(self.get("voip_anna").status_code, 404)
        self.assertEqual(self.get("voip_manager").status_code, 200)


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_recording")
class TestRecordingRetention(CrmVoipRecordingCommon):
    def make_recording(self, days_ago, partner=None, **values):
        """A fetched recording of a call made ``days_ago`` days ago."""
        call = self.recorded_call()
        if partner:
            call.partner_id = partner
        call.date_start = fields.Datetime.now() - timedelta(days=days_ago)
        self.fetch()
        recording = call.recording_ids
        self.assertEqual(recording.state, "done")
        recording.write(values)
        return recording

    def assertDeleted(self, recording, reason):
        self.assertRecordValues(
            recording, [{"state": "deleted", "attachment_id": False, "deletion_reason": reason}]
        )
        self.assertTrue(recording.deleted_on)
        self.assertTrue(recording.call_id.exists(), "the call stays in the log")
        self.assertFalse(
            self.env["ir.attachment"].search(
                [("res_model", "=", "crm.voip.recording"), ("res_id", "=", recording.id)]
            )
        )
        note = recording.call_id.message_ids.filtered(
            lambda m: "Call recording deleted on" in (m.body or "")
        )
        self.assertEqual(len(note), 1)

    def test_retention_deletes_old_files_only(self):
        self.company.crm_voip_recording_retention_days = 30
        old = self.make_recording(40)
        old_kept = self.make_recording(40, keep_forever=True)
        old_held = self.make_recording(40, legal_hold=True)
        recent = self.make_recording(10)
        old_file = self.env["ir.attachment"]._full_path(old.attachment_id.store_fname)
        self.assertTrue(os.path.isfile(old_file))
        self.env["crm.voip.recording"]._cron_crm_voip_recordings_retention()
        self.assertDeleted(old, "retention")
        # The filestore's garbage collector (daily) removes the file itself.
        self.env.flush_all()
        self.env["ir.attachment"]._gc_file_store_unsafe()
        self.assertFalse(os.path.exists(old_file))
        for kept in (old_kept, old_held, recent):
            self.assertEqual(kept.state, "done")
            self.assertEqual(kept.attachment_id.raw, self.expected_audio(kept))
        self.assertEqual(self.client_romashka.crm_voip_recording_count, 3)

    def test_zero_days_keeps_forever(self):
        self.company.crm_voip_recording_retention_days = 0
        recording = self.make_recording(4000)
        self.env["crm.voip.recording"]._cron_crm_voip_recordings_retention()
        self.assertEqual(recording.state, "done")

    def test_deleted_call_leaves_no_file(self):
        recording = self.make_recording(1)
        attachment = recording.attachment_id
        recording.call_id.unlink()
        self.assertFalse(recording.exists())
        self.env["crm.voip.recording"]._cron_crm_voip_recordings_retention()
        self.assertFalse(attachment.exists())

    def test_partner_deletion_erases_his_recordings(self):
        olga = self.env["res.partner"].create(
            {
                "name": "Olga Erasure",
                "email": "olga.erasure@example.com",
                "company_id": self.company.id,
            }
        )
        erased = self.make_recording(1, partner=olga)
        held = self.make_recording(1, partner=olga, legal_hold=True)
        others = self.make_recording(1)
        olga.unlink()
        self.assertDeleted(erased, "erasure")
        self.assertEqual(held.state, "done", "legal hold beats erasure")
        self.assertEqual(others.state, "done")

    def test_erase_recordings_action(self):
        olga = self.env["res.partner"].create(
            {"name": "Olga Erasure", "company_id": self.company.id}
        )
        erased = self.make_recording(1, partner=olga)
        held = self.make_recording(1, partner=olga, legal_hold=True)
        with self.assertRaises(AccessError):
            olga.with_user(self.salesman_anna).action_crm_voip_erase_recordings()
        result = olga.with_user(self.sales_manager).action_crm_voip_erase_recordings()
        self.assertIn("1 kept", result["params"]["message"])
        self.assertDeleted(erased, "erasure")
        self.assertEqual(held.state, "done")
        self.assertTrue(olga.exists(), "only the recordings go")

    def test_privacy_lookup_finds_and_erases_recordings(self):
        if "privacy.lookup.wizard" not in self.env:
            self.skipTest("privacy_lookup is not installed")
        olga = self.env["res.partner"].create(
            {
                "name": "Olga Erasure",
                "email": "olga.erasure@example.com",
                "company_id": self.company.id,
            }
        )
        recording = self.make_recording(1, partner=olga)
        attachment = recording.attachment_id
        wizard = self.env["privacy.lookup.wizard"].create(
            {"name": "Olga Erasure", "email": "olga.erasure@example.com"}
        )
        wizard.action_lookup()
        lines = wizard.line_ids.filtered(lambda line: line.res_model == "crm.voip.recording")
        self.assertEqual(lines.mapped("res_id"), recording.ids)
        lines.action_unlink()
        self.assertFalse(recording.exists())
        self.assertFalse(attachment.exists(), "the file goes with the recording")


@tagged("post_install", "-at_install", "crm_voip", "crm_voip_recording")
class TestRecordingTour(CrmVoipRecordingCommon):
    def test_recording_plays_on_the_contact_card(self):
        """A recorded call ends; without anyone doing anything the cron fetches it, and
        the salesperson plays it from the contact's card in a real browser."""
        call = self.recorded_call()
        self.fetch()
        self.assertEqual(call.recording_ids.state, "done")
        self.start_tour(
            f"/odoo/res.partner/{self.client_romashka.id}",
            "crm_voip_recording_tour",
            login="voip_anna",
        )
