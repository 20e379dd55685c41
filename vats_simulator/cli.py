"""Command line: ``python3 -m vats_simulator --help``."""

import argparse
import logging
import os
import signal
import sys
import threading

from .accounts import GenericAccount, ZadarmaAccount
from .live import DEFAULT_DIDS, DEFAULT_NUMBERS
from .scenarios import SCENARIOS
from .simulator import Simulator

_logger = logging.getLogger("vats_simulator")

EPILOG = """examples:
  serve the REST APIs only:
    python3 -m vats_simulator --port 8099 --zadarma-webhook URL --zadarma-key K --zadarma-secret S
  play one scenario and print what the receiver answered:
    python3 -m vats_simulator --zadarma-webhook URL --zadarma-key K --zadarma-secret S \\
        --scenario answered --record
  live traffic for a demo, one call every 5 s:
    python3 -m vats_simulator --generic-webhook URL --generic-secret S --generic-api-key K \\
        --live generic --interval 5 --numbers numbers.txt --extensions 100,101,102
"""


def list_arg(value):
    """A comma-separated list, or the name of a file with one value per line (``#`` comments)."""
    if value and os.path.isfile(value):
        with open(value, encoding="utf-8") as handle:
            lines = (line.split("#", 1)[0].strip() for line in handle)
            return [line for line in lines if line]
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python3 -m vats_simulator",
        description="Simulate cloud PBXs (Zadarma/Novofon and the generic signed JSON protocol) "
        "over HTTP: signed call webhooks and the providers' REST APIs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="REST listen address")
    parser.add_argument("--port", type=int, default=0, help="REST listen port (0: any free)")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (stderr)")

    zadarma = parser.add_argument_group("Zadarma account")
    zadarma.add_argument("--zadarma-webhook", metavar="URL", help="where to post call events")
    zadarma.add_argument("--zadarma-key", metavar="K", help="API key (REST authorization)")
    zadarma.add_argument("--zadarma-secret", metavar="S", help="API secret (signatures)")
    zadarma.add_argument("--timezone", default="Europe/Moscow", help="account timezone")
    zadarma.add_argument(
        "--signature-encoding",
        choices=("base64_hex", "base64_raw"),
        default="base64_hex",
        help="webhook Signature encoding",
    )

    generic = parser.add_argument_group("generic account")
    generic.add_argument("--generic-webhook", metavar="URL", help="where to post call events")
    generic.add_argument("--generic-secret", metavar="S", help="webhook signing secret")
    generic.add_argument("--generic-api-key", metavar="K", help="bearer token of the REST API")

    calls = parser.add_argument_group("calls")
    calls.add_argument(
        "--extensions", default="100,101,102,103", help="PBX extensions, comma list or file"
    )
    calls.add_argument("--numbers", help="caller numbers, comma list or file")
    calls.add_argument("--dids", help="company numbers (DIDs), comma list or file")
    calls.add_argument("--recording-size", type=int, default=64 * 1024, help="bytes per file")
    calls.add_argument(
        "--recording-format",
        choices=("mp3", "wav"),
        default="wav",
        help="recordings served: wav plays in browsers, mp3 is placeholder frames",
    )
    calls.add_argument(
        "--no-auto-originate",
        action="store_true",
        help="do not play an outgoing call after a click-to-call request",
    )

    modes = parser.add_argument_group("modes (default: serve the REST APIs until stopped)")
    modes.add_argument("--live", metavar="PROVIDER", choices=("zadarma", "generic"))
    modes.add_argument("--interval", type=float, default=5.0, help="seconds between live calls")
    modes.add_argument("--event-gap", type=float, default=0.0, help="seconds between events")
    modes.add_argument("--max-calls", type=int, help="stop live mode after N calls")
    modes.add_argument("--seed", type=int, help="random seed of live mode")
    modes.add_argument("--scenario", choices=SCENARIOS, help="play one scenario and exit")
    modes.add_argument("--provider", choices=("zadarma", "generic"), help="for --scenario")
    modes.add_argument("--caller", help="--scenario: caller number")
    modes.add_argument("--did", help="--scenario: called company number")
    modes.add_argument("--call-id", help="--scenario: call id")
    modes.add_argument("--record", action="store_true", help="--scenario: with a recording")
    modes.add_argument("--multipart", action="store_true", help="Zadarma: multipart bodies")
    modes.add_argument("--batch", action="store_true", help="generic: one batch of events")
    modes.add_argument(
        "--verify-url", action="store_true", help="check the Zadarma URL with zd_echo and exit"
    )
    return parser


