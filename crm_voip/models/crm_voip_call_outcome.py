from odoo import fields, models


class CrmVoipCallOutcome(models.Model):
    """What came out of a call, chosen by the salesperson when he wraps it up."""

    _name = "crm.voip.call.outcome"
    _description = "Call outcome"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    color = fields.Integer()
    suggest_next_call = fields.Boolean(
        string="Suggest a next call",
        help="The wrap-up panel proposes to schedule a call back with this outcome.",
    )
    is_positive = fields.Boolean(
        string="Positive",
        help="The client is interested: the wrap-up panel proposes an opportunity.",
    )
