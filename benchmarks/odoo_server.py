#!/usr/bin/env python3
"""Odoo's command line, started from a script file: the benchmarks' multi-process server.

``python3 -m odoo --workers=2`` respawns its gevent process as ``python3 <sys.argv[0]>
gevent ...``; with ``-m`` that is ``odoo/__main__.py`` run as a script, whose relative import
fails, and the gevent process crash-loops. Started as ``python3 benchmarks/odoo_server.py
<odoo arguments>``, the respawn runs this file again, with ``gevent`` first, which Odoo's
import recognizes.
"""

import os

os.environ.setdefault("TZ", "UTC")

if __name__ == "__main__":
    import odoo.cli

    odoo.cli.main()
