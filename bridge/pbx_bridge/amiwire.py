"""AMI framing: ``Key: Value`` lines, a blank line after each message (pure, stdlib only).

Used by the bridge's socket client, by the VATS simulator's AMI server and by the tests'
recorded streams (``tests/fixtures/asterisk/*.ami``).

A decoded message is a ``dict`` of str values; a key sent more than once (``Variable``,
``ChanVariable``, command ``Output``) becomes a list of str. The banner line the server
sends on connect becomes ``{"Banner": "Asterisk Call Manager/…"}``. The old-style
``Response: Follows`` command reply (raw text up to ``--END COMMAND--``) becomes
``{"Response": "Follows", …, "Output": "<text>"}``.
"""

import logging

_logger = logging.getLogger(__name__)

BANNER_PREFIX = "Asterisk Call Manager/"
END_COMMAND = "--END COMMAND--"
# A frame bigger than this is garbage or an attack: it is dropped, not buffered forever.
MAX_FRAME_BYTES = 1 << 20
_FOLLOWS_HEADERS = frozenset(("Response", "Privilege", "ActionID", "Message"))


def encode(message):
    """One message as AMI wire bytes (``\\r\\n`` lines, then a blank line).

    A list value repeats its key (``Variable: A=1`` / ``Variable: B=2``). Line breaks inside
    a value would end the message early, so they are replaced by spaces."""
    lines = []
    for key, value in message.items():
        values = value if isinstance(value, (list, tuple)) else (value,)
        for item in values:
            text = "" if item is None else str(item)
            if "\r" in text or "\n" in text:
                text = text.replace("\r", " ").replace("\n", " ")
            lines.append(f"{key}: {text}\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("utf-8")


def _add(message, key, value):
    if key in message:
        previous = message[key]
        if isinstance(previous, list):
            previous.append(value)
        else:
            message[key] = [previous, value]
    else:
        message[key] = value


class AmiDecoder:
    """Incremental decoder: ``feed(bytes)`` returns the messages completed so far.

    Bytes may arrive cut anywhere (half a line, half a frame, half a UTF-8 character): the
    rest waits in the buffer for the next ``feed``. Malformed lines are logged with a reason
    and skipped; nothing raises."""

    def __init__(self, expect_banner=True):
        self._buffer = b""
        self._message = {}
        self._follows = None  # lines of a ``Response: Follows`` body being read
        self._frame_bytes = 0
        self._expect_banner = expect_banner
        self.dropped = 0  # malformed lines and oversized frames skipped

    def feed(self, data):
        messages = []
        buffer = self._buffer + data
        end = buffer.rfind(b"\n")
        if end < 0:
            self._buffer = buffer
        else:
            # Whole lines are decoded and split at once; a cut UTF-8 character can only be
            # in the unfinished last line, which waits in the buffer.
            self._buffer = buffer[end + 1 :]
            text = buffer[:end].decode("utf-8", "replace")
            self._frame_bytes += end + 1
            message = self._message
            for line in text.split("\n"):
                if line.endswith("\r"):
                    line = line[:-1]
                key, sep, value = line.partition(": ")
                if (
                    sep
                    and self._follows is None
                    and not self._expect_banner
                    and key not in message
                    and " " not in key
                    and message.get("Response") != "Follows"
                ):
                    message[key] = value  # the common case: a new key of the message
                    continue
                self._line(line, messages)
                message = self._message
        if len(self._buffer) + self._frame_bytes > MAX_FRAME_BYTES:
            self._drop(f"frame longer than {MAX_FRAME_BYTES} bytes")
            self._buffer = b""
        return messages

    def _drop(self, reason, line=""):
        self.dropped += 1
        _logger.warning("AMI: skipped %s %r", reason, line[:80])
        self._message = {}
        self._follows = None
        self._frame_bytes = 0

    def _line(self, line, messages):
        if self._expect_banner and not self._message and line.startswith(BANNER_PREFIX):
            self._expect_banner = False
            self._frame_bytes = 0
            messages.append({"Banner": line})
            return
        if self._expect_banner and line:
            self._expect_banner = False  # no banner: a server that does not send one
        if self._follows is not None:
            if line.strip() == END_COMMAND:
                self._message["Output"] = "\n".join(self._follows)
                self._follows = None
                return
            self._follows.append(line)
            return
        if not line:
            if self._message:
                messages.append(self._message)
            self._message = {}
            self._frame_bytes = 0
            return
        key, sep, value = line.partition(":")
        if not sep or not key or " " in key:
            if self._message.get("Response") == "Follows":
                # Raw command output starts after the headers of an old-style reply.
                self._follows = [line]
                return
            self.dropped += 1
            _logger.warning("AMI: skipped a line without 'Key: Value': %r", line[:80])
            return
        if value.startswith(" "):
            value = value[1:]
        if self._message.get("Response") == "Follows" and key not in _FOLLOWS_HEADERS:
            self._follows = [line]
            return
        _add(self._message, key, value)

    def pending(self):
        """True while a message is half read (for a reconnect's log line)."""
        return bool(self._buffer or self._message or self._follows is not None)


def parse_frames(text, expect_banner=True):
    """Messages of a whole AMI text (a recorded stream). Lines starting with ``#`` outside
    a message are comments of the fixture files, not AMI."""
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    decoder = AmiDecoder(expect_banner=expect_banner)
    messages = decoder.feed(("\n".join(lines) + "\n\n").encode("utf-8"))
    return messages
