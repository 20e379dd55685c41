"""A bridge beside a self-hosted Asterisk/FreePBX: it folds the PBX's AMI or ARI events
into the suite's signed generic webhook events, spools them on disk, posts them to Odoo,
and serves Odoo's requests (click-to-call, routing, recordings, extensions, history)
over a signed HTTP(S) API. Standard library plus ``requests`` and ``websocket-client``."""

__version__ = "1.0.0"
