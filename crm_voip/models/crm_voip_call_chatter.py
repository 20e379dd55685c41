"""The call's own lines in the chatter of its contact and lead."""

from markupsafe import Markup

from odoo import api, models
from odoo.tools import SQL
from odoo.tools.mail import generate_tracking_message_id


def _prefetch_user_names(users):
    """A user's name is his contact's: read just that, not the two whole rows."""
    users = users.sudo()
    users.fetch(["partner_id"])
    users.partner_id.fetch(["name"])


class CrmVoipCall(models.Model):
    _inherit = "crm.voip.call"

    def _crm_voip_log_summary(self, records):
        """The call's summary as a logged note on each record's chatter, in SQL.

        What ``_message_log()`` writes (a notification: logged, nobody notified, nobody
        followed), without its cost on every hang-up: a ``mail.message`` create
        computes the company's catch-all address and sanitizes the body, which is
        ours and escaped. The salesperson (or OdooBot, for unanswered calls) signs it.
        Being a notification, not a comment, tells it apart from what people wrote
        (the popup's history lists the calls themselves, and people's messages).
        """
        call = self.sudo()  # the author's contact, read without the users' record rules
        call.user_id.fetch(["partner_id"])
        author = call.user_id.partner_id or self.env.ref("base.partner_root").sudo()
        author.fetch(["name", "email"])
        body = Markup(
            '<p>📞 <a href="#" data-oe-model="crm.voip.call" data-oe-id="%s">%s</a></p>'
        ) % (self.id, self._crm_voip_summary_text())
        subtype_id = self.env["ir.model.data"]._xmlid_to_res_id("mail.mt_note")
        now = self.env.cr.now()
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO mail_message (
                    model, res_id, body, message_type, subtype_id, is_internal,
                    author_id, email_from, message_id, email_add_signature, date,
                    create_uid, write_uid, create_date, write_date)
                VALUES %s
                """,
                SQL(", ").join(
                    SQL(
                        "(%s, %s, %s, 'notification', %s, TRUE, %s, %s, %s, FALSE,"
                        " %s, %s, %s, %s, %s)",
                        record._name,
                        record.id,
                        str(body),
                        subtype_id,
                        author.id,
                        author.email_formatted or None,
                        generate_tracking_message_id("message-notify"),
                        now,
                        self.env.uid,
                        self.env.uid,
                        now,
                        now,
                    )
                    for record in records
                ),
            )
        )
        for record in records:
            record.invalidate_recordset(["message_ids"])

    def _crm_voip_summary_text(self):
        self.ensure_one()
        _prefetch_user_names(self.user_id)
        self.line_id.sudo().fetch(["name"])
        return self._crm_voip_summary_line(
            {
                "direction": self.direction,
                "number": self.partner_number_e164 or self.partner_number,
                "state": self.state,
                "user_name": self.user_id.name,
                "talk_seconds": self.talk_seconds,
                "line_name": self.line_id.name,
            }
        )

    @api.model
    def _crm_voip_summary_line(self, call, state_labels=None):
        """``Incoming call from +7 495 … · Answered · Anna · 2 min 05 s · Moscow``.

        ``call`` holds plain values (direction, number, state, user_name,
        talk_seconds, line_name): the popup reads them in SQL, many calls at once.
        """
        if state_labels is None:
            state_labels = dict(self._fields["state"]._description_selection(self.env))
        number = self._crm_voip_format_number(call["number"] or "")
        if call["direction"] == "outbound":
            what = self.env._("Outgoing call to %(number)s", number=number)
        else:
            what = self.env._("Incoming call from %(number)s", number=number)
        parts = [what, state_labels[call["state"]]]
        if call["user_name"]:
            parts.append(call["user_name"])
        if call["talk_seconds"]:
            minutes, seconds = divmod(call["talk_seconds"], 60)
            parts.append(
                self.env._("%(minutes)s min %(seconds)02d s", minutes=minutes, seconds=seconds)
            )
        if call["line_name"]:
            parts.append(call["line_name"])
        return " · ".join(parts)
