"""What reconciliation with the PBX's call history writes on a call."""

from markupsafe import Markup, escape

from odoo import fields, models

from .. import providers
from ..callstate import machine, states

HISTORY = providers.history


class CrmVoipCall(models.Model):
    _inherit = "crm.voip.call"

    recovered = fields.Boolean(
        string="Recovered from the PBX history",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="Its webhooks never arrived, or not all of them: the call was logged or completed "
        "from the PBX's call history by the reconciliation.",
    )
    history_difference = fields.Text(
        string="Difference with the PBX history",
        readonly=True,
        copy=False,
        help="Where the PBX's call history contradicts what the webhooks said of the call, as "
        "the reconciliation last found it (also in the call's log).",
    )

    def _crm_voip_mark_recovered(self, created):
        """The history logged this call (``created``) or completed it: say so, once."""
        self.ensure_one()
        call = self.sudo()
        if call.recovered:
            return
        call.recovered = True
        if created:
            body = self.env._(
                "Recovered from the PBX history: none of this call's webhooks arrived."
            )
        else:
            body = self.env._(
                "Completed from the PBX history: the webhooks did not report the end of this call."
            )
        call._message_log(body=body)

    def _crm_voip_compare_history(self, history_call):
        """A call the events completed, against the PBX's history of it.

        The events stay authoritative for the outcome (the follow-ups ran on them); the
        history is for the talk time (the PBX bills by it), for who talked last (a
        transfer whose second answer the webhooks missed: the call is his, as the state
        machine's "latest answer" rule would have made it) and for a recording the events
        never named. A difference is logged on the call once; the talk time and the
        salesperson are corrected. Returns whether anything changed.
        """
        self.ensure_one()
        call = self.sudo()
        changed = False
        if (
            history_call.recording_ref
            and not call.recording_ref
            and not call.recording_ids
            and call.state == states.DONE
        ):
            call.recording_ref = history_call.recording_ref[:255]
            call._crm_voip_on_recording(history_call.recording_ref)
            changed = True
        differences = HISTORY.history_differences(
            {
                "date_start": call.date_start,
                "disposition": call.disposition,
                "talk_seconds": call.talk_seconds,
                "extension": call.extension,
            },
            history_call,
        )
        if not differences:
            return changed
        logged = (call.history_difference or "").splitlines()
        new_lines = [
            line
            for line in (self._crm_voip_history_difference_line(*item) for item in differences)
            if line not in logged
        ]
        if not new_lines:
            return changed  # already logged by an earlier run
        values = {"history_difference": "\n".join(logged + new_lines)}
        talk = next((item[2] for item in differences if item[0] == "talk_seconds"), None)
        if talk is not None:
            values["talk_seconds"] = talk
        answerer = self._crm_voip_history_answerer(differences)
        if answerer:
            values.update(extension=answerer[0], user_id=answerer[1].id)
        start = next((item[2] for item in differences if item[0] == "start"), None)
        if start:
            # The earliest start is the call's; its ring time follows, by the machine's rule.
            values["date_start"] = start
            times = {name: call[name] for name in ("date_start", "date_answer", "date_end")}
            times["talk_seconds"] = values.get("talk_seconds", call.talk_seconds)
            values.update(machine.timing_values(times, values))
        call.write(values)
        lines = Markup("<br/>").join(escape(line) for line in new_lines)
        call._message_log(
            body=Markup("%s<br/>%s")
            % (self.env._("The PBX history contradicts the webhooks of this call:"), lines)
        )
        return True

    def _crm_voip_history_answerer(self, differences):
        """``(extension, user)`` the history says talked last, when it is a salesperson
        of the account's; else None (the webhooks' stays)."""
        theirs = next((item[2] for item in differences if item[0] == "extension"), None)
        if not theirs or self.state != states.DONE:
            return None
        user = self.provider_id.sudo()._crm_voip_user_by_extension(theirs)
        return (theirs, user) if user else None

    def _crm_voip_history_difference_line(self, what, ours, theirs):
        dispositions = dict(self._fields["disposition"]._description_selection(self.env))
        if what == "outcome":
            return self.env._(
                "Outcome: %(ours)s here, %(theirs)s in the PBX history (kept as it is).",
                ours=dispositions.get(ours, ours or "-"),
                theirs=dispositions.get(theirs, theirs),
            )
        if what == "start":
            return self.env._(
                "Started at %(ours)s here, %(theirs)s in the PBX history (corrected: the "
                "earliest start, its first webhook never came).",
                ours=fields.Datetime.to_string(ours),
                theirs=fields.Datetime.to_string(theirs),
            )
        if what == "talk_seconds":
            return self.env._(
                "Talk time: %(ours)s s here, %(theirs)s s in the PBX history (corrected).",
                ours=ours,
                theirs=theirs,
            )
        if self._crm_voip_history_answerer([(what, ours, theirs)]):
            return self.env._(
                "Answered by extension %(ours)s here, %(theirs)s in the PBX history "
                "(corrected: the last to talk).",
                ours=ours,
                theirs=theirs,
            )
        return self.env._(
            "Answered by extension %(ours)s here, %(theirs)s in the PBX history (kept as it is).",
            ours=ours,
            theirs=theirs,
        )
