"""A real Asterisk on loopback for the bridge's integration tests (stdlib only)."""

import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time

CONF = pathlib.Path(__file__).resolve().parent / "conf"
CANDIDATES = ("/opt/asterisk/sbin/asterisk", "/usr/sbin/asterisk", "/usr/local/sbin/asterisk")


def find_asterisk():
    """The asterisk binary: $ASTERISK, then PATH, then the usual install prefixes; or None."""
    for candidate in (os.environ.get("ASTERISK"), shutil.which("asterisk"), *CANDIDATES):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class AsteriskLab:
    """Renders the test configuration into a temporary folder and runs Asterisk on it."""

    PHONE_SECRET = "phone-secret-1"
    AMI_USER = "bridge"
    AMI_SECRET = "ami-secret-1"
    ARI_SECRET = "ari-secret-1"

    def __init__(self, binary=None):
        self.binary = binary or find_asterisk()
        self.folder = pathlib.Path(tempfile.mkdtemp(prefix="crm_voip_asterisk_"))
        self.ports = {
            "SIP_PORT": free_port(socket.SOCK_DGRAM),
            "AMI_PORT": free_port(),
            "HTTP_PORT": free_port(),
        }
        rtp_low = 20000 + (os.getpid() % 200) * 100
        self.ports.update(RTP_LOW=rtp_low, RTP_HIGH=rtp_low + 99)
        self.process = None

    @property
    def etc(self):
        return self.folder / "etc"

    @property
    def recording_dir(self):
        return self.folder / "var" / "spool" / "monitor"

    def _render(self):
        datadir = pathlib.Path(self.binary).resolve().parents[1] / "var" / "lib" / "asterisk"
        values = {
            "ETC": str(self.etc),
            "VAR": str(self.folder / "var"),
            "DATADIR": str(datadir),
            "PHONE_SECRET": self.PHONE_SECRET,
            "AMI_SECRET": self.AMI_SECRET,
            "ARI_SECRET": self.ARI_SECRET,
            **{key: str(value) for key, value in self.ports.items()},
        }
        self.etc.mkdir(parents=True)
        for sub in ("lib", "log", "run", "spool/monitor", "agi-bin"):
            (self.folder / "var" / sub).mkdir(parents=True, exist_ok=True)
        for template in CONF.glob("*.conf"):
            text = template.read_text()
            for key, value in values.items():
                text = text.replace(f"@{key}@", value)
            (self.etc / template.name).write_text(text)

    def start(self, timeout=30):
        self._render()
        self.log = open(self.folder / "console.log", "wb")
        self.process = subprocess.Popen(
            [self.binary, "-C", str(self.etc / "asterisk.conf"), "-f", "-n", "-g"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"asterisk exited with {self.process.returncode}: {self.console()[-2000:]}"
                )
            if self._ami_ready():
                return self
            time.sleep(0.2)
        raise RuntimeError("asterisk did not open its AMI port in time")

    def _ami_ready(self):
        try:
            with socket.create_connection(("127.0.0.1", self.ports["AMI_PORT"]), timeout=1) as sock:
                return sock.recv(64).startswith(b"Asterisk Call Manager")
        except OSError:
            return False

    def cli(self, command):
        return subprocess.run(
            [self.binary, "-C", str(self.etc / "asterisk.conf"), "-rx", command],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        ).stdout

    def console(self):
        return (self.folder / "console.log").read_text(errors="replace")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.cli("core stop now")
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if getattr(self, "log", None):
            self.log.close()