def _accounts(parser, args):
    zadarma = generic = None
    z_args = (args.zadarma_webhook, args.zadarma_key, args.zadarma_secret)
    if any(z_args):
        if not all(z_args):
            parser.error("--zadarma-webhook, --zadarma-key and --zadarma-secret go together")
        zadarma = ZadarmaAccount(
            args.zadarma_webhook,
            args.zadarma_key,
            args.zadarma_secret,
            timezone=args.timezone,
            signature_encoding=args.signature_encoding,
        )
    g_args = (args.generic_webhook, args.generic_secret, args.generic_api_key)
    if any(g_args):
        if not all(g_args):
            parser.error("--generic-webhook, --generic-secret and --generic-api-key go together")
        generic = GenericAccount(args.generic_webhook, args.generic_secret, args.generic_api_key)
    if zadarma is None and generic is None:
        parser.error("give a Zadarma account, a generic account, or both")
    return zadarma, generic


def _scenario_provider(parser, args, sim):
    if args.provider:
        return args.provider
    configured = [p for p in ("zadarma", "generic") if getattr(sim, p) is not None]
    if len(configured) != 1:
        parser.error("--scenario needs --provider when both accounts are given")
    return configured[0]


def _event_name(event):
    if isinstance(event, dict):
        if "events" in event:
            return f"batch of {len(event['events'])}"
        return event.get("event") or event.get("type") or "?"
    return "raw bytes"


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    zadarma, generic = _accounts(parser, args)
    if args.live and {"zadarma": zadarma, "generic": generic}[args.live] is None:
        parser.error(f"--live {args.live} needs the {args.live} account options")
    if args.verify_url and zadarma is None:
        parser.error("--verify-url needs the Zadarma account options")
    extensions = list_arg(args.extensions)
    sim = Simulator(
        host=args.host,
        port=args.port,
        zadarma=zadarma,
        generic=generic,
        recording_size=args.recording_size,
        recording_format=args.recording_format,
        extensions=extensions,
        auto_play_originate=not args.no_auto_originate,
    )
    stop = threading.Event()

    def on_signal(signum, _frame):
        _logger.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    sim.start()
    code = 0
    try:
        if args.verify_url:
            ok = sim.verify_url("zadarma")
            print(f"zd_echo {'ok' if ok else 'FAILED'}: {zadarma.webhook_url}", flush=True)
            code = 0 if ok else 1
        if args.scenario:
            provider = _scenario_provider(parser, args, sim)
            params = {
                key: value
                for key, value in (
                    ("caller", args.caller),
                    ("did", args.did),
                    ("call_id", args.call_id),
                    ("record", args.record or None),
                )
                if value
            }
            deliveries = sim.play(
                provider, args.scenario, multipart=args.multipart, batch=args.batch, **params
            )
            for delivery in deliveries:
                answer = delivery.text.replace("\n", " ")[:200]
                print(
                    f"{delivery.status or delivery.error}\t{_event_name(delivery.event)}\t{answer}",
                    flush=True,
                )
            if any(d.status is None for d in deliveries):
                code = 1
        if args.live:
            sim.run_live(
                args.live,
                interval=args.interval,
                numbers=list_arg(args.numbers) or list(DEFAULT_NUMBERS),
                dids=list_arg(args.dids) or list(DEFAULT_DIDS),
                extensions=extensions,
                stop_event=stop,
                max_calls=args.max_calls,
                seed=args.seed,
                event_gap=args.event_gap,
            )
        elif not (args.scenario or args.verify_url):
            _logger.info("serving until SIGINT/SIGTERM")
            while not stop.wait(0.5):
                pass
        sim.wait_background(timeout=2.0)
    finally:
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code
