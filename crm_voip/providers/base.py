"""The adapter base class: configuration, source checks, the single HTTP transport, downloads."""

import ipaddress
import itertools
import re
import socket
import time
from dataclasses import dataclass
from datetime import timedelta, timezone
from email.utils import parsedate_to_datetime
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests

from .errors import (
    AuthError,
    PermanentError,
    RateLimitError,
    RetryableError,
    SignatureError,
)
from .events import WebhookResponse

USER_AGENT = "crm_voip/18.0"

# Recording formats we store. Anything else (an HTML login page, a JSON error) is refused.
AUDIO_MIMETYPES = {
    "audio/mpeg": "audio/mpeg",
    "audio/mp3": "audio/mpeg",
    "audio/mpeg3": "audio/mpeg",
    "audio/x-mpeg": "audio/mpeg",
    "audio/x-mpeg-3": "audio/mpeg",
    "audio/x-mp3": "audio/mpeg",
    "audio/wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/x-wav": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/ogg": "audio/ogg",
    "audio/x-ogg": "audio/ogg",
    "application/ogg": "audio/ogg",
}
# Types some servers use for any file: accepted only when the bytes look like audio.
GENERIC_BINARY_MIMETYPES = {"", "application/octet-stream", "binary/octet-stream"}
SNIFF_BYTES = 12

# Redirects a recording download follows, each on the host it started on.
MAX_DOWNLOAD_REDIRECTS = 3

# How a PBX delivers its events (``ProviderAdapter.transport``).
WEBHOOK = "webhook"  # it posts them to our URL
PERSISTENT = "persistent"  # we hold a connection it streams them on
TRANSPORTS = (WEBHOOK, PERSISTENT)
# Kinds of configuration field (``ConfigField.kind``).
CONFIG_KINDS = ("char", "text", "integer", "boolean", "selection")

# What ``peer_status`` may report: whether the peer is connected to the PBX (bool), when
# it last heard an event from it (aware ISO 8601), how many events wait in its queue for
# Odoo, how many Odoo refused for good (kept aside), its version, and what is wrong (text).
PEER_STATUS_KEYS = ("connected", "last_event", "queue_depth", "dead_letters", "version", "problem")

_UTC_OFFSET_RE = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def _lt(text):
    """Mark an adapter's label or help text for translation. The Odoo side translates it
    when it shows it; Odoo's term extractor collects the strings given to ``_lt``."""
    return text


@dataclass(frozen=True)
class ConfigField:
    """One setting of a PBX account that an adapter needs (a credential, an option).

    The provider form shows the fields an adapter declares, with their label and help;
    secret ones are masked and readable by administrators only. The adapter receives
    the values in its config under ``name``.
    """

    name: str
    label: str
    help: str = ""
    secret: bool = False
    kind: str = "char"
    required: bool = False
    #: Used when the value is missing or empty (also shown as the input's placeholder).
    default: object = None
    #: ``((value, label), ...)`` for a ``selection``.
    choices: tuple = ()
    #: A secret of our own the PBX echoes back (not one the PBX issues): the Odoo side
    #: fills it with a random value when the account has none.
    generated: bool = False

    def __post_init__(self):
        if self.kind not in CONFIG_KINDS:
            raise ValueError(f"Unknown config field kind {self.kind!r}")
        if not self.name.isidentifier() or not self.label:
            raise ValueError(f"Config field {self.name!r} needs an identifier and a label")
        if (self.kind == "selection") != bool(self.choices):
            raise ValueError(f"Config field {self.name!r}: choices are for selections only")
        if self.generated and (self.kind != "char" or not self.secret):
            raise ValueError(f"Config field {self.name!r}: only secret texts are generated")

    def clean(self, value):
        """``value`` as this field stores it; raises ``ValueError`` naming the field."""
        if value in (None, ""):
            return None
        if self.kind == "integer":
            if isinstance(value, bool) or not str(value).strip().lstrip("-").isdigit():
                raise ValueError(f"{self.label}: a whole number is expected")
            return int(value)
        if self.kind == "boolean":
            return bool(value)
        if not isinstance(value, str):
            raise ValueError(f"{self.label}: text is expected")
        if self.kind == "selection" and value not in dict(self.choices):
            raise ValueError(f"{self.label}: {value!r} is not one of the choices")
        return value.strip() if self.kind in ("char", "selection") else value


