"""The bridge's own API: every request signed (missing: 401, wrong or stale: 403), the
request line signed too, recordings confined to their directory, the dialplan's /route
for allowed addresses with the token only; and the configuration's checks."""

import pathlib
import sys
import time

import pytest
import requests

BRIDGE = pathlib.Path(__file__).resolve().parents[1] / "bridge"
if str(BRIDGE) not in sys.path:
    sys.path.insert(0, str(BRIDGE))

from pbx_bridge import config as bridge_config  # noqa: E402
from pbx_bridge.api import BridgeApi, api_headers  # noqa: E402
from pbx_bridge.service import Bridge  # noqa: E402

SECRET = "shared-secret"


class FakeOps:
    """What the API asks of the bridge; recordings come from the real ``Bridge`` code."""

    def __init__(self, recording_dir):
        self.config = bridge_config.Config(
            odoo=bridge_config.OdooConfig("http://odoo/w", SECRET), recording_dir=str(recording_dir)
        )
        self.originated = []
        self.route_targets = ["101", "102"]

    def health(self):
        return {"status": "ok", "connected": True, "spool_depth": 3}

    def originate(self, extension, number, caller_id, ref):
        self.originated.append((extension, number, caller_id, ref))
        return "chan-uuid"

    def extensions(self):
        return [("101", "Anna")]

    def history(self, start, end):
        return [{"call_id": "1.1", "start_range": [start, end]}]

    def open_recording(self, recording_id):
        return Bridge.open_recording(self, recording_id)

    def route(self, query, budget):
        self.routed = (query, budget)
        return self.route_targets


@pytest.fixture
def api(tmp_path):
    recordings = tmp_path / "monitor"
    (recordings / "2026").mkdir(parents=True)
    (recordings / "2026" / "call-1.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt " + b"\x00" * 64)
    (tmp_path / "secret.txt").write_text("not a recording")
    (recordings / "link.wav").symlink_to(tmp_path / "secret.txt")
    ops = FakeOps(recordings)
    api_config = bridge_config.ApiConfig(listen="127.0.0.1", port=0, route_token="tok")
    server = BridgeApi(ops, api_config, SECRET)
    server.start()
    server.ops_for_test = ops
    server.base = f"http://127.0.0.1:{server.port}"
    yield server
    server.stop()


def _get(api, target, secret=SECRET, now=None, headers=None):
    signed = api_headers(secret, "GET", target, b"", now=now)
    return requests.get(
        api.base + target, headers=headers if headers is not None else signed, timeout=5
    )


def test_health_signed(api):
    response = _get(api, "/health")
    assert response.status_code == 200
    assert response.json()["spool_depth"] == 3


def test_missing_wrong_and_stale_signatures(api):
    assert _get(api, "/health", headers={}).status_code == 401
    assert _get(api, "/health", secret="wrong").status_code == 403
    stale = _get(api, "/health", now=time.time() - 3600)
    assert stale.status_code == 403 and "away from" in stale.json()["error"]
    # Signed for another path: refused (the request line is signed).
    headers = api_headers(SECRET, "GET", "/health", b"")
    moved = requests.get(api.base + "/extensions", headers=headers, timeout=5)
    assert moved.status_code == 403


def test_originate_checks_and_passes_the_reference(api):
    body = b'{"from": "101", "to": "+79161234567", "request_ref": "c2c-42"}'
    headers = api_headers(SECRET, "POST", "/originate", body)
    response = requests.post(api.base + "/originate", data=body, headers=headers, timeout=5)
    assert response.json() == {"status": "ok", "call_id": "chan-uuid"}
    assert api.ops_for_test.originated == [("101", "+79161234567", "", "c2c-42")]
    bad = b'{"from": "101", "to": "1\\r\\nAction: Command"}'
    headers = api_headers(SECRET, "POST", "/originate", bad)
    refused = requests.post(api.base + "/originate", data=bad, headers=headers, timeout=5)
    assert refused.status_code == 400
    # A body altered after signing is refused.
    headers = api_headers(SECRET, "POST", "/originate", body)
    tampered = body.replace(b"+7916", b"+7900")
    assert requests.post(api.base + "/originate", data=tampered, headers=headers).status_code == 403


