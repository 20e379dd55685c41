from odoo import http
from odoo.http import request


class CrmVoipRecordingController(http.Controller):
    """Plays and downloads call recordings for the users allowed to read their call.

    The browser only ever sees this URL: the PBX's (temporary, credential-bearing)
    links are used by the download cron and never leave the server.
    """

    @http.route(
        "/crm_voip/recording/<int:recording_id>",
        type="http",
        auth="user",
        methods=["GET", "HEAD"],
    )
    def crm_voip_recording(self, recording_id, download=None, **_kwargs):
        recording = request.env["crm.voip.recording"].browse(recording_id).exists()
        # Not found and not allowed look the same: a URL must not tell that a
        # recording exists.
        if not recording or not recording.has_access("read"):
            raise request.not_found()
        # The user may read the recording (ACL and record rules checked just above):
        # its file is read as superuser, attachments being readable by nobody else.
        recording_sudo = recording.sudo()
        attachment_sudo = recording_sudo.attachment_id
        if recording_sudo.state != "done" or not attachment_sudo:
            raise request.not_found()
        stream = attachment_sudo._to_http_stream()
        # Served with HTTP Range support (206), so that players can seek.
        response = stream.get_response(as_attachment=bool(download))
        response.headers["Cache-Control"] = "private, no-cache"
        response.headers.setdefault("Accept-Ranges", "bytes")
        return response