@dataclass
class AudioDownload:
    """A recording being downloaded: its checked ``mimetype`` and its bytes as ``chunks``.

    Close it (or use it as a context manager) when not reading it to the end.
    """

    mimetype: str
    chunks: object
    _response: object = None

    def close(self):
        if self._response is not None:
            self._response.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def sniff_audio(head):
    """Audio mimetype recognised from the first bytes of a file, or ``None``."""
    if head.startswith(b"ID3"):
        return "audio/mpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    # A bare MPEG audio frame: 11 sync bits, then a non-reserved version and layer.
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        version_bits = (head[1] >> 3) & 0x03
        layer_bits = (head[1] >> 1) & 0x03
        if version_bits != 0x01 and layer_bits != 0x00:
            return "audio/mpeg"
    return None


def parse_allowlist(entries):
    """Parse IP allow-list entries (IPs or CIDR blocks, as a list or a comma/space separated
    string) into networks. Raises ``ValueError`` naming the first invalid entry."""
    if isinstance(entries, str):
        entries = re.split(r"[\s,;]+", entries)
    networks = []
    for entry in entries or ():
        entry = str(entry).strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"Invalid IP allow-list entry {entry!r}") from None
    return networks


def resolve_timezone(name):
    """A tzinfo from an IANA name (``Europe/Moscow``) or a fixed offset (``UTC+3``,
    ``GMT-05:30``, ``+03:00``) as Zadarma's ``/v1/info/timezone/`` reports it."""
    name = (name or "").strip()
    if not name:
        raise PermanentError("No timezone configured")
    if name.upper() in ("UTC", "GMT", "Z"):
        return timezone.utc
    match = _UTC_OFFSET_RE.match(name)
    if match:
        sign, hours, minutes = match.groups()
        offset = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if offset >= timedelta(hours=24):
            raise PermanentError(f"Invalid timezone offset {name!r}")
        return timezone(-offset if sign == "-" else offset)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PermanentError(f"Unknown timezone {name!r}") from None


