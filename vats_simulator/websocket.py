"""The server side of RFC 6455 WebSockets, enough for an event stream (stdlib only).

``accept_key`` answers the handshake; ``WebSocketConnection`` sends unmasked text frames,
answers pings with pongs and a close with a close. Client frames must be masked (RFC 6455
5.1); an unmasked one closes the connection with 1002.
"""

import base64
import hashlib
import struct
import threading

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
TEXT, BINARY, CLOSE, PING, PONG = 0x1, 0x2, 0x8, 0x9, 0xA
MAX_CLIENT_FRAME = 1 << 16


def accept_key(key):
    """``Sec-WebSocket-Accept`` for the client's ``Sec-WebSocket-Key``."""
    digest = hashlib.sha1((key.strip() + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def frame(opcode, payload=b""):
    """One final, unmasked frame (what a server sends)."""
    head = bytes([0x80 | opcode])
    size = len(payload)
    if size < 126:
        head += bytes([size])
    elif size < 1 << 16:
        head += bytes([126]) + struct.pack("!H", size)
    else:
        head += bytes([127]) + struct.pack("!Q", size)
    return head + payload


class WebSocketConnection:
    """One upgraded connection: ``send_text`` from any thread, ``serve`` reads the client."""

    def __init__(self, rfile, wfile):
        self.rfile = rfile
        self.wfile = wfile
        self.closed = threading.Event()
        self._lock = threading.Lock()

    def _write(self, data):
        with self._lock:
            if self.closed.is_set():
                return False
            try:
                self.wfile.write(data)
                self.wfile.flush()
            except OSError:
                self.closed.set()
                return False
        return True

    def send_text(self, text):
        return self._write(frame(TEXT, text.encode("utf-8")))

    def ping(self, payload=b""):
        return self._write(frame(PING, payload))

    def close(self, code=1000, reason=""):
        self._write(frame(CLOSE, struct.pack("!H", code) + reason.encode("utf-8")))
        self.closed.set()

    def _read_exact(self, size):
        data = self.rfile.read(size)
        if data is None or len(data) < size:
            raise EOFError
        return data

    def _read_frame(self):
        first, second = self._read_exact(2)
        opcode = first & 0x0F
        masked = second & 0x80
        size = second & 0x7F
        if size == 126:
            size = struct.unpack("!H", self._read_exact(2))[0]
        elif size == 127:
            size = struct.unpack("!Q", self._read_exact(8))[0]
        if size > MAX_CLIENT_FRAME:
            raise ValueError("frame too large")
        if not masked:
            raise ValueError("client frame not masked")
        mask = self._read_exact(4)
        payload = bytearray(self._read_exact(size))
        for index in range(size):
            payload[index] ^= mask[index % 4]
        return opcode, bytes(payload)

    def serve(self, on_text=None):
        """Read client frames until the connection closes (blocks)."""
        try:
            while not self.closed.is_set():
                opcode, payload = self._read_frame()
                if opcode == PING:
                    self._write(frame(PONG, payload))
                elif opcode == CLOSE:
                    code = payload[:2] if len(payload) >= 2 else struct.pack("!H", 1000)
                    self._write(frame(CLOSE, code))
                    break
                elif opcode == TEXT and on_text is not None:
                    on_text(payload.decode("utf-8", "replace"))
        except ValueError:
            self.close(1002, "protocol error")
        except (EOFError, OSError):
            pass
        finally:
            self.closed.set()
