"""Crash points of the scheduled jobs, for the tests of their crash safety only.

A job calls ``crash_point(env, "job")`` where a worker could die in the middle of a batch
(after a unit of work was committed, inside the next one). Nothing happens unless a test
asked for it:

- ``env.context["crm_voip_crash"] = {"job": "escalate", "at": 2}`` (a test thread only):
  the ``at``-th call raises ``SimulatedCrash``, which the job lets through, so the work
  in progress rolls back as a killed worker's would;
- the environment variable ``CRM_VOIP_KILL_AT=escalate:2`` (set by a test on the Odoo
  server process it starts): the ``at``-th call SIGKILLs the process, for real.
"""

import os
import signal
import threading

KILL_ENV = "CRM_VOIP_KILL_AT"
_kill_calls = {}


class SimulatedCrash(Exception):
    """A test's stand-in for a worker killed at this point."""


def expect_crash(case, run):
    """``run()`` must stop at its crash point. Not ``assertRaises``: Odoo's rolls the
    database back to before ``run``, and what the job committed before dying must stay."""
    try:
        run()
    except SimulatedCrash:
        return
    case.fail("the job did not reach its crash point")


def crash_point(env, job):
    spec = env.context.get("crm_voip_crash")
    if spec and spec.get("job") == job and getattr(threading.current_thread(), "testing", False):
        spec["at"] -= 1
        if spec["at"] <= 0:
            raise SimulatedCrash(job)
    kill = os.environ.get(KILL_ENV)
    if kill:
        kill_job, _sep, at = kill.partition(":")
        if kill_job == job:
            _kill_calls[job] = _kill_calls.get(job, 0) + 1
            if _kill_calls[job] >= int(at or 1):
                os.kill(os.getpid(), signal.SIGKILL)
