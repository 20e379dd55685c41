"""Call recordings: fetched from the PBX in the background, stored in the filestore, played
through an access-checked controller, deleted by retention or on erasure requests."""

import contextlib
import hashlib
import logging
import os
import secrets
import threading
import time
import wave
from dataclasses import dataclass
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from .. import providers
from ..tools.crash_points import crash_point

_logger = logging.getLogger(__name__)

PROVIDER_ERRORS = providers.errors

# How long to wait after the PBX names a recording before asking for it is the adapter's
# ``recording_fetch_delay`` (none in simulator mode). The system parameter
# ``crm_voip.recording_fetch_delay`` (seconds) overrides it for every PBX.
FETCH_DELAY_PARAM = "crm_voip.recording_fetch_delay"
# Largest recording accepted (bytes); ``crm_voip.recording_max_bytes`` overrides it.
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
MAX_BYTES_PARAM = "crm_voip.recording_max_bytes"
# Retries: wait 1, 5, 15, 60 then 240 minutes; the 6th failed attempt is final.
BACKOFF_MINUTES = (1, 5, 15, 60, 240)
MAX_ATTEMPTS = 6
# A download still "in progress" after this long was interrupted (worker killed).
STALE_DOWNLOAD = timedelta(minutes=30)
# Wall-clock limit of one download, on top of the per-read socket timeout.
DOWNLOAD_TIME_LIMIT = 15 * 60
# One cron call handles at most this many recordings, and stops taking new ones after
# this many seconds; the cron framework calls it again while some are left.
BATCH_SIZE = 50
BATCH_TIME_BUDGET = 120
RETENTION_BATCH_SIZE = 500
TMP_FOLDER = "crm_voip_tmp"
TMP_MAX_AGE = 24 * 3600

FILE_EXTENSIONS = {"audio/mpeg": "mp3", "audio/wav": "wav", "audio/ogg": "ogg"}


@dataclass
class DownloadedFile:
    """A recording streamed to a temporary file, with what was learnt on the way."""

    path: str
    size: int
    sha1: str
    sha256: str
    mimetype: str
    duration: int = 0

    def discard(self):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def download_to_file(adapter, url, max_bytes, folder, time_limit=DOWNLOAD_TIME_LIMIT):
    """Stream ``url`` through ``adapter.download()`` into a new file of ``folder``, hashing
    and counting on the way: memory use does not grow with the file. No database access.

    Raises the adapter's ``ProviderError``s, and ``RetryableError`` past ``time_limit``.
    """
    deadline = time.monotonic() + time_limit
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{secrets.token_hex(16)}.part")
    sha1, sha256, size = hashlib.sha1(), hashlib.sha256(), 0
    try:
        # 0o666 minus the umask, like the files Odoo writes in its filestore.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as handle, adapter.download(url, max_bytes) as audio:
            mimetype = audio.mimetype
            for chunk in audio.chunks:
                handle.write(chunk)
                sha1.update(chunk)
                sha256.update(chunk)
                size += len(chunk)
                if time.monotonic() > deadline:
                    raise PROVIDER_ERRORS.RetryableError(
                        f"Download took longer than {time_limit} s"
                    )
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise
    return DownloadedFile(
        path=path,
        size=size,
        sha1=sha1.hexdigest(),
        sha256=sha256.hexdigest(),
        mimetype=mimetype,
        duration=_wav_duration(path) if mimetype == "audio/wav" else 0,
    )


def _wav_duration(path):
    """Seconds of audio in a WAV file (its header only is read), 0 if unreadable."""
    try:
        with wave.open(path, "rb") as reader:
            rate = reader.getframerate()
            return round(reader.getnframes() / rate) if rate else 0
    except (wave.Error, EOFError, OSError):
        return 0


