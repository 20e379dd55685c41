"""numbers.normalize(): every format a PBX or a user produces must land on one E.164 key."""

import random
import time

import pytest
from voip_providers import numbers
from voip_providers.numbers import is_extension, national_variants, normalize

MOSCOW = "+74951234567"
LONDON = "+442079460958"
ZADARMA_UK = "+442037691880"
NEW_YORK = "+12125551234"
ALMATY_MOBILE = "+77011234567"


@pytest.mark.parametrize(
    "raw, expected",
    [
        # Russia: trunk prefix 8, international forms, E.164 without "+" (Zadarma), national.
        ("8 (495) 123-45-67", MOSCOW),
        ("8-495-123-45-67", MOSCOW),
        ("84951234567", MOSCOW),
        ("+7 495 1234567", MOSCOW),
        ("+7 (495) 123-45-67", MOSCOW),
        ("+7.495.123.45.67", MOSCOW),
        ("007 495 1234567", MOSCOW),
        ("74951234567", MOSCOW),
        ("4951234567", MOSCOW),
        ("(495) 123 45 67", MOSCOW),
        ("  +7 495 123 45 67  ", MOSCOW),
        ("+7 495 123-45-67 доб. 12", MOSCOW),
        ("89161234567", "+79161234567"),
        ("79161234567", "+79161234567"),
        ("9161234567", "+79161234567"),
        # URIs as PBXs send them.
        ("tel:+74951234567", MOSCOW),
        ("TEL:+7-495-123-45-67", MOSCOW),
        ("sip:+74951234567@pbx.example.com", MOSCOW),
        ("sip:74951234567@10.0.0.1:5060;user=phone", MOSCOW),
        ("sips:84951234567@pbx.example.com", MOSCOW),
        ("tel:+74951234567;ext=12", MOSCOW),
        # Foreign numbers dialled from Russia.
        ("00 44 20 7946 0958", LONDON),
        ("0044 20 7946 0958", LONDON),
        ("8 10 44 20 7946 0958", LONDON),
        ("810442079460958", LONDON),
        ("442037691880", ZADARMA_UK),
        ("+44 20 3769 1880", ZADARMA_UK),
        ("+1 (212) 555-1234", NEW_YORK),
        ("0012125551234", NEW_YORK),
        ("12125551234", NEW_YORK),
        ("380441234567", "+380441234567"),
        # Kazakhstan shares +7.
        ("+7 701 123 4567", ALMATY_MOBILE),
        ("77011234567", ALMATY_MOBILE),
        ("8 701 123 45 67", ALMATY_MOBILE),
    ],
)
def test_normalize_russia(raw, expected):
    assert normalize(raw, "RU") == expected


@pytest.mark.parametrize(
    "raw, region, expected",
    [
        ("020 7946 0958", "GB", LONDON),
        ("(020) 7946-0958", "GB", LONDON),
        ("+44 (0)20 7946 0958", "GB", LONDON),
        ("00 44 20 7946 0958", "GB", LONDON),
        ("07700 900123", "GB", "+447700900123"),
        ("(212) 555-1234", "US", NEW_YORK),
        ("212-555-1234", "US", NEW_YORK),
        ("1 212 555 1234", "US", NEW_YORK),
        ("011 44 20 7946 0958", "US", LONDON),
        ("1-800-FLOWERS", "US", "+18003569377"),
        ("8 701 123 45 67", "KZ", ALMATY_MOBILE),
        ("7011234567", "KZ", ALMATY_MOBILE),
        ("8 10 44 20 7946 0958", "KZ", LONDON),
        ("8 (727) 250-12-34", "KZ", "+77272501234"),
        ("+7 495 123 45 67", "US", MOSCOW),
        ("4951234567", "ru", MOSCOW),
    ],
)
def test_normalize_other_regions(raw, region, expected):
    assert normalize(raw, region) == expected


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "+",
        "++",
        "0",
        "00",
        "101",
        "1001",
        "12345",
        "sip:101@pbx.example.com",
        "anonymous",
        "Unknown",
        "abc-def",
        "123456",
        "1234567",
        "7495123456789012345",
        "+7 495",
        "---",
        True,
        12.5,
        ["+74951234567"],
    ],
)
def test_normalize_rejects_extensions_and_garbage(raw):
    assert normalize(raw, "RU") is None