class ProviderAdapter:
    """Speaks one PBX's protocol. Built by ``crm.voip.provider`` from a plain config dict.

    A PBX plugs in by one module of this package: a subclass registered with
    ``@registry.register(code)`` that declares, in its class attributes, what the Odoo
    side needs to know of it (below); nothing outside the module names the PBX.

    Config keys common to every PBX: ``base_url``, ``timezone``, ``timeout`` (seconds),
    ``ip_allowlist`` (list of IPs / CIDR blocks); the others are the adapter's
    ``config_fields``. A missing, empty or 0 value takes the default.

    Every network call goes through ``_request()``; nothing else touches the network.
    """

    code = None  # set by @registry.register
    #: The PBX's name in messages.
    name = "VoIP provider"
    #: The PBX in the account's "PBX" choice (translated by the Odoo side).
    label = None
    DEFAULT_BASE_URL = ""
    DEFAULTS = {
        "timeout": 10,
        "timezone": "Europe/Moscow",
        "ip_allowlist": (),
    }

    # -- what the Odoo side reads of an adapter ------------------------------------------------

    #: The source addresses (IPs, CIDR blocks) the PBX publishes for its webhooks: the
    #: account offers them as its allow-list, and warns while it has none.
    notification_sources = ()
    #: Hosts the PBX serves its recordings from besides its API (``base_url``); the
    #: administrator may add others (config ``download_hosts``).
    recording_hosts = ()

    #: The account's settings this PBX needs, as ``ConfigField``s, in form order.
    config_fields = ()
    #: Seconds to wait after the PBX names a recording before asking for it.
    recording_fetch_delay = 5
    #: Prefix of a recording reference that names a whole call rather than one recording
    #: (call history has no recording ids); empty when the PBX always names them.
    whole_call_ref_prefix = ""
    #: Whether the reply to a "call starting" webhook routes the call (``routing_reply``).
    routes_synchronously = False
    #: Whether a starting call is routed by a command sent to the PBX (``route``) once the
    #: event is stored, rather than in the webhook reply.
    routes_by_command = False
    #: Whether ``call_history`` reads the PBX's call log.
    has_call_history = False
    #: How the events reach us: ``WEBHOOK`` or ``PERSISTENT``.
    transport = WEBHOOK
    #: The HTTP methods the PBX delivers its events with (some send them as a GET query).
    webhook_methods = ("POST",)

    @classmethod
    def lists_extensions(cls):
        """Whether ``list_extensions`` reads the PBX's extensions (the import offers them)."""
        return cls.list_extensions is not ProviderAdapter.list_extensions

    @classmethod
    def reports_peer_status(cls):
        """Whether a program beside the PBX (a bridge) reports its status (``peer_status``)."""
        return cls.peer_status is not ProviderAdapter.peer_status

    @classmethod
    def shows_notification_templates(cls):
        """Whether the administrator pastes ``notification_templates`` into the PBX."""
        return cls.notification_templates is not ProviderAdapter.notification_templates

    @classmethod
    def manages_subscriptions(cls):
        """Whether ``subscribe_events`` creates the PBX's event subscriptions for us."""
        return cls.subscribe_events is not ProviderAdapter.subscribe_events

    @classmethod
    def config_field(cls, name):
        """The declared ``ConfigField`` called ``name``, or ``None``."""
        return next((item for item in cls.config_fields if item.name == name), None)

    @classmethod
    def whole_call_ref(cls, call_id):
        """The recording reference of the whole call ``call_id``."""
        if not cls.whole_call_ref_prefix:
            raise PermanentError(f"{cls.name} names every recording")
        return f"{cls.whole_call_ref_prefix}{call_id}"

    @classmethod
    def is_whole_call_ref(cls, recording_ref):
        """Whether ``recording_ref`` names a whole call rather than one recording."""
        prefix = cls.whole_call_ref_prefix
        return bool(prefix and recording_ref and recording_ref.startswith(prefix))

    def __init__(self, config=None):
        self.config = dict(config or {})
        #: The peer's status as the last call to its API reported it (``test_connection``
        #: of a PBX that ``reports_peer_status``), for the account; ``None`` otherwise.
        self.last_peer_status = None
        self.timeout = float(self._setting("timeout"))
        self._session = None

    # -- configuration -------------------------------------------------------------------------

    def _setting(self, key):
        """Config value, falling back to the default when missing, empty or 0 (an unset
        integer: a zero timeout or window would refuse everything). The default is the
        declared field's, else the common one."""
        value = self.config.get(key)
        if value in (None, "", [], (), 0):
            declared = self.config_field(key)
            value = declared.default if declared else self.DEFAULTS.get(key)
        return value

    @property
    def base_url(self):
        return (self.config.get("base_url") or self.DEFAULT_BASE_URL).rstrip("/")

    def _require(self, key, label):
        value = self.config.get(key)
        if not value:
            raise AuthError(f"{label} is not configured")
        return value

    def account_timezone(self):
        """The tzinfo of config ``timezone`` (the PBX account's local time)."""
        return resolve_timezone(self._setting("timezone"))

    # -- webhooks ------------------------------------------------------------------------------

    def check_source(self, remote_addr):
        """Refuse a webhook from an address outside config ``ip_allowlist`` (if one is set)."""
        allowlist = self.config.get("ip_allowlist")
        if not allowlist:
            return
        try:
            networks = parse_allowlist(allowlist)
        except ValueError as error:
            raise SignatureError(str(error)) from None
        if not networks:
            return
        try:
            address = ipaddress.ip_address((remote_addr or "").strip())
        except ValueError:
            raise SignatureError(f"Invalid source address {remote_addr!r}") from None
        if address.version == 6 and address.ipv4_mapped:
            address = address.ipv4_mapped
        if not any(address in network for network in networks):
            raise SignatureError(f"Source address {address} is not in the IP allow-list")

    def handshake(self, request):
        """Answer for a URL-verification request, or ``None`` when ``request`` is not one."""
        return None

    def verify(self, request):
        """Raise ``SignatureError`` unless ``request`` provably comes from the PBX (and is
        fresh), ``MalformedEventError`` if it cannot even be checked. May return a short
        note on how it was authenticated, for the debug log."""
        raise NotImplementedError

    def parse(self, request):
        """The normalized ``CallEvent`` list of a verified request (possibly empty)."""
        raise NotImplementedError

    def peer_status(self, request):
        """The status a program beside the PBX (a bridge) reports in the verified
        ``request``, or ``None`` when it reports none. A dict of the keys
        ``PEER_STATUS_KEYS`` (any may be missing): the account shows it. A request that
        carries only a status (a heartbeat, no events) is contact from the PBX."""
        return None

    def notification_templates(self, webhook_url):
        """The ``NotificationTemplate``s to set up in the PBX's web account, for a PBX that
        posts the bodies its customer writes; they may hold this account's secrets."""
        return []

    def subscribe_events(self, webhook_url):
        """Create, through the PBX's API, the event subscriptions that post to
        ``webhook_url`` (or below it); keep ours that are right, remove ours that are
        stale, never touch others. A ``SubscriptionReport``."""
        raise PermanentError(f"{self.name} has no event subscriptions to manage")

    def unsubscribe_events(self, webhook_url):
        """Remove our subscriptions (those posting to ``webhook_url`` or below it); how
        many were removed."""
        raise PermanentError(f"{self.name} has no event subscriptions to manage")

    def routing_reply(self, decision):
        """The answer to a call-starting event carrying a ``RoutingDecision``."""
        return WebhookResponse()

    def ack(self, events, duplicates=0):
        """The answer once the ``events`` are stored; ``duplicates`` (count or list) were
        already known."""
        return WebhookResponse()

    def error_reply(self, error):
        """The answer to a refused webhook (``WebhookError``)."""
        return WebhookResponse.text(error.reason, status=error.status)

    # -- REST ----------------------------------------------------------------------------------

    def originate(self, extension, number, caller_id=None, request_ref=None):
        """Click-to-call: ring ``extension``, then connect it to ``number``. ``request_ref``
        is Odoo's id of the call: a PBX that echoes an id of the request in the call's
        events gives it back as ``CallEvent.origin_ref``, others ignore it."""
        raise PermanentError(f"{self.name} does not support click-to-call")

    def route(self, event, decision, request_ref=None):
        """Send ``decision`` (a ``RoutingDecision``) for the call that ``event`` (its
        ``call_started``) reported, as a command: for PBXs that ``routes_by_command``.
        Returns False when there was nothing to send (the PBX's own scenario stands)."""
        raise PermanentError(f"{self.name} does not route calls by command")

    def recording_link(self, recording_ref, call_id=None):
        """A ``RecordingLink`` to download the recording ``recording_ref`` of call ``call_id``."""
        raise PermanentError(f"{self.name} does not support recording download")

    def list_extensions(self):
        """The PBX's extensions as a list of ``Extension``."""
        raise PermanentError(f"{self.name} does not support listing extensions")

    def call_history(self, start, end):
        """Calls between aware datetimes ``start`` and ``end`` as a list of ``HistoryCall``."""
        raise PermanentError(f"{self.name} does not support call history")

    def test_connection(self):
        """Check the credentials; return a short human-readable status line."""
        raise PermanentError(f"{self.name} has no API to test")

    # -- where recordings may be downloaded from ----------------------------------------------

    def download_hosts(self):
        """The host names a recording may be downloaded from: the API's, the PBX's
        storage hosts and the administrator's (config ``download_hosts``), lowercase."""
        hosts = {urlsplit(self.base_url).hostname, *self.recording_hosts}
        listed = self.config.get("download_hosts") or ()
        if isinstance(listed, str):
            listed = re.split(r"[\s,;]+", listed)
        hosts.update(str(host).strip() for host in listed)
        return {host.lower().rstrip(".") for host in hosts if host}

    @staticmethod
    def _addresses(host):
        """The IP addresses ``host`` is (an IP literal) or resolves to; empty if unknown."""
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError):
            return []
        return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]

    @staticmethod
    def _is_internal(address):
        return not address.is_global or address.is_multicast

    def _check_download_url(self, url):
        """Refuse a recording URL on a host this account does not trust, or on a private
        or loopback address unless the account's own API is one (a self-hosted PBX):
        a PBX API, or whoever answers in its name, must not make Odoo fetch from the
        inside of its network. Returns the URL's host."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        if parts.scheme not in ("http", "https") or not host:
            raise PermanentError(f"{self.name}: recording URL is not http(s)")
        if host not in self.download_hosts():
            raise PermanentError(
                f"{self.name}: recording host {host!r} is not the PBX's; an administrator "
                f"may add it to the account's recording hosts"
            )
        addresses = self._addresses(host)
        if not addresses or any(self._is_internal(address) for address in addresses):
            base_host = urlsplit(self.base_url).hostname or ""
            base_addresses = self._addresses(base_host) if base_host else []
            if not (base_addresses and all(map(self._is_internal, base_addresses))):
                raise PermanentError(
                    f"{self.name}: recording host {host!r} is a private or unknown address"
                )
        return host

    def download(self, url, max_bytes, chunk_size=65536):
        """Start downloading the audio file at ``url``: an ``AudioDownload`` whose chunks
        stream the file.

        Only from a host the account trusts (``_check_download_url``); a redirect is
        followed on the same host only. Raises ``PermanentError`` if the file exceeds
        ``max_bytes`` (announced, or while streaming) or is not mp3/wav/ogg audio (the
        declared type checked against the first bytes).
        """
        if not max_bytes or max_bytes <= 0:
            raise ValueError("max_bytes must be a positive number of bytes")
        host = self._check_download_url(url)
        for _redirect in range(MAX_DOWNLOAD_REDIRECTS + 1):
            response = self._request(
                "GET", url, headers=self._download_headers(url), stream=True,
                allow_redirects=False,
            )  # fmt: skip
            if not response.is_redirect:
                break
            location = response.headers.get("Location") or ""
            response.close()
            url = urljoin(url, location)
            if (urlsplit(url).hostname or "").lower().rstrip(".") != host:
                raise PermanentError(f"{self.name}: recording download redirected to another host")
            self._check_download_url(url)
        else:
            raise PermanentError(f"{self.name}: too many redirects downloading a recording")
        try:
            self._check_response(response, self._error_message(response))
            declared = (response.headers.get("Content-Length") or "").strip()
            if declared.isdigit() and int(declared) > max_bytes:
                raise PermanentError(
                    f"Recording is {int(declared)} bytes, above the {max_bytes} bytes limit"
                )
            chunks = response.iter_content(chunk_size=chunk_size)
            head = b""
            for chunk in chunks:
                head += chunk
                if len(head) >= SNIFF_BYTES:
                    break
            if not head:
                raise PermanentError("Recording is empty")
            mimetype = self._audio_mimetype(response, head)
        except BaseException:
            response.close()
            raise
        return AudioDownload(
            mimetype=mimetype,
            chunks=self._limited_chunks(itertools.chain((head,), chunks), max_bytes, response),
            _response=response,
        )

    @staticmethod
    def _limited_chunks(chunks, max_bytes, response):
        total = 0
        try:
            for piece in chunks:
                total += len(piece)
                if total > max_bytes:
                    raise PermanentError(f"Recording exceeds the {max_bytes} bytes limit")
                if piece:
                    yield piece
        finally:
            response.close()

    def _download_headers(self, url):
        """Headers for downloading ``url`` (e.g. auth when it is the provider's own API)."""
        return {}

    @staticmethod
    def _audio_mimetype(response, head):
        declared = (response.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
        if declared in AUDIO_MIMETYPES:
            return AUDIO_MIMETYPES[declared]
        if declared in GENERIC_BINARY_MIMETYPES:
            sniffed = sniff_audio(head)
            if sniffed:
                return sniffed
            raise PermanentError("Recording is not mp3, wav or ogg audio")
        raise PermanentError(f"Recording has Content-Type {declared!r}, expected audio")

    # -- transport -----------------------------------------------------------------------------

    def _get_session(self):
        if self._session is None:
            self._session = requests.Session()
            self._session.headers["User-Agent"] = USER_AGENT
        return self._session

    def close(self):
        if self._session is not None:
            self._session.close()
            self._session = None

    def _request(
        self,
        method,
        url,
        *,
        params=None,
        data=None,
        json=None,
        headers=None,
        stream=False,
        allow_redirects=True,
        timeout=None,
    ):
        """The one place that talks to the network. Always applies ``self.timeout``; turns
        network failures into ``RetryableError`` (``PermanentError`` for an unusable URL).
        HTTP error statuses are returned as-is: each adapter maps them with its own rules.
        ``timeout`` shortens ``self.timeout`` for a request that is only worth it fast."""
        timeout = min(timeout, self.timeout) if timeout else self.timeout
        # Only the host goes into messages: URLs may carry tokens (recording links).
        host = urlsplit(url).netloc or url[:64]
        try:
            return self._get_session().request(
                method,
                url,
                params=params,
                data=data,
                json=json,
                headers=headers,
                stream=stream,
                allow_redirects=allow_redirects,
                timeout=timeout,
            )
        except requests.exceptions.Timeout:
            raise RetryableError(f"{host}: no answer within {timeout:g} s") from None
        except (
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidURL,
        ):
            raise PermanentError(f"Invalid URL for {self.name}: {host!r}") from None
        except requests.exceptions.ConnectionError:
            raise RetryableError(f"{host}: connection failed") from None
        except requests.exceptions.RequestException as error:
            raise RetryableError(f"{host}: {type(error).__name__}") from None

    # -- response mapping ----------------------------------------------------------------------

    @staticmethod
    def _error_message(response):
        """A short error text from a JSON error body (``message`` / ``error``), if any."""
        if response.status_code < 400:
            return ""
        try:
            payload = response.json()
        except ValueError:
            return ""
        if isinstance(payload, dict):
            for key in ("message", "error", "detail"):
                if isinstance(payload.get(key), str):
                    return payload[key][:200]
        return ""

    def _check_response(self, response, message=""):
        """Map an HTTP error status to a typed error: 401/403 → ``AuthError``, 429 →
        ``RateLimitError``, 5xx → ``RetryableError``, other 4xx → ``PermanentError``."""
        status = response.status_code
        if status < 400:
            return
        detail = f"{self.name}: {message or 'HTTP error'} (HTTP {status})"
        if status in (401, 403):
            raise AuthError(detail, status_code=status)
        if status == 429:
            raise RateLimitError(detail, self._retry_after(response), status_code=status)
        if status >= 500:
            raise RetryableError(detail, status_code=status)
        raise PermanentError(detail, status_code=status)

    @staticmethod
    def _retry_after(response, default=60):
        """Seconds to wait from ``Retry-After`` (seconds or HTTP date) or ``X-RateLimit-Reset``
        (seconds, or a Unix time)."""
        retry_after = (response.headers.get("Retry-After") or "").strip()
        if retry_after:
            if retry_after.isdigit():
                return max(1, int(retry_after))
            try:
                when = parsedate_to_datetime(retry_after)
                return max(1, int(when.timestamp() - time.time()))
            except (TypeError, ValueError, OverflowError):
                pass
        reset = (response.headers.get("X-RateLimit-Reset") or "").strip()
        try:
            seconds = float(reset)
        except ValueError:
            return default
        if seconds > 1e9:  # an absolute Unix time, not a delay
            seconds -= time.time()
        return max(1, min(int(seconds), 86400))
