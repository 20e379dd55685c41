"""Phone number normalization for caller identification.

``normalize()`` turns whatever a PBX or a user typed into E.164 (``+74951234567``) so that one
indexed equality lookup finds the partner. It is on the hot path of every incoming call, hence
the cheap pre-checks before ``phonenumbers`` and a small cache.
"""

import functools
import re

import phonenumbers
from phonenumbers import PhoneNumberFormat, ValidationResult

# Prefix, user part and host of SIP/tel URIs: "sip:+74951234567@pbx.example;user=phone".
_URI_SCHEME_RE = re.compile(r"^\s*(?:tel|sips?|callto):", re.IGNORECASE)
_NON_DIGITS_RE = re.compile(r"\D")
_LETTERS_RE = re.compile(r"[^\W\d_]")
# Longest E.164 number is 15 digits; allow an international prefix and a little slack.
_MAX_DIGITS = 18


def _strip_uri(raw):
    """The number part of a tel:/sip: URI, or ``raw`` unchanged."""
    if not _URI_SCHEME_RE.match(raw):
        return raw
    number = _URI_SCHEME_RE.sub("", raw, count=1)
    # Drop URI parameters and the host: "+7495...;user=phone" / "+7495...@host:5060".
    return re.split(r"[@;?]", number, maxsplit=1)[0]


def _plain_digits(value):
    """Digits of ``value`` if it is digits plus separators only (no letters), else ``None``."""
    if _LETTERS_RE.search(value):
        return None
    return _NON_DIGITS_RE.sub("", value)


def is_extension(raw, extension_max_len=5):
    """True when ``raw`` looks like an internal extension: 1 to ``extension_max_len`` digits,
    no ``+``. URIs such as ``sip:101@pbx`` are unwrapped first."""
    if raw is None:
        return False
    value = _strip_uri(str(raw)).strip()
    return value.isdigit() and value.isascii() and len(value) <= extension_max_len


def _parse(text, region):
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None


def _is_possible(number):
    # IS_POSSIBLE only: a "local only" number (no area code) would give a wrong E.164.
    reason = phonenumbers.is_possible_number_with_reason(number)
    return reason == ValidationResult.IS_POSSIBLE


@functools.lru_cache(maxsize=8192)
def _normalize_cached(raw, region, extension_max_len):
    value = _strip_uri(raw).strip()
    if not value:
        return None
    digits = _plain_digits(value)
    if digits is not None:
        if not digits or len(digits) > _MAX_DIGITS:
            return None
        explicit_plus = value.lstrip("(").startswith("+")
        if not explicit_plus and len(digits) <= extension_max_len:
            return None  # an extension, not a phone number
        if not explicit_plus and digits.startswith("00"):
            # "00" is the international prefix almost everywhere, and no national number
            # starts with it; phonenumbers only knows each region's own prefix (RU: 810).
            value, explicit_plus = "+" + digits[2:], True
        elif explicit_plus:
            value = "+" + digits
    if value.startswith("+"):
        candidates = [_parse(value, None)]
    else:
        # National reading first ("4951234567" in RU), then E.164 without "+", which is how
        # Zadarma and Mango send numbers ("442037691880").
        candidates = [_parse(value, region or "ZZ")]
        if digits:
            candidates.append(_parse("+" + digits, None))
    candidates = [number for number in candidates if number is not None]
    for number in candidates:
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    # New number ranges reach the metadata late: accept a number of plausible length.
    for number in candidates:
        if _is_possible(number):
            return phonenumbers.format_number(number, PhoneNumberFormat.E164)
    return None


def normalize(raw, region="RU", extension_max_len=5):
    """E.164 form (``+74951234567``) of a phone number in any human or PBX format, or ``None``
    for an extension, an empty value or garbage.

    ``region`` (ISO 3166 alpha-2) is used for numbers written nationally, e.g. with the trunk
    prefix ``8 (495) 123-45-67``.
    """
    if raw is None or isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        raw = str(raw)
    if not isinstance(raw, str):
        return None
    return _normalize_cached(raw, (region or "").upper(), extension_max_len)