def test_normalize_accepts_int_and_missing_region():
    assert normalize(74951234567) == MOSCOW
    assert normalize("+74951234567", None) == MOSCOW
    # Without a region, bare digits can only be E.164 without "+".
    assert normalize("74951234567", None) == MOSCOW


def test_extension_max_len():
    assert normalize("123456", "RU", extension_max_len=6) is None
    assert normalize("+12345", "RU", extension_max_len=5) is None  # "+" but far too short


def test_possible_but_not_valid_is_accepted():
    # +7 2xx is not allocated today; a plausible length still normalizes (new ranges appear).
    assert normalize("+72125551234", "RU") == "+72125551234"


def test_valid_interpretation_preferred_over_possible():
    # Nationally "2125551234" is a possible (unallocated) Russian number; with the leading "1"
    # only the E.164 reading is valid, and it wins.
    assert normalize("12125551234", "RU") == NEW_YORK


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("101", True),
        (" 101 ", True),
        ("1", True),
        ("12345", True),
        ("123456", False),
        ("+101", False),
        ("10a", False),
        ("", False),
        (None, False),
        ("sip:101@pbx.example.com", True),
        ("84951234567", False),
        ("١٠١", False),  # non-ASCII digits
    ],
)
def test_is_extension(raw, expected):
    assert is_extension(raw) is expected


def test_is_extension_max_len():
    assert is_extension("123456", extension_max_len=6)
    assert not is_extension("1234567", extension_max_len=6)


def test_national_variants():
    assert national_variants("8 (495) 123-45-67") == [
        MOSCOW,
        "74951234567",
        "4951234567",
        "84951234567",
    ]
    assert national_variants("020 7946 0958", "GB") == [
        LONDON,
        "442079460958",
        "2079460958",
        "02079460958",
    ]
    assert national_variants("+12125551234") == [NEW_YORK, "12125551234", "2125551234"]
    assert national_variants("101") == []
    assert national_variants(None) == []


def test_normalize_speed_p95_under_1ms():
    """Caller identification runs on every call: measure uncached parsing, p95 < 1 ms."""
    samples = [
        ("8 (495) 123-45-67", "RU"),
        ("442037691880", "RU"),
        ("+1 (212) 555-1234", "RU"),
        ("00 44 20 7946 0958", "RU"),
        ("sip:+74951234567@pbx.example.com", "RU"),
        ("020 7946 0958", "GB"),
        ("101", "RU"),
        ("garbage", "RU"),
    ]
    uncached = numbers._normalize_cached.__wrapped__
    rng = random.Random(7)
    durations = []
    for _ in range(400):
        raw, region = rng.choice(samples)
        start = time.perf_counter()
        uncached(raw, region, 5)
        durations.append(time.perf_counter() - start)
    durations.sort()
    p95 = durations[int(len(durations) * 0.95)]
    assert p95 < 0.001, f"p95 {p95 * 1000:.3f} ms"


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        ("+74951234567", "+7 495 123-45-67"),
        ("+442079460958", "+44 20 7946 0958"),
        ("101", "101"),  # an extension, as it is
        ("+7", "+7"),  # not a number: as it is
        ("", ""),
    ],
)
def test_format_international(number, shown):
    assert numbers.format_international(number) == shown


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+74951234567", "+7 495 ***-**-67"),
        ("+79161234567", "+7 916 ***-**-67"),
        ("8 (495) 123-45-67", "+7 495 ***-**-67"),
        ("+442037691880", "+44 20 **** **80"),
        ("+14155552671", "+1 415-***-**71"),
        ("101", "101"),  # an extension is not a client's number
        ("12345678", "******78"),  # not a number we can read: its last digits only
        ("anonymous", "***"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_number(number, masked):
    assert numbers.mask_number(number) == masked


def test_mask_number_hides_at_least_three_digits():
    # A short national number has little left once its area code is shown.
    masked = numbers.mask_number("+4930123456")
    assert masked.count("*") >= numbers.MASK_MIN_HIDDEN
    assert masked.endswith("56")
    assert "1234" not in masked


def test_masked_number_stays_as_it_is():
    masked = numbers.mask_number("+74951234567")
    assert numbers.mask_number(masked) == masked
    assert numbers.format_international(masked) == masked
