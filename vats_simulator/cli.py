"""Command line: ``python3 -m vats_simulator --help``."""

import argparse
import json
import logging
import os
import signal
import sys
import threading

from . import pbx
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
  an unreliable PBX: retry as the PBX does, drop 5% of the webhooks, keep the ground truth:
    python3 -m vats_simulator --generic-webhook URL --generic-secret S --generic-api-key K \\
        --live generic --retry --drop-share 0.05 --truth-file truth.json
"""


def list_arg(value):
    """A comma-separated list, or the name of a file with one value per line (``#`` comments)."""
    if value and os.path.isfile(value):
        with open(value, encoding="utf-8") as handle:
            lines = (line.split("#", 1)[0].strip() for line in handle)
            return [line for line in lines if line]
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _dest(module, option):
    return f"{module.code}__{option.field}"


def _add_option(group, module, option):
    kwargs = {"dest": _dest(module, option), "help": option.help}
    if option.switch:
        kwargs["action"] = "store_true"
    else:
        kwargs.update(metavar=option.metavar, choices=option.choices)
    group.add_argument(*option.flags, **kwargs)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python3 -m vats_simulator",
        description="Simulate cloud PBXs over HTTP: signed call webhooks and the PBXs' REST "
        f"APIs. PBXs: {', '.join(f'{pbx.get(c).label} ({c})' for c in pbx.codes())}.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="REST listen address")
    parser.add_argument("--port", type=int, default=0, help="REST listen port (0: any free)")
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (stderr)")

    for code in pbx.codes():
        module = pbx.get(code)
        group = parser.add_argument_group(f"{module.label} account ({code})")
        for option in module.cli_account_options:
            _add_option(group, module, option)

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

    faults = parser.add_argument_group("an unreliable PBX")
    faults.add_argument(
        "--retry",
        action="store_true",
        help="send failed webhooks (no 2xx in time) again, as each PBX's retry policy says",
    )
    faults.add_argument(
        "--drop-share",
        type=float,
        default=0.0,
        metavar="F",
        help="share of the webhooks (0 to 1) dropped for good; the calls stay in the history",
    )
    faults.add_argument(
        "--drop-seed", type=int, default=0, help="seed choosing which webhooks are dropped"
    )
    faults.add_argument(
        "--truth-file",
        metavar="PATH",
        help="write the played calls' ground truth there (JSON) on exit; also served at "
        "GET /_simulator/truth",
    )

    modes = parser.add_argument_group("modes (default: serve the REST APIs until stopped)")
    modes.add_argument(
        "--live", metavar="PROVIDER", choices=pbx.codes(), help="play calls until stopped"
    )
    modes.add_argument("--interval", type=float, default=5.0, help="seconds between live calls")
    modes.add_argument("--event-gap", type=float, default=0.0, help="seconds between events")
    modes.add_argument("--max-calls", type=int, help="stop live mode after N calls")
    modes.add_argument("--seed", type=int, help="random seed of live mode")
    modes.add_argument("--scenario", choices=SCENARIOS, help="play one scenario and exit")
    modes.add_argument("--provider", choices=pbx.codes(), help="for --scenario, --verify-url")
    modes.add_argument("--caller", help="--scenario: caller number")
    modes.add_argument("--did", help="--scenario: called company number")
    modes.add_argument("--call-id", help="--scenario: call id")
    modes.add_argument("--record", action="store_true", help="--scenario: with a recording")
    for code in pbx.codes():
        module = pbx.get(code)
        for option in module.cli_play_options:
            _add_option(modes, module, option)
    modes.add_argument(
        "--verify-url",
        action="store_true",
        help="check the webhook URL the PBX's way (Zadarma: zd_echo) and exit",
    )
    return parser


def _accounts(parser, args):
    """The accounts given on the command line, by PBX code."""
    accounts = {}
    for code in pbx.codes():
        module = pbx.get(code)
        given = {
            option.field: getattr(args, _dest(module, option))
            for option in module.cli_account_options
            if getattr(args, _dest(module, option)) is not None
        }
        if not given:
            continue
        required = [option for option in module.cli_account_options if option.required]
        if any(option.field not in given for option in required):
            flags = ", ".join(option.flags[0] for option in required)
            parser.error(f"{flags} go together")
        try:
            accounts[code] = module.Account(**given)
        except ValueError as exc:
            parser.error(f"{code}: {exc}")
    if not accounts:
        parser.error("give at least one PBX account")
    return accounts


def _chosen_provider(parser, args, candidates, what):
    if args.provider:
        if args.provider not in candidates:
            parser.error(f"{what} needs the {args.provider} account options")
        return args.provider
    if len(candidates) != 1:
        parser.error(f"{what} needs --provider (one of {', '.join(candidates) or 'none'})")
    return candidates[0]


def _play_options(module, args):
    return {
        option.field: getattr(args, _dest(module, option))
        for option in module.cli_play_options
        if getattr(args, _dest(module, option)) not in (None, False)
    }


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    accounts = _accounts(parser, args)
    if args.live and args.live not in accounts:
        parser.error(f"--live {args.live} needs the {args.live} account options")
    verified = None
    if args.verify_url:
        checking = [code for code in accounts if pbx.get(code).verifies_webhook_url]
        verified = _chosen_provider(parser, args, checking, "--verify-url")
    provider = None
    if args.scenario:
        provider = _chosen_provider(parser, args, list(accounts), "--scenario")
    extensions = list_arg(args.extensions)
    if not 0.0 <= args.drop_share <= 1.0:
        parser.error("--drop-share must be between 0 and 1")
    sim = Simulator(
        host=args.host,
        port=args.port,
        **accounts,
        recording_size=args.recording_size,
        recording_format=args.recording_format,
        extensions=extensions,
        auto_play_originate=not args.no_auto_originate,
        retry=args.retry,
        drop_share=args.drop_share,
        drop_seed=args.drop_seed,
    )
    stop = threading.Event()

    def on_signal(signum, _frame):
        _logger.info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    sim.start()
    code = 0
    try:
        if verified:
            ok = sim.verify_url(verified)
            url = accounts[verified].webhook_url
            print(f"URL check {'ok' if ok else 'FAILED'}: {url}", flush=True)
            code = 0 if ok else 1
        if args.scenario:
            module = pbx.get(provider)
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
            params.update(_play_options(module, args))
            deliveries = sim.play(provider, args.scenario, **params)
            for delivery in deliveries:
                answer = delivery.text.replace("\n", " ")[:200]
                print(
                    f"{delivery.status or delivery.error}\t{delivery.event_name}\t{answer}",
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
        if args.retry and not stop.is_set():
            # What is still to be retried is part of what was played.
            sim.wait_retries(
                timeout=max(sum(pbx.get(c).webhook_retry.delays) for c in accounts) + 30
            )
    finally:
        if args.truth_file:
            with open(args.truth_file, "w", encoding="utf-8") as handle:
                json.dump(sim.truth(), handle, ensure_ascii=False, indent=1)
        sim.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code
