"""The bridge's TOML configuration, checked up front: every mistake is reported with the
key it concerns, before anything connects."""

import ipaddress
from dataclasses import MISSING, dataclass, field
from urllib.parse import urlsplit

import tomllib


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the key."""


@dataclass
class OdooConfig:
    webhook_url: str
    secret: str
    timeout: float = 10.0
    batch_size: int = 100
    heartbeat_interval: float = 30.0
    verify_tls: bool = True
    retry_max: float = 60.0


@dataclass
class AmiConfig:
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = ""
    secret: str = ""
    auth: str = "md5"
    events: str = "call,cdr"
    ping_interval: float = 20.0
    action_timeout: float = 10.0
    connect_timeout: float = 5.0
    retry_max: float = 60.0


@dataclass
class AriConfig:
    url: str = "http://127.0.0.1:8088/ari"
    username: str = ""
    password: str = ""
    app: str = "crm-voip"
    subscribe_all: bool = True
    endpoints: list = field(default_factory=list)
    timeout: float = 10.0
    retry_max: float = 60.0


@dataclass
class DialplanConfig:
    internal_contexts: list = field(default_factory=lambda: ["from-internal"])
    did_variable: str = ""
    originate_context: str = "from-internal"
    originate_priority: int = 1
    originate_timeout: int = 30
    channel_template: str = "PJSIP/{extension}"
    caller_id: str = ""


@dataclass
class ApiConfig:
    listen: str = "127.0.0.1"
    port: int = 8089
    tls_cert: str = ""
    tls_key: str = ""
    replay_window: int = 300
    route_token: str = ""
    route_allow: list = field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    route_budget: float = 1.5
    dial_template: str = "PJSIP/{extension}"


@dataclass
class Config:
    odoo: OdooConfig
    source: str = "ami"
    ami: AmiConfig = field(default_factory=AmiConfig)
    ari: AriConfig = field(default_factory=AriConfig)
    dialplan: DialplanConfig = field(default_factory=DialplanConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    spool_dir: str = "/var/lib/pbx-bridge"
    segment_bytes: int = 4 * 1024 * 1024
    recording_dir: str = "/var/spool/asterisk/monitor"
    #: The same folder as the PBX names it in MIXMONITOR_FILENAME, when the bridge sees it
    #: elsewhere (a mount on another host); empty: ``recording_dir``.
    recording_pbx_dir: str = ""
    ari_recordings: bool = False
    log_level: str = "INFO"


_SECTIONS = {
    "odoo": OdooConfig,
    "ami": AmiConfig,
    "ari": AriConfig,
    "dialplan": DialplanConfig,
    "api": ApiConfig,
}
_TOP_LEVEL = {"source", "spool", "recordings", "log_level", *_SECTIONS}


def _typed(section, key, value, expected):
    """``value`` checked against the type of the dataclass default ``expected``."""
    where = f"{section}.{key}"
    if isinstance(expected, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false")
        return value
    if isinstance(expected, int) and not isinstance(expected, bool):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected a whole number")
        return value
    if isinstance(expected, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number")
        return float(value)
    if isinstance(expected, list):
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{where}: expected a list of strings")
        return value
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string")
    return value


def _section(name, cls, raw, required=()):
    values = raw.get(name, {})
    if not isinstance(values, dict):
        raise ConfigError(f"[{name}]: expected a table")
    defaults = cls.__dataclass_fields__
    unknown = sorted(set(values) - set(defaults))
    if unknown:
        raise ConfigError(f"{name}.{unknown[0]}: unknown key")
    for key in required:
        if values.get(key) in (None, ""):
            raise ConfigError(f"{name}.{key}: required")
    kwargs = {}
    for key, value in values.items():
        spec = defaults[key]
        if spec.default is not MISSING:
            default = spec.default
        elif spec.default_factory is not MISSING:
            default = spec.default_factory()
        else:
            default = ""  # the required texts (webhook_url, secret)
        kwargs[key] = _typed(name, key, value, default)
    return cls(**kwargs)


def _positive(where, value):
    if value <= 0:
        raise ConfigError(f"{where}: must be above 0")


def _api_section(raw):
    api = _section("api", ApiConfig, raw)
    if bool(api.tls_cert) != bool(api.tls_key):
        raise ConfigError("api.tls_cert and api.tls_key: give both or neither")
    if not 0 <= api.port <= 65535:
        raise ConfigError("api.port: not a TCP port")
    _positive("api.replay_window", api.replay_window)
    _positive("api.route_budget", api.route_budget)
    if "{extension}" not in api.dial_template:
        raise ConfigError("api.dial_template: must contain {extension}")
    for entry in api.route_allow:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ConfigError(f"api.route_allow: {entry!r} is not an IP or network") from None
    return api


def from_dict(raw):
    """A checked ``Config`` from the parsed TOML ``raw``."""
    if not isinstance(raw, dict):
        raise ConfigError("the configuration must be a TOML table")
    unknown = sorted(set(raw) - _TOP_LEVEL)
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown section or key")
    odoo = _section("odoo", OdooConfig, raw, required=("webhook_url", "secret"))
    url = urlsplit(odoo.webhook_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError("odoo.webhook_url: expected an http(s) URL")
    if not 1 <= odoo.batch_size <= 100:
        raise ConfigError("odoo.batch_size: between 1 and 100 (Odoo takes at most 100)")
    for key in ("timeout", "heartbeat_interval", "retry_max"):
        _positive(f"odoo.{key}", getattr(odoo, key))
    source = raw.get("source", "ami")
    if source not in ("ami", "ari"):
        raise ConfigError("source: expected 'ami' or 'ari'")
    ami = _section(
        "ami", AmiConfig, raw, required=("username", "secret") if source == "ami" else ()
    )
    if ami.auth not in ("md5", "plain"):
        raise ConfigError("ami.auth: expected 'md5' or 'plain'")
    if not 0 <= ami.port <= 65535:
        raise ConfigError("ami.port: not a TCP port")
    for key in ("ping_interval", "action_timeout", "connect_timeout", "retry_max"):
        _positive(f"ami.{key}", getattr(ami, key))
    ari = _section(
        "ari", AriConfig, raw, required=("username", "password") if source == "ari" else ()
    )
    if source == "ari" and urlsplit(ari.url).scheme not in ("http", "https"):
        raise ConfigError("ari.url: expected an http(s) URL (the WebSocket URL is derived from it)")
    dialplan = _section("dialplan", DialplanConfig, raw)
    if "{extension}" not in dialplan.channel_template:
        raise ConfigError("dialplan.channel_template: must contain {extension}")
    api = _api_section(raw)
    spool = raw.get("spool", {})
    recordings = raw.get("recordings", {})
    if not isinstance(spool, dict) or not isinstance(recordings, dict):
        raise ConfigError("[spool] and [recordings] must be tables")
    if set(spool) - {"dir", "segment_bytes"}:
        raise ConfigError(f"spool.{sorted(set(spool) - {'dir', 'segment_bytes'})[0]}: unknown key")
    unknown = sorted(set(recordings) - {"dir", "pbx_dir", "ari"})
    if unknown:
        raise ConfigError(f"recordings.{unknown[0]}: unknown key")
    config = Config(
        odoo=odoo,
        source=source,
        ami=ami,
        ari=ari,
        dialplan=dialplan,
        api=api,
        spool_dir=_typed("spool", "dir", spool.get("dir", "/var/lib/pbx-bridge"), ""),
        segment_bytes=_typed("spool", "segment_bytes", spool.get("segment_bytes", 4 << 20), 0),
        recording_dir=_typed("recordings", "dir", recordings.get("dir", Config.recording_dir), ""),
        recording_pbx_dir=_typed("recordings", "pbx_dir", recordings.get("pbx_dir", ""), ""),
        ari_recordings=_typed("recordings", "ari", recordings.get("ari", False), False),
        log_level=_typed("", "log_level", raw.get("log_level", "INFO"), ""),
    )
    _positive("spool.segment_bytes", config.segment_bytes)
    return config


def load(path):
    """The checked ``Config`` of the TOML file at ``path``."""
    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read ({error.strerror or error})") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML ({error})") from None
    return from_dict(raw)
