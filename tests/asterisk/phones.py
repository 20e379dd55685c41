"""SIP phones for the real-Asterisk tests: a separate process driving pyVoIP (GPL-3, tests only).

Usage: python3 phones.py --port <sip port> --secret <secret> --ext 101 --ext 102 --ext client
Reads JSON commands on stdin, one per line, and prints JSON lines:
  {"behave": "101", "on_ring": "answer"|"decline"|"ignore", "after": 1.0, "hold": 2.0}
  {"call": "client", "to": "74950000001", "hold": 3.0}   (hangs up ``hold`` s after the answer)
  {"quit": true}
Prints {"ready": [...]} once every phone is registered.
"""

import argparse
import json
import sys
import threading
import time
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)

from pyVoIP.VoIP import CallState, PhoneStatus, VoIPPhone  # noqa: E402

LOCK = threading.Lock()


def say(**message):
    with LOCK:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


class Phone:
    def __init__(self, args, ext, index):
        self.ext = ext
        self.behaviour = {"on_ring": "answer", "after": 1.0, "hold": 2.0}
        low = args.rtp_base + index * 20
        self.phone = VoIPPhone(
            "127.0.0.1",
            args.port,
            ext,
            args.secret,
            myIP="127.0.0.1",
            callCallback=self.on_call,
            sipPort=args.sip_base + index,
            rtpPortLow=low,
            rtpPortHigh=low + 19,
        )

    def on_call(self, call):
        behaviour = dict(self.behaviour)
        say(event="ringing", ext=self.ext)
        time.sleep(behaviour["after"])
        if call.state != CallState.RINGING:
            return
        if behaviour["on_ring"] == "decline":
            call.deny()
            say(event="declined", ext=self.ext)
            return
        if behaviour["on_ring"] == "ignore":
            return
        try:
            call.answer()
        except Exception as error:  # the caller gave up meanwhile
            say(event="answer_failed", ext=self.ext, error=str(error))
            return
        say(event="answered", ext=self.ext)
        self._talk(call, behaviour["hold"])

    def _talk(self, call, hold):
        deadline = time.monotonic() + hold
        while call.state == CallState.ANSWERED and time.monotonic() < deadline:
            call.write_audio(b"\x80" * 160)
            time.sleep(0.02)
        if call.state == CallState.ANSWERED:
            call.hangup()
        say(event="ended", ext=self.ext)

    def place(self, number, hold, ring_timeout=15):
        call = self.phone.call(number)
        deadline = time.monotonic() + ring_timeout
        settled = (CallState.ANSWERED, CallState.ENDED)
        while call.state not in settled and time.monotonic() < deadline:
            time.sleep(0.05)
        if call.state == CallState.ANSWERED:
            say(event="answered", ext=self.ext, to=number)
            self._talk(call, hold)
        else:
            # pyVoIP cannot cancel a call still ringing: the PBX's dial timeout ends it.
            say(event="unanswered", ext=self.ext, to=number)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--ext", action="append", required=True)
    parser.add_argument("--sip-base", type=int, default=45060)
    parser.add_argument("--rtp-base", type=int, default=46000)
    args = parser.parse_args()
    phones = {ext: Phone(args, ext, index) for index, ext in enumerate(args.ext)}
    for phone in phones.values():
        phone.phone.start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(
        p.phone.get_status() != PhoneStatus.REGISTERED for p in phones.values()
    ):
        time.sleep(0.1)
    say(ready=[e for e, p in phones.items() if p.phone.get_status() == PhoneStatus.REGISTERED])
    for line in sys.stdin:
        command = json.loads(line)
        if command.get("quit"):
            break
        if "behave" in command:
            phones[command["behave"]].behaviour.update(
                {k: command[k] for k in ("on_ring", "after", "hold") if k in command}
            )
            say(event="ok")
        elif "call" in command:
            threading.Thread(
                target=phones[command["call"]].place,
                args=(command["to"], command.get("hold", 2.0)),
                daemon=True,
            ).start()
            say(event="ok")
    for phone in phones.values():
        phone.phone.stop()
    say(event="stopped")


if __name__ == "__main__":
    main()
