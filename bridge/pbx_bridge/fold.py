"""Folding Asterisk channel events into calls of the generic protocol (pure, stdlib only).

Asterisk reports channels, not calls. ``AmiFolder`` (AMI events) and ``AriFolder`` (ARI
events) group the channels of one call by ``Linkedid``, follow its legs and emit generic
protocol events (``__manifest_docs__/generic_webhook.md``) ready to JSON-encode and sign.
See ``__manifest_docs__/protocols/asterisk.md`` for the rules.

Each emitted event is a dict with ``id`` (deterministic: a re-post is a duplicate),
``type``, ``call_id`` (the Linkedid), ``leg_id``, ``direction``, ``from``, ``to``, ``did``,
``extension``, ``timestamp`` (Unix seconds, float), and where they apply ``disposition``,
``duration`` (int seconds), ``recording_id`` and ``origin_ref`` (the click-to-call's
reference, from the ``CRM_VOIP_REF`` channel variable or ``expect_originate``).
"""

import time


class AmiFolder:
    """AMI events (dicts of str, as ``amiwire`` decodes them) → generic call events."""

    def __init__(
        self,
        *,
        internal_contexts=("from-internal",),
        did_variable="",
        recording_dir="",
        clock=time.time,
        max_idle=6 * 3600,
    ):
        self.internal_contexts = frozenset(internal_contexts)
        self.did_variable = did_variable
        self.recording_dir = recording_dir.rstrip("/")
        self.clock = clock
        self.max_idle = max_idle

    def expect_originate(self, channel_id, *, extension, number, ref=""):
        """Announce a click-to-call sent with ``Originate`` and ``ChannelId: channel_id``:
        its call is outbound from ``extension`` to ``number`` even if the phone never
        answers (then Asterisk says little more than a Hangup)."""

    def feed(self, message):
        """One AMI event → 0..n generic events. Unknown or malformed events give []."""
        return []

    def expire(self, now=None):
        """Close the calls idle for longer than ``max_idle`` (their Hangup was lost, e.g.
        during a reconnect): each ends as ended (answered) or missed, never lost."""
        return []

    def open_calls(self):
        return 0


class AriFolder:
    """ARI events (decoded JSON dicts of the events WebSocket) → generic call events."""

    def __init__(self, **options):
        self._ami = AmiFolder(**options)

    def expect_originate(self, channel_id, *, extension, number, ref=""):
        self._ami.expect_originate(channel_id, extension=extension, number=number, ref=ref)

    def feed(self, message):
        return []

    def expire(self, now=None):
        return self._ami.expire(now)

    def open_calls(self):
        return self._ami.open_calls()
