"""The dialer's pure decisions (crm_voip_dialer/dialer/), without Odoo."""

import importlib.util
import pathlib
from datetime import datetime, timedelta

from voip_dialer import pacing, region_timezones

TUESDAY_0700_UTC = datetime(2030, 3, 5, 7, 0)


def test_window_in_contact_timezone():
    # 07:00 UTC = 10:00 Moscow, 17:00 Vladivostok, 02:00 New York.
    assert pacing.in_window("Europe/Moscow", TUESDAY_0700_UTC, 9, 20)
    assert pacing.in_window("Asia/Vladivostok", TUESDAY_0700_UTC, 9, 20)
    assert not pacing.in_window("America/New_York", TUESDAY_0700_UTC, 9, 20)
    assert not pacing.in_window("Asia/Vladivostok", TUESDAY_0700_UTC, 9, 17)  # end excluded


def test_window_over_midnight_weekdays_and_unknown_zone():
    assert pacing.in_window("UTC", datetime(2030, 3, 5, 23, 0), 22, 2)
    assert not pacing.in_window("UTC", datetime(2030, 3, 5, 12, 0), 22, 2)
    assert pacing.in_window("UTC", TUESDAY_0700_UTC, 0, 0)  # around the clock
    saturday = datetime(2030, 3, 9, 10, 0)
    assert not pacing.in_window("UTC", saturday, 9, 20, weekdays={1, 2, 3, 4, 5})
    assert pacing.in_window("Not/AZone", TUESDAY_0700_UTC, 6, 8)  # falls back to UTC


def test_allowed_timezones():
    zones = ["Europe/Moscow", "America/New_York", "Asia/Vladivostok", "Europe/Moscow"]
    assert pacing.allowed_timezones(zones, TUESDAY_0700_UTC, 9, 20) == [
        "Asia/Vladivostok",
        "Europe/Moscow",
    ]


def test_retry_delays_per_outcome_and_max_attempts():
    delays = {"no_answer": 60, "busy": 10, "failed": 30}
    now = TUESDAY_0700_UTC
    assert pacing.next_attempt("no_answer", now, 1, 3, delays) == now + timedelta(minutes=60)
    assert pacing.next_attempt("busy", now, 2, 3, delays) == now + timedelta(minutes=10)
    assert pacing.next_attempt("failed", now, 1, 3, delays) == now + timedelta(minutes=30)
    assert pacing.next_attempt("abandoned", now, 1, 3, delays) == now + timedelta(minutes=60)
    assert pacing.next_attempt("busy", now, 3, 3, delays) is None
    assert pacing.next_attempt("answered", now, 1, 3, delays) is None


def test_progressive_and_preview_counts():
    assert pacing.calls_to_place("progressive", 3) == 3
    assert pacing.calls_to_place("progressive", 0) == 0
    assert pacing.calls_to_place("preview", 5) == 0


def test_power_dials_ahead_only_with_history_and_under_the_cap():
    # No history yet: every call is assumed answered, so no call is dialled ahead.
    assert pacing.calls_to_place("power", 4, ratio=3, abandon_cap=0.05) == 4
    # 30% answer rate measured over 100 attempts, no abandon: up to 3 per agent.
    assert (
        pacing.calls_to_place(
            "power", 4, ratio=3, answered=30, abandoned=0, finished=100, abandon_cap=0.05
        )
        == 12
    )
    # At the cap: one call per free agent, minus those still ringing with no agent.
    assert (
        pacing.calls_to_place(
            "power", 4, in_flight=1, ratio=3, answered=20, abandoned=1, finished=100,
            abandon_cap=0.05,
        )
        == 3
    )  # fmt: skip
    # High answer rate: the expected abandons limit the ratio.
    placed = pacing.calls_to_place(
        "power", 4, ratio=3, answered=90, abandoned=2, finished=100, abandon_cap=0.03
    )
    assert 4 <= placed < 12


def test_abandon_rate():
    assert pacing.abandon_rate(0, 0) == 0.0
    assert pacing.abandon_rate(50, 1) == 0.02


def test_region_timezones_are_real_zones_and_cover_odoo_states():
    """Every zone of the state table exists, and every Russian and US state Odoo ships
    (its base data) has one."""
    import csv
    from zoneinfo import ZoneInfo

    for zone in set(region_timezones.REGION_TIMEZONES.values()):
        ZoneInfo(zone)
    assert region_timezones.timezone_of_state("RU", "NVS") == "Asia/Novosibirsk"
    assert region_timezones.timezone_of_state("us", "ca") == "America/Los_Angeles"
    assert region_timezones.timezone_of_state("FR", "75") is None
    assert region_timezones.timezone_of_state(False, "NVS") is None
    spec = importlib.util.find_spec("odoo")
    states = pathlib.Path(spec.origin).parent / "addons/base/data/res.country.state.csv"
    with states.open(encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["country_id:id"] in ("ru", "us")]
    military_mail = {"AA", "AE", "AP", "FM", "MH", "PW"}  # US codes that are not places
    missing = [
        (row["country_id:id"], row["code"])
        for row in rows
        if row["code"] not in military_mail
        and not region_timezones.timezone_of_state(row["country_id:id"], row["code"])
    ]
    assert not missing
