"""``python -m pbx_bridge --config bridge.toml`` runs the bridge until SIGTERM/SIGINT;
``--check`` only validates the configuration."""

import argparse
import logging
import signal
import sys
import threading

from . import __version__
from .config import ConfigError, load


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="pbx_bridge", description="Asterisk/FreePBX to Odoo bridge"
    )
    parser.add_argument("--config", required=True, help="path of the TOML configuration")
    parser.add_argument("--check", action="store_true", help="validate the configuration and exit")
    parser.add_argument("--version", action="version", version=__version__)
    args = parser.parse_args(argv)
    try:
        config = load(args.config)
    except ConfigError as error:
        print(f"pbx_bridge: configuration error: {error}", file=sys.stderr)
        return 2
    if args.check:
        print(f"pbx_bridge: {args.config} is valid ({config.source} source)")
        return 0
    logging.basicConfig(
        level=getattr(logging, config.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from .service import Bridge

    stopping = threading.Event()

    def request_stop(signum, _frame):
        logging.getLogger("pbx_bridge").info("signal %d: stopping", signum)
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        bridge = Bridge(config).start()
    except OSError as error:
        logging.getLogger("pbx_bridge").error("cannot start: %s", error)
        return 1
    stopping.wait()
    bridge.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