@functools.lru_cache(maxsize=8192)
def format_international(number_e164):
    """``+7 495 123-45-67``: how people read a number; anything else as it is.

    Cached: every call pushed to a browser shows its number.
    """
    if not number_e164 or not number_e164.startswith("+") or MASK_CHAR in number_e164:
        return number_e164 or ""  # a masked number is already spelled as shown
    try:
        parsed = phonenumbers.parse(number_e164)
    except phonenumbers.NumberParseException:
        return number_e164
    return phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL)


def national_variants(raw, region="RU", extension_max_len=5):
    """The spellings under which a number may be stored without formatting, for searching
    legacy data: E.164, E.164 without ``+``, the national significant number and, where the
    country has one, the national form with its trunk prefix (``8`` in RU, ``0`` in GB).

    ``national_variants('+74951234567')`` → ``['+74951234567', '74951234567', '4951234567',
    '84951234567']``. Empty list when ``raw`` is not a phone number.
    """
    e164 = normalize(raw, region, extension_max_len)
    if not e164:
        return []
    number = phonenumbers.parse(e164, None)
    national = phonenumbers.national_significant_number(number)
    variants = [e164, e164[1:], national]
    region_code = phonenumbers.region_code_for_number(number)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region(region_code or "")
    if metadata is not None and metadata.national_prefix:
        variants.append(metadata.national_prefix + national)
    return list(dict.fromkeys(variants))


# What a masked digit becomes, and how many digits stay readable at the end.
MASK_CHAR = "*"
MASK_KEEP_LAST = 2
# Fewer digits masked than this and the number could be guessed by trying them all.
MASK_MIN_HIDDEN = 3


def _mask_digits(text, keep_first, keep_last=MASK_KEEP_LAST):
    """``text`` with every digit masked but its first ``keep_first`` and last
    ``keep_last`` ones; separators stay, so the grouping reads as before."""
    total = sum(ch.isdigit() for ch in text)
    keep_first = max(0, min(keep_first, total - keep_last - MASK_MIN_HIDDEN))
    seen = 0
    out = []
    for ch in text:
        if ch.isdigit():
            seen += 1
            if keep_first < seen <= total - keep_last:
                ch = MASK_CHAR
        out.append(ch)
    return "".join(out)


@functools.lru_cache(maxsize=8192)
def _mask_cached(value, region, extension_max_len):
    if is_extension(value, extension_max_len) or MASK_CHAR in value:
        return value  # an internal extension says nothing about a client
    e164 = normalize(value, region, extension_max_len)
    if not e164:
        digits = _plain_digits(value)
        if not digits:
            return MASK_CHAR * 3 if value.strip() else ""
        # Not a phone number we can read: only its last digits stay.
        return _mask_digits(value, 0)
    parsed = phonenumbers.parse(e164, None)
    # The country code and the area (or mobile operator) code stay: they say where the
    # client is, not who he is.
    area_length = phonenumbers.length_of_geographical_area_code(parsed)
    area_length = area_length or phonenumbers.length_of_national_destination_code(parsed)
    keep_first = len(str(parsed.country_code)) + area_length
    return _mask_digits(format_international(e164), keep_first)


def mask_number(number, region="RU", extension_max_len=5):
    """The number as someone who may not see clients' numbers reads it: the country
    code, the area or operator code and the last two digits, in the usual grouping:
    ``+74951234567`` → ``+7 495 ***-**-67``. Extensions are not masked; anything that
    is not a phone number keeps only its last two digits. At least three digits are
    always masked, even of short numbers.
    """
    if number is None or isinstance(number, bool) or number == "":
        return ""
    return _mask_cached(str(number), (region or "").upper(), extension_max_len)