def test_extensions_and_history(api):
    assert _get(api, "/extensions").json() == {"extensions": [{"extension": "101", "name": "Anna"}]}
    target = "/history?start=2026-01-01T00:00:00Z&end=2026-01-02T00:00:00%2B00:00"
    calls = _get(api, target).json()["calls"]
    assert calls[0]["start_range"] == [1767225600.0, 1767312000.0]
    assert _get(api, "/history?start=yesterday&end=now").status_code == 400


def test_recordings_streamed_and_confined(api):
    response = _get(api, "/recordings/2026/call-1.wav")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "audio/wav"
    assert response.content.startswith(b"RIFF")
    assert _get(api, "/recordings/2026%2Fcall-1.wav").status_code == 200
    assert _get(api, "/recordings/2026/missing.wav").status_code == 404
    assert _get(api, "/recordings/..%2Fsecret.txt").status_code == 400
    assert _get(api, "/recordings/2026/..%2F..%2Fsecret.txt").status_code == 400
    assert _get(api, "/recordings/%2Fetc%2Fpasswd").status_code == 400
    assert _get(api, "/recordings/link.wav").status_code == 400  # a symlink leading out
    assert _get(api, "/recordings/a%00b").status_code == 400


def test_route_for_the_dialplan(api):
    answer = requests.get(api.base + "/route?token=tok&from=79161234567&uniqueid=1.1", timeout=5)
    assert answer.status_code == 200
    assert answer.text == "PJSIP/101&PJSIP/102"
    assert api.ops_for_test.routed[1] == 1.5
    api.ops_for_test.route_targets = []
    assert requests.get(api.base + "/route?token=tok&from=1&uniqueid=1.2", timeout=5).text == ""
    assert requests.get(api.base + "/route?token=nope&from=1", timeout=5).status_code == 403
    api.allowed = []  # only loopback was allowed: now nothing is
    assert requests.get(api.base + "/route?token=tok&from=1", timeout=5).status_code == 403


def test_unknown_endpoint_is_404_after_the_signature(api):
    assert _get(api, "/nothing").status_code == 404
    assert _get(api, "/nothing", headers={}).status_code == 401


MINIMAL = {"odoo": {"webhook_url": "https://odoo.example.com/w", "secret": "s"}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"odoo": {"secret": "s"}}, "odoo.webhook_url: required"),
        ({"odoo": {**MINIMAL["odoo"], "batch_size": 500}}, "odoo.batch_size"),
        ({"odoo": {**MINIMAL["odoo"], "timeout": "10"}}, "odoo.timeout: expected a number"),
        ({"source": "sip"}, "source: expected"),
        ({"source": "ami"}, "ami.username: required"),
        ({"ami": {"username": "u", "secret": "s", "auth": "sha"}}, "ami.auth"),
        ({"api": {"tls_cert": "/x.pem"}}, "api.tls_cert and api.tls_key"),
        ({"api": {"route_allow": ["nowhere"]}}, "api.route_allow"),
        ({"spool": {"size": 1}}, "spool.size: unknown key"),
        ({"dialplan": {"channel_template": "PJSIP/101"}}, "dialplan.channel_template"),
        ({"whatever": 1}, "whatever: unknown"),
    ],
)
def test_config_errors_name_the_key(change, message):
    raw = {**MINIMAL, "source": "ari", "ari": {"username": "u", "password": "p"}, **change}
    with pytest.raises(bridge_config.ConfigError, match=message.replace("(", r"\(")):
        bridge_config.from_dict(raw)


def test_example_config_is_valid():
    config = bridge_config.load(BRIDGE / "bridge.example.toml")
    assert config.source == "ami" and config.api.route_budget == 1.5


def test_check_command(tmp_path):
    import subprocess

    broken = tmp_path / "bridge.toml"
    broken.write_text('[odoo]\nwebhook_url = "ftp://x"\nsecret = "s"\n')
    result = subprocess.run(
        [sys.executable, "-m", "pbx_bridge", "--config", str(broken), "--check"],
        cwd=BRIDGE,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "odoo.webhook_url: expected an http(s) URL" in result.stderr
