"""What the browsers see of a call: the pushes, the incoming-call popup, the call bar."""

from odoo import api, fields, models
from odoo.tools import SQL, html2plaintext, ormcache

from .. import providers
from ..tools import bus_push

EV = providers.events
# The models whose records the popup shows, filtered by what its recipient may read.
POPUP_MODELS = ("res.partner", "crm.lead", "crm.voip.call")
NOTHING_VISIBLE = SQL("(SELECT 1 WHERE FALSE)")


def _user_name_sql(user_id):
    """A user's name (his contact's), as a sub-query: ``user_id`` is a value or a column.

    Nested rather than joined: with the 30 indexes of ``res_partner``, PostgreSQL plans
    it in half the time, and on the webhook path every statement is planned again.
    """
    return SQL(
        "(SELECT name FROM res_partner"
        " WHERE id = (SELECT partner_id FROM res_users WHERE id = %s))",
        user_id,
    )


class CrmVoipCall(models.Model):
    _inherit = "crm.voip.call"

    def _crm_voip_notify(self, event):
        """Push the call to the browsers of the users it concerns, never to anyone else.

        An extension ringing gets the full popup; every later change (answered here or
        elsewhere, hung up) goes to everyone who was rung and to the call's user, so each
        popup updates or closes itself.
        """
        self.ensure_one()
        # What is pushed follows from the call itself, whatever the webhook user may
        # read; and in sudo, each read below is one plain query, without record rules.
        call = self.sudo()
        if event.kind == EV.AGENT_RINGING and call.direction == "inbound":
            user = call.provider_id._crm_voip_user_by_extension(event.extension)
            if user and call.state == "ringing":
                bus_push.push_to_users(
                    user, "crm_voip/incoming_call", call._crm_voip_popup_payload(user)
                )
            return
        if event.kind == EV.RECORDING_READY:
            return
        table, call_column, user_column = self._crm_voip_rang_table()
        # Everyone rung and the call's user: their contacts are their bus channels, and
        # whether they see clients' numbers (else they get the masked one).
        see_numbers_id = self.env["ir.model.data"]._xmlid_to_res_id(
            "crm_voip.group_crm_voip_see_numbers"
        )
        recipients = {True: [], False: []}
        for partner_id, sees_numbers in self.env.execute_query(
            SQL(
                "SELECT partner_id, EXISTS (SELECT FROM res_groups_users_rel"
                " WHERE uid = res_users.id AND gid = %s) FROM res_users WHERE id = %s"
                " OR id IN (SELECT %s FROM %s WHERE %s = %s) ORDER BY id",
                see_numbers_id,
                call.user_id.id or None,
                user_column,
                table,
                call_column,
                call.id,
            )
        ):
            recipients[sees_numbers].append(partner_id)
        for sees_numbers, partner_ids in recipients.items():
            if partner_ids:
                payload = call._crm_voip_state_payload()
                if not sees_numbers:
                    payload["number"] = providers.numbers.mask_number(payload["number"])
                bus_push.push_to_partners(self.env, partner_ids, "crm_voip/call_update", payload)

    # ------------------------------------------------------------------
    # Browser payloads (incoming-call popup, call bar)
    # ------------------------------------------------------------------

    def _crm_voip_state_payload(self):
        self.ensure_one()
        # Pushed on almost every PBX event: one query for the two names shown.
        [(user_name, partner_name)] = self.env.execute_query(
            SQL(
                "SELECT %s, (SELECT name FROM res_partner WHERE id = %s)",
                _user_name_sql(self.user_id.id or None),
                self.partner_id.id or None,
            )
        )
        return {
            "call_id": self.id,
            "direction": self.direction,
            "state": self.state,
            "origin": self.origin,
            "user_id": self.user_id.id,
            "user_name": user_name or "",
            # Whole for whoever builds it in sudo (the pushes mask it per recipient).
            "number": self._crm_voip_number_for(self.env.user)
            if not self.env.su
            else self._crm_voip_format_number(self.partner_number_e164)
            or self.partner_number
            or "",
            "partner_name": partner_name or "",
            "date_start": fields.Datetime.to_string(self.date_start) if self.date_start else False,
            "date_answer": fields.Datetime.to_string(self.date_answer)
            if self.date_answer
            else False,
            "talk_seconds": self.talk_seconds,
            "wrapup_done": self.wrapup_done,
        }

    def _crm_voip_popup_payload(self, recipient, history_limit=3):
        """Everything the popup of ``recipient`` shows, sent with the ringing event.

        Built while the phone rings, for each rung user: the contact, the lead, the
        client's open opportunities, last calls and messages and overdue activities come
        from one query (``_crm_voip_popup_query``), which keeps to the records the
        recipient may read: his record rules are part of it.
        """
        self.ensure_one()
        self.env.flush_all()  # the query reads what this request has just written
        lang = self.env.lang or "en_US"
        today = fields.Date.context_today(self.with_context(tz=self.provider_id.timezone))
        visible = self._crm_voip_visible_to(recipient)
        [(line_name, partner, lead, opportunities, calls, messages, activities)] = (
            self.env.execute_query(self._crm_voip_popup_query(lang, today, history_limit, visible))
        )
        opportunities = opportunities or []
        if not partner and lead:
            # No contact: the popup offers the lead itself.
            opportunities = [dict(lead, stage=lead["stage"] or "")]
        responsible = (
            (partner and partner["user_name"])
            or (lead and lead["user_name"])
            or (opportunities[:1] and opportunities[0]["user_name"])
            or ""
        )
        currency = self.env["res.currency"]
        if opportunities:
            currency = self.company_id.sudo().currency_id
        payload = self._crm_voip_state_payload()
        payload["number"] = self._crm_voip_number_for(recipient)
        if not recipient._crm_voip_sees_numbers():
            for call in calls or []:
                call["number"] = providers.numbers.mask_number(call["number"])
        payload.update(
            {
                # The contact's name as the recipient may read it, as in "partner".
                "partner_name": partner["name"] if partner else "",
                "partner": partner
                and {
                    "id": partner["id"],
                    "name": partner["name"],
                    "company_name": partner["company_name"] or "",
                    "is_company": partner["is_company"],
                }
                or False,
                "lead": lead
                and {"id": lead["id"], "name": lead["name"], "type": lead["type"]}
                or False,
                "line": (self.line_id or self.did_number)
                and {"name": line_name or "", "number": self.did_number}
                or False,
                "responsible": responsible,
                "opportunities": [
                    {
                        "id": opportunity["id"],
                        "name": opportunity["name"],
                        "stage": opportunity["stage"] or "",
                        "expected_revenue": opportunity["expected_revenue"],
                        "revenue": currency.format(opportunity["expected_revenue"])
                        if currency
                        else str(opportunity["expected_revenue"]),
                        "probability": opportunity["probability"],
                    }
                    for opportunity in opportunities
                ],
                "interactions": self._crm_voip_interactions(calls, messages, history_limit),
                "overdue_activities": [
                    {
                        "id": activity["id"],
                        "summary": activity["summary"] or activity["type_name"] or "",
                        "date_deadline": activity["date_deadline"],
                        "user": activity["user_name"] or "",
                    }
                    for activity in activities or []
                ],
            }
        )
        return payload

    def _crm_voip_visible_to(self, user):
        """``{model: SQL sub-query of the ids user may read}`` for the popup's models.

        Each is the query the ORM would run for ``user``'s search (his access rights and
        record rules, in the call's company), to be used inside one statement. A model he
        may not read at all, or a company he does not belong to, gives no ids.
        """
        if self.company_id.id not in user.sudo()._get_company_ids():
            return dict.fromkeys(POPUP_MODELS, NOTHING_VISIBLE)
        visible = self._crm_voip_visible_sql(user.id, self.company_id.id)
        return dict(zip(POPUP_MODELS, visible, strict=True))

    @api.model
    @ormcache("user_id", "company_id")
    def _crm_voip_visible_sql(self, user_id, company_id):
        """The sub-queries of ``_crm_voip_visible_to``, in ``POPUP_MODELS`` order.

        Turning a user's record rules into SQL is most of the cost of a popup built for
        him; the result is kept as the rules' own domains are (``ir.rule._compute_domain``:
        per user and company), and dropped with them when rules, groups or access rights
        change.
        """
        env = self.env(
            user=user_id,
            su=False,
            context={"allowed_company_ids": [company_id], "active_test": False},
        )
        return tuple(
            env[name]._search([]).subselect() if env[name].has_access("read") else NOTHING_VISIBLE
            for name in POPUP_MODELS
        )

    def _crm_voip_popup_query(self, lang, today, history_limit, visible):
        """One round trip for the popup; each part is a JSON value (NULL when empty).

        The same rules as the ORM searches they replace: active opportunities of the
        client's family (his company, its people, their addresses, archived ones too)
        in the call's company or shared, newest stage change first; the family's (or
        the lead's) other calls in the company, newest first; the newest comments and
        e-mails on the contact and the lead; their overdue activities, oldest first.
        Everything is kept to what the recipient may read (``visible``, from
        ``_crm_voip_visible_to``): a message or an activity follows its record.
        """

        def translated(column):
            return SQL("COALESCE(%s->>%s, %s->>'en_US')", column, lang, column)

        def timestamp(column):
            return SQL("to_char(%s, 'YYYY-MM-DD HH24:MI:SS')", column)

        partner_id = self.partner_id.id or 0
        lead_id = self.lead_id.id or 0
        family = SQL(
            "SELECT member.id FROM res_partner member WHERE member.commercial_partner_id ="
            " (SELECT commercial_partner_id FROM res_partner WHERE id = %s)",
            partner_id,
        )
        call_filter = (
            SQL("other.partner_id IN (%s)", family)
            if self.partner_id
            else SQL("other.lead_id = %s", lead_id)
        )
        # The shown contact and lead, if the recipient may read them (else 0).
        partner = SQL(
            "(SELECT COALESCE((SELECT %s WHERE %s IN %s), 0))",
            partner_id,
            partner_id,
            visible["res.partner"],
        )
        lead = SQL(
            "(SELECT COALESCE((SELECT %s WHERE %s IN %s), 0))",
            lead_id,
            lead_id,
            visible["crm.lead"],
        )
        return SQL(
            """
            WITH shown AS (SELECT %(partner)s AS partner, %(lead)s AS lead)
            SELECT
              (SELECT %(line_name)s FROM crm_voip_line line WHERE line.id = %(line)s),
              (SELECT row_to_json(p) FROM (
                  SELECT partner.id, partner.name, partner.is_company,
                         CASE WHEN company.id != partner.id THEN company.name END AS company_name,
                         %(partner_user)s AS user_name
                    FROM res_partner partner
                    LEFT JOIN res_partner company ON company.id = partner.commercial_partner_id
                   WHERE partner.id = (SELECT partner FROM shown)) p),
              (SELECT row_to_json(l) FROM (
                  SELECT lead.id, lead.name, lead.type, lead.expected_revenue, lead.probability,
                         %(lead_stage)s AS stage, %(lead_user)s AS user_name
                    FROM crm_lead lead LEFT JOIN crm_stage stage ON stage.id = lead.stage_id
                   WHERE lead.id = (SELECT lead FROM shown)) l),
              (SELECT json_agg(o) FROM (
                  SELECT lead.id, lead.name, lead.expected_revenue, lead.probability,
                         %(lead_stage)s AS stage, %(lead_user)s AS user_name
                    FROM crm_lead lead LEFT JOIN crm_stage stage ON stage.id = lead.stage_id
                   WHERE lead.partner_id IN (%(family)s) AND lead.active
                     AND lead.type = 'opportunity' AND lead.probability < 100
                     AND (lead.company_id = %(company)s OR lead.company_id IS NULL)
                     AND lead.id IN %(visible_leads)s
                   ORDER BY lead.date_last_stage_update DESC, lead.id DESC
                   LIMIT 5) o),
              (SELECT json_agg(c) FROM (
                  SELECT %(call_date)s AS date, other.direction, other.state,
                         COALESCE(other.partner_number_e164, other.partner_number) AS number,
                         other.talk_seconds, %(call_user)s AS user_name,
                         %(line_name)s AS line_name
                    FROM crm_voip_call other
                    LEFT JOIN crm_voip_line line ON line.id = other.line_id
                   WHERE other.id != %(call)s AND other.company_id = %(company)s
                     AND (%(partner_id)s != 0 OR %(lead_id)s != 0) AND %(call_filter)s
                     AND other.id IN %(visible_calls)s
                   ORDER BY other.date_start DESC, other.id DESC
                   LIMIT %(limit)s) c),
              (SELECT json_agg(m) FROM (
                  SELECT %(message_date)s AS date, message.body, author.name AS author
                    FROM mail_message message
                    LEFT JOIN res_partner author ON author.id = message.author_id
                   WHERE message.message_type IN ('comment', 'email')
                     AND ((message.model = 'res.partner'
                           AND message.res_id = (SELECT partner FROM shown))
                          OR (message.model = 'crm.lead'
                              AND message.res_id = (SELECT lead FROM shown)))
                   ORDER BY message.id DESC
                   LIMIT %(limit)s) m),
              (SELECT json_agg(a) FROM (
                  SELECT activity.id, activity.summary, %(type_name)s AS type_name,
                         activity.date_deadline::text AS date_deadline,
                         %(activity_user)s AS user_name
                    FROM mail_activity activity
                    LEFT JOIN mail_activity_type kind ON kind.id = activity.activity_type_id
                   WHERE activity.active AND activity.date_deadline < %(today)s
                     AND ((activity.res_model = 'res.partner'
                           AND activity.res_id = (SELECT partner FROM shown))
                          OR (activity.res_model = 'crm.lead'
                              AND activity.res_id = (SELECT lead FROM shown)))
                   ORDER BY activity.date_deadline, activity.id
                   LIMIT 5) a)
            """,
            partner=partner,
            lead=lead,
            partner_id=partner_id,
            lead_id=lead_id,
            visible_leads=visible["crm.lead"],
            visible_calls=visible["crm.voip.call"],
            call=self.id,
            line=self.line_id.id or 0,
            company=self.company_id.id,
            family=family,
            call_filter=call_filter,
            limit=history_limit,
            today=today,
            partner_user=_user_name_sql(SQL("partner.user_id")),
            lead_user=_user_name_sql(SQL("lead.user_id")),
            call_user=_user_name_sql(SQL("other.user_id")),
            activity_user=_user_name_sql(SQL("activity.user_id")),
            lead_stage=translated(SQL("stage.name")),
            line_name=translated(SQL("line.name")),
            type_name=translated(SQL("kind.name")),
            call_date=timestamp(SQL("COALESCE(other.date_start, other.create_date)")),
            message_date=timestamp(SQL("message.date")),
        )

    def _crm_voip_interactions(self, calls, messages, limit):
        """The last calls and messages with this client, newest first."""
        state_labels = dict(self._fields["state"]._description_selection(self.env))
        items = [
            {
                "kind": "call",
                "date": call["date"],
                "summary": self._crm_voip_summary_line(call, state_labels),
            }
            for call in calls or []
        ]
        # The calls' own automatic lines are notifications, not among ``messages``: the
        # calls above already say it. What people wrote (wrap-up notes too) is, once:
        # a wrap-up note is posted on the contact and on his opportunity alike.
        seen = set()
        for message in messages or []:
            summary = (message["author"] or "") + ": " + html2plaintext(message["body"] or "")
            summary = summary.strip()[:160]
            if summary in seen:
                continue
            seen.add(summary)
            items.append({"kind": "message", "date": message["date"], "summary": summary})
        items.sort(key=lambda item: item["date"], reverse=True)
        return items[:limit]
