"""Whether Odoo's phone blacklist (the one SMS uses) blocks a number: the rule, once."""

from odoo import api, models
from odoo.tools import SQL


def blocked_number_sql(number_sql):
    """SQL condition: the E.164 number ``number_sql`` (an ``SQL`` expression, e.g. a
    column) has an active entry in the blacklist.

    The blacklist stores what ``_phone_format`` makes of a number, its E.164 form, as
    phonenumbers writes it (so does ``providers.numbers.normalize``): a plain equality,
    one probe of its unique index. Not the ORM's search on ``number``, which parses the
    value again in the current user's country. A function, for the SQL built without an
    environment (the dialer's claiming query); the blacklist's pending writes must have
    been flushed.
    """
    # An alias of its own: the condition may sit inside any query.
    return SQL(
        "EXISTS (SELECT 1 FROM phone_blacklist crm_voip_blocked"
        " WHERE crm_voip_blocked.number = %s AND crm_voip_blocked.active)",
        number_sql,
    )


class PhoneBlacklist(models.Model):
    _inherit = "phone.blacklist"

    @api.model
    def _crm_voip_blocked_sql(self, number_sql):
        """``blocked_number_sql``, the blacklist's pending writes flushed: for a query
        that tests a number column of many rows."""
        self.flush_model(["number", "active"])
        return blocked_number_sql(number_sql)

    @api.model
    def _crm_voip_blocked(self, numbers_e164, flush=True):
        """The blocked ones of ``numbers_e164`` (E.164 strings; empty values ignored), as
        a set, in one query.

        Read in SQL whoever asks: the blacklist is an administrators' model, and what it
        blocks applies to everyone's calls. ``flush=False`` when the caller has just
        flushed.
        """
        numbers = list({number for number in numbers_e164 if number})
        if not numbers:
            return set()
        if flush:
            self.flush_model(["number", "active"])
        if len(numbers) == 1:
            # A call start asks for its one number: the index probe, nothing around it.
            query = SQL("SELECT %s WHERE %s", numbers[0], blocked_number_sql(SQL("%s", numbers[0])))
        else:
            query = SQL(
                "SELECT wanted.number FROM unnest(%s::varchar[]) AS wanted(number) WHERE %s",
                numbers,
                blocked_number_sql(SQL("wanted.number")),
            )
        return {row[0] for row in self.env.execute_query(query)}