class CrmVoipRecording(models.Model):
    """One recording of a call, from "the PBX has one" to a playable file (or a reason)."""

    _name = "crm.voip.recording"
    _description = "Call recording"
    _order = "call_date desc, id desc"
    _check_company_auto = True

    # The call, and what the lists show of it (stored: smart buttons, rules, retention).
    call_id = fields.Many2one(
        "crm.voip.call", required=True, ondelete="cascade", index=True, readonly=True
    )
    provider_id = fields.Many2one(related="call_id.provider_id", store=True, string="PBX")
    company_id = fields.Many2one(related="call_id.company_id", store=True, index=True)
    partner_id = fields.Many2one(related="call_id.partner_id", store=True, index=True)
    lead_id = fields.Many2one(related="call_id.lead_id", store=True, index=True)
    user_id = fields.Many2one(related="call_id.user_id", store=True, string="Salesperson")
    direction = fields.Selection(related="call_id.direction", store=True)
    call_date = fields.Datetime(related="call_id.date_start", store=True, string="Date")
    partner_number = fields.Char(related="call_id.partner_number", string="Client number")

    recording_ref = fields.Char(string="PBX recording id", required=True, readonly=True)
    state = fields.Selection(
        [
            ("pending", "To fetch"),
            ("downloading", "Fetching"),
            ("done", "Available"),
            ("failed", "Failed"),
            ("deleted", "Deleted"),
        ],
        default="pending",
        required=True,
        index=True,
        readonly=True,
    )
    attempts = fields.Integer(readonly=True)
    next_attempt_at = fields.Datetime(string="Next attempt", readonly=True, index=True)
    last_attempt_at = fields.Datetime(string="Last attempt", readonly=True)
    last_error = fields.Text(readonly=True)

    # The file
    attachment_id = fields.Many2one("ir.attachment", readonly=True, ondelete="set null")
    mimetype = fields.Char(string="Format", readonly=True)
    file_size = fields.Integer(string="Size (bytes)", readonly=True)
    checksum = fields.Char(string="SHA-256", readonly=True)
    duration = fields.Integer(string="Duration (s)", readonly=True, aggregator="sum")
    duration_display = fields.Char(string="Duration", compute="_compute_duration_display")
    downloaded_on = fields.Datetime(readonly=True)
    player_url = fields.Char(compute="_compute_player_url", string="Listen")

    # Retention
    keep_forever = fields.Boolean(help="Never delete this recording by the retention policy.")
    legal_hold = fields.Boolean(
        help="Under legal hold: kept whatever the retention policy or an erasure request says."
    )
    deleted_on = fields.Datetime(readonly=True)
    deletion_reason = fields.Selection(
        [
            ("retention", "Retention policy"),
            ("erasure", "Erasure request"),
            ("manual", "Deleted by a manager"),
        ],
        readonly=True,
    )

    _sql_constraints = [
        (
            "call_recording_unique",
            "UNIQUE(call_id, recording_ref)",
            "A recording is stored once per call.",
        ),
    ]

    # ------------------------------------------------------------------
    # Compute
    # ------------------------------------------------------------------

    @api.depends("call_id", "call_date")
    def _compute_display_name(self):
        for recording in self:
            date = (
                fields.Datetime.context_timestamp(recording, recording.call_date).strftime(
                    "%Y-%m-%d %H:%M"
                )
                if recording.call_date
                else ""
            )
            recording.display_name = recording.env._(
                "Recording: %(call)s %(date)s", call=recording.call_id.display_name, date=date
            ).strip()

    @api.depends("duration")
    def _compute_duration_display(self):
        for recording in self:
            minutes, seconds = divmod(recording.duration or 0, 60)
            recording.duration_display = f"{minutes}:{seconds:02d}" if recording.duration else ""

    @api.depends("state")
    def _compute_player_url(self):
        for recording in self:
            recording.player_url = (
                f"/crm_voip/recording/{recording.id}"
                if recording.state == "done" and recording.id
                else False
            )

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_retry(self):
        """Managers: fetch failed recordings again, from a fresh attempt count."""
        retry = self.filtered(lambda r: r.state in ("pending", "failed"))
        now = fields.Datetime.now()
        retry.write(
            {"state": "pending", "attempts": 0, "next_attempt_at": now, "last_error": False}
        )
        if retry:
            self._crm_voip_schedule(now)
        return True

    def action_delete_file(self):
        """Managers: delete the audio now (the call keeps the trace of it)."""
        self.check_access("unlink")
        self.filtered(lambda r: r.state != "deleted")._crm_voip_delete_files("manual")
        return True

    def action_open_call(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "res_model": "crm.voip.call",
            "res_id": self.call_id.id,
            "view_mode": "form",
        }

    # ------------------------------------------------------------------
    # Business: request
    # ------------------------------------------------------------------

    @api.model
    def _crm_voip_request(self, call, recording_ref):
        """The PBX reports recording ``recording_ref`` of ``call``: queue it (idempotent)
        and have the download cron run once the PBX is expected to serve it."""
        ref = (recording_ref or "").strip()[:255]
        if not ref:
            return self.browse()
        existing = self.search([("call_id", "=", call.id)])
        same = existing.filtered(lambda r: r.recording_ref == ref)
        if same:
            return same
        adapter_class = call.provider_id._crm_voip_adapter_class()
        if adapter_class.is_whole_call_ref(ref) and existing:
            return existing[:1]  # that whole-call reference names a recording we have
        now = fields.Datetime.now()
        when = now + timedelta(seconds=self._crm_voip_fetch_delay(call.provider_id))
        whole_call = existing.filtered(
            lambda r: (
                adapter_class.is_whole_call_ref(r.recording_ref)
                and r.state in ("pending", "failed")
            )
        )[:1]
        if whole_call:
            # The precise id arrived after a whole-call reference: fetch by the id.
            whole_call.write(
                {
                    "recording_ref": ref,
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": when,
                    "last_error": False,
                }
            )
            recording = whole_call
        else:
            recording = self.create(
                {"call_id": call.id, "recording_ref": ref, "next_attempt_at": when}
            )
        self._crm_voip_schedule(when)
        return recording

    @api.model
    def _crm_voip_fetch_delay(self, provider):
        param = self.env["ir.config_parameter"].sudo().get_param(FETCH_DELAY_PARAM)
        if param not in (None, False, ""):
            with contextlib.suppress(ValueError):
                return max(0, int(param))
        if provider.use_simulator:
            return 0  # the VATS simulator serves its recordings at once
        return provider._crm_voip_adapter_class().recording_fetch_delay

    @api.model
    def _crm_voip_max_bytes(self):
        param = self.env["ir.config_parameter"].sudo().get_param(MAX_BYTES_PARAM)
        with contextlib.suppress(TypeError, ValueError):
            if int(param) > 0:
                return int(param)
        return DEFAULT_MAX_BYTES

    @api.model
    def _crm_voip_schedule(self, when=None):
        """Run the download cron at ``when`` (now by default)."""
        cron = self.env.ref("crm_voip.ir_cron_crm_voip_fetch_recordings", raise_if_not_found=False)
        if cron:
            # Any user whose event names a recording may schedule its download; the cron
            # itself is an administrator's record.
            cron.sudo()._trigger(at=when)

    # ------------------------------------------------------------------
    # Business: download (cron)
    # ------------------------------------------------------------------

    @api.model
    def _crm_voip_due_domain(self):
        now = fields.Datetime.now()
        return [
            "|",
            "&",
            ("state", "=", "pending"),
            ("next_attempt_at", "<=", now),
            "&",
            ("state", "=", "downloading"),
            ("last_attempt_at", "<", now - STALE_DOWNLOAD),
        ]

    @api.model
    def _cron_crm_voip_fetch_recordings(self, batch_size=BATCH_SIZE):
        """Download the recordings that are due, one at a time.

        Outside tests each recording is committed as "downloading" before the PBX is
        called and committed again with its result: no transaction stays open across
        a slow download, and an interrupted worker loses at most one attempt.
        """
        auto_commit = not getattr(threading.current_thread(), "testing", False)
        started = time.monotonic()
        due = self.search(
            self._crm_voip_due_domain(), order="next_attempt_at, id", limit=batch_size
        )
        blocked_until = {}  # provider id -> when its rate limit ends
        done = 0
        for recording in due:
            if time.monotonic() - started > BATCH_TIME_BUDGET:
                break
            done += 1
            provider = recording.provider_id
            if provider.id in blocked_until:
                # Same PBX, still throttled: wait with it, without spending an attempt.
                recording.write({"state": "pending", "next_attempt_at": blocked_until[provider.id]})
            else:
                error = recording._crm_voip_fetch(auto_commit=auto_commit)
                if isinstance(error, PROVIDER_ERRORS.RateLimitError):
                    blocked_until[provider.id] = recording.next_attempt_at
            if auto_commit:
                self.env.cr.commit()
        remaining = self.search_count(self._crm_voip_due_domain())
        self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
        if remaining:
            self._crm_voip_schedule()
        upcoming = self.search(
            [("state", "=", "pending"), ("next_attempt_at", ">", fields.Datetime.now())],
            order="next_attempt_at",
            limit=1,
        )
        if upcoming:
            self._crm_voip_schedule(upcoming.next_attempt_at)
        return done

    def _crm_voip_fetch(self, auto_commit=False):
        """Fetch this recording once; returns the ``ProviderError`` met, if any."""
        self.ensure_one()
        # Everything the download needs is read before the commit: nothing touches the
        # database again until the file is on disk.
        provider = self.provider_id
        recording_ref = self.recording_ref
        pbx_call_id = self.call_id.provider_call_id
        max_bytes = self._crm_voip_max_bytes()
        folder = self.env["ir.attachment"]._full_path(TMP_FOLDER)
        if self.attempts >= MAX_ATTEMPTS:
            # Taken again after downloads that never finished (worker killed each time).
            error = PROVIDER_ERRORS.PermanentError("The download was interrupted too many times")
            self._crm_voip_fetch_failed(error)
            return error
        self.write(
            {
                "state": "downloading",
                "attempts": self.attempts + 1,
                "last_attempt_at": fields.Datetime.now(),
            }
        )
        try:
            adapter = provider._get_crm_voip_adapter()
        except PROVIDER_ERRORS.ProviderError as error:
            self._crm_voip_fetch_failed(error)
            return error
        if auto_commit:
            self.env.cr.commit()
        crash_point(self.env, "fetch_recordings")
        download = error = None
        try:
            link = adapter.recording_link(recording_ref, call_id=pbx_call_id)
            download = download_to_file(adapter, link.url, max_bytes, folder)
        except PROVIDER_ERRORS.ProviderError as provider_error:
            error = provider_error
        except OSError as os_error:
            error = PROVIDER_ERRORS.RetryableError(f"Could not write the file: {os_error}")
        except Exception as unexpected:  # noqa: BLE001 - a bug must not retry forever either
            _logger.exception("crm_voip: unexpected error fetching recording %s", self.id)
            error = PROVIDER_ERRORS.RetryableError(f"{type(unexpected).__name__}: {unexpected}")
        finally:
            adapter.close()
        if error is not None:
            self._crm_voip_fetch_failed(error)
            return error
        provider._crm_voip_api_succeeded()
        try:
            with self.env.cr.savepoint():
                self._crm_voip_store(download)
        except Exception as store_error:  # noqa: BLE001 - recorded on the recording, retried
            _logger.exception("crm_voip: could not store recording %s", self.id)
            error = PROVIDER_ERRORS.RetryableError(
                f"Could not store the file: {type(store_error).__name__}: {store_error}"
            )
            self._crm_voip_fetch_failed(error)
        finally:
            download.discard()
        return error

    def _crm_voip_fetch_failed(self, error):
        """Retry later with backoff (or after the PBX's ``Retry-After``), or give up."""
        self.ensure_one()
        self.provider_id._crm_voip_api_failed(error)
        now = fields.Datetime.now()
        message = str(error)[:1000] or type(error).__name__
        wait = None
        if isinstance(error, PROVIDER_ERRORS.RateLimitError):
            wait = timedelta(seconds=error.retry_after)
        elif error.retryable:
            step = min(max(self.attempts, 1), len(BACKOFF_MINUTES)) - 1
            wait = timedelta(minutes=BACKOFF_MINUTES[step])
        if wait is None or self.attempts >= MAX_ATTEMPTS:
            self.write({"state": "failed", "next_attempt_at": False, "last_error": message})
            _logger.warning(
                "crm_voip: recording %s of call %s failed after %s attempt(s): %s",
                self.id,
                self.call_id.id,
                self.attempts,
                message,
            )
            return
        self.write({"state": "pending", "next_attempt_at": now + wait, "last_error": message})
        _logger.info(
            "crm_voip: recording %s not fetched (attempt %s), next try in %s: %s",
            self.id,
            self.attempts,
            wait,
            message,
        )

    def _crm_voip_store(self, download):
        """Attach the downloaded file to this recording, moving it into the filestore
        rather than reading it into memory."""
        self.ensure_one()
        # The attachment belongs to the recording (res_model/res_id): reading it requires
        # reading the recording, whatever the cron's user is.
        attachments = self.env["ir.attachment"].sudo()
        extension = FILE_EXTENSIONS.get(download.mimetype, "bin")
        values = {
            "name": self._crm_voip_file_name(extension),
            "type": "binary",
            "res_model": self._name,
            "res_id": self.id,
            "mimetype": download.mimetype,
        }
        if attachments._storage() == "file":
            fname = f"{download.sha1[:2]}/{download.sha1}"
            full_path = attachments._full_path(fname)
            os.makedirs(os.path.dirname(full_path), exist_ok=True)
            if not (os.path.isfile(full_path) and os.path.getsize(full_path) == download.size):
                os.replace(download.path, full_path)
            # Collected by the filestore GC unless a committed attachment names it.
            attachments._mark_for_gc(fname)
            attachment = attachments.create(values)
            # create() computes these from `raw`, which would load the whole file: the
            # file is already in place, so write them the way ir.attachment itself does.
            self.env.cr.execute(
                SQL(
                    "UPDATE ir_attachment SET store_fname = %s, checksum = %s, file_size = %s"
                    " WHERE id = %s",
                    fname,
                    download.sha1,
                    download.size,
                    attachment.id,
                )
            )
            attachment.invalidate_recordset(["store_fname", "checksum", "file_size"])
        else:
            with open(download.path, "rb") as handle:
                attachment = attachments.create(dict(values, raw=handle.read()))
        self.write(
            {
                "state": "done",
                "attachment_id": attachment.id,
                "mimetype": download.mimetype,
                "file_size": download.size,
                "checksum": download.sha256,
                "duration": download.duration or self.call_id.talk_seconds,
                "downloaded_on": fields.Datetime.now(),
                "next_attempt_at": False,
                "last_error": False,
            }
        )

    def _crm_voip_file_name(self, extension):
        """``<call id>_<client number>_<YYYYmmdd-HHMMSS>.<ext>``, as PBXs name them."""
        self.ensure_one()
        call = self.call_id
        number = (call.partner_number_e164 or call.partner_number or "").lstrip("+")
        number = "".join(ch for ch in number if ch.isalnum()) or "unknown"
        moment = call.date_start or self.create_date or fields.Datetime.now()
        return f"{call.id}_{number}_{moment.strftime('%Y%m%d-%H%M%S')}.{extension}"

    # ------------------------------------------------------------------
    # Business: deletion (retention, erasure)
    # ------------------------------------------------------------------

    def _crm_voip_attachments(self):
        if not self.ids:
            return self.env["ir.attachment"]
        # Technical: every file of these recordings, whoever may read them.
        return (
            self.env["ir.attachment"]
            .sudo()
            .search([("res_model", "=", self._name), ("res_id", "in", self.ids)])
        )

    def _crm_voip_delete_files(self, reason):
        """Delete the audio files; keep the recording rows (and the calls) as the trace."""
        if not self:
            return
        now = fields.Datetime.now()
        self._crm_voip_attachments().unlink()
        recordings_sudo = self.sudo()
        recordings_sudo.write(
            {
                "state": "deleted",
                "attachment_id": False,
                "deleted_on": now,
                "deletion_reason": reason,
                "next_attempt_at": False,
            }
        )
        label = dict(self._fields["deletion_reason"]._description_selection(self.env))[reason]
        for recording in recordings_sudo:
            recording.call_id._message_log(
                body=self.env._(
                    "Call recording deleted on %(date)s (%(reason)s).",
                    date=fields.Date.to_string(now.date()),
                    reason=label,
                )
            )

    @api.model
    def _crm_voip_erase_partners(self, partners, companies=None):
        """Erasure of ``partners``' personal data: delete their recordings' files (of
        ``companies`` when given), except those under legal hold. Returns ``(erased,
        held)`` recordings."""
        domain = [("partner_id", "in", partners.ids), ("state", "!=", "deleted")]
        if companies is not None:
            domain.append(("company_id", "in", companies.ids))
        recordings = self.sudo().search(domain)
        held = recordings.filtered("legal_hold")
        erased = recordings - held
        erased._crm_voip_delete_files("erasure")
        if erased or held:
            _logger.info(
                "crm_voip: erasure of partners %s: %s recording(s) deleted, %s under legal hold",
                partners.ids,
                len(erased),
                len(held),
            )
        return erased, held

    @api.model
    def _cron_crm_voip_recordings_retention(self):
        """Daily: delete the files of recordings older than their company keeps them,
        unless kept forever or under legal hold; then clean up leftovers."""
        auto_commit = not getattr(threading.current_thread(), "testing", False)
        now = fields.Datetime.now()
        deleted = 0
        companies = self.env["res.company"].search([("crm_voip_recording_retention_days", ">", 0)])
        for company in companies:
            cutoff = now - timedelta(days=company.crm_voip_recording_retention_days)
            domain = [
                ("company_id", "=", company.id),
                ("state", "=", "done"),
                ("keep_forever", "=", False),
                ("legal_hold", "=", False),
                "|",
                ("call_date", "<", cutoff),
                "&",
                ("call_date", "=", False),
                ("create_date", "<", cutoff),
            ]
            while True:
                expired = self.search(domain, limit=RETENTION_BATCH_SIZE)
                if not expired:
                    break
                expired._crm_voip_delete_files("retention")
                deleted += len(expired)
                if auto_commit:
                    self.env.cr.commit()
        self._crm_voip_delete_orphan_files()
        if deleted:
            _logger.info("crm_voip: retention deleted %s call recording(s)", deleted)
        return deleted

    @api.model
    def _crm_voip_delete_orphan_files(self):
        """Files of recordings that are gone (their call was deleted and the database
        cascaded), and temporary files of interrupted downloads."""
        attachments = self.env["ir.attachment"].sudo()
        attachments.flush_model(["res_model", "res_id"])
        self.env.cr.execute(
            SQL(
                """
                SELECT a.id FROM ir_attachment a
                LEFT JOIN crm_voip_recording r ON r.id = a.res_id
                WHERE a.res_model = %s AND r.id IS NULL
                """,
                self._name,
            )
        )
        orphan_ids = [row[0] for row in self.env.cr.fetchall()]
        if orphan_ids:
            attachments.browse(orphan_ids).unlink()
        folder = attachments._full_path(TMP_FOLDER)
        if os.path.isdir(folder):
            limit = time.time() - TMP_MAX_AGE
            for entry in os.scandir(folder):
                if entry.is_file() and entry.stat().st_mtime < limit:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)
        return len(orphan_ids)
