"""Call states and the groups the suite reasons with, defined once.

Python (models, SQL reports, routing, dialer) imports these; the browser receives them
with the session (``ir.http.session_info``), so no module spells a group itself.
"""

RINGING = "ringing"
TALKING = "talking"
DONE = "done"
MISSED = "missed"
BUSY = "busy"
FAILED = "failed"

#: Every state, in the order of the call's selection field.
STATES = (RINGING, TALKING, DONE, MISSED, BUSY, FAILED)

#: The call is in progress: the PBX will report more.
LIVE = (RINGING, TALKING)
#: The call is over: only late details (answer time, recording) may still change.
FINAL = (DONE, MISSED, BUSY, FAILED)
#: Somebody talked with the client (a call still in progress counts).
ANSWERED = (TALKING, DONE)
#: Nobody talked with the client.
UNANSWERED = (MISSED, BUSY, FAILED)

#: A call never moves backwards: events arrive late, twice or out of order.
RANK = {RINGING: 0, TALKING: 1, DONE: 2, MISSED: 2, BUSY: 2, FAILED: 2}

#: The final state of a call by its normalized disposition (``providers.events.DISPOSITIONS``).
FINAL_STATE_BY_DISPOSITION = {
    "answered": DONE,
    "busy": BUSY,
    "failed": FAILED,
    "no_answer": MISSED,
    "cancel": MISSED,
}


def groups():
    """The groups as plain lists, for the browser."""
    return {
        "live": list(LIVE),
        "final": list(FINAL),
        "answered": list(ANSWERED),
        "unanswered": list(UNANSWERED),
    }
