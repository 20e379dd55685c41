"""The timezone of a country subdivision (a partner's or lead's state), where one country
spans several zones; Odoo's states carry no timezone.

Keys are (ISO 3166-1 alpha-2 country, Odoo's state code); values are IANA zones. Russia's
federal subjects as Odoo 18 codes them, and the United States (a state split between two
zones gets the zone of most of its people). Countries with a single zone need no entry.
"""

# fmt: off
# Russia: the zone of each federal subject.
_RU = {
    "Europe/Kaliningrad": ("KGD",),
    "Europe/Moscow": (
        "AD", "ARK", "BEL", "BRY", "CE", "CU", "DA", "IN", "IVA", "KB", "KL", "KLU", "KC",
        "KR", "KO", "KOS", "KDA", "KRS", "LEN", "LIP", "ME", "MO", "MOS", "MOW", "MUR",
        "NIZ", "NGR", "ORL", "PNZ", "PSK", "ROS", "RYA", "SPE", "SE", "SMO", "STA", "TAM",
        "TA", "TUL", "TVE", "VLA", "VLG", "VOR", "YAR", "NEN",
    ),
    "Europe/Kirov": ("KIR",),
    "Europe/Volgograd": ("VGG",),
    "Europe/Astrakhan": ("AST",),
    "Europe/Samara": ("SAM", "UD"),
    "Europe/Saratov": ("SAR",),
    "Europe/Ulyanovsk": ("ULY",),
    "Asia/Yekaterinburg": ("BA", "CHE", "KHM", "KGN", "ORE", "PER", "SVE", "TYU", "YAN"),
    "Asia/Omsk": ("OMS",),
    "Asia/Barnaul": ("AL", "ALT"),
    "Asia/Novosibirsk": ("NVS",),
    "Asia/Tomsk": ("TOM",),
    "Asia/Novokuznetsk": ("KEM",),
    "Asia/Krasnoyarsk": ("KK", "KYA", "TY"),
    "Asia/Irkutsk": ("BU", "IRK"),
    "Asia/Chita": ("ZAB",),
    "Asia/Yakutsk": ("AMU", "SA"),
    "Asia/Vladivostok": ("KHA", "PRI", "YEV"),
    "Asia/Magadan": ("MAG",),
    "Asia/Sakhalin": ("SAK",),
    "Asia/Kamchatka": ("KAM",),
    "Asia/Anadyr": ("CHU",),
}

_US = {
    "America/New_York": (
        "CT", "DE", "DC", "FL", "GA", "KY", "ME", "MD", "MA", "NH", "NJ", "NY", "NC", "OH",
        "PA", "RI", "SC", "VT", "VA", "WV",
    ),
    "America/Detroit": ("MI",),
    "America/Indiana/Indianapolis": ("IN",),
    "America/Chicago": (
        "AL", "AR", "IL", "IA", "KS", "LA", "MN", "MS", "MO", "NE", "ND", "OK", "SD", "TN",
        "TX", "WI",
    ),
    "America/Denver": ("CO", "MT", "NM", "UT", "WY"),
    "America/Boise": ("ID",),
    "America/Phoenix": ("AZ",),
    "America/Los_Angeles": ("CA", "NV", "OR", "WA"),
    "America/Anchorage": ("AK",),
    "Pacific/Honolulu": ("HI",),
    "America/Puerto_Rico": ("PR",),
    "America/St_Thomas": ("VI",),
    "Pacific/Guam": ("GU",),
    "Pacific/Saipan": ("MP",),
    "Pacific/Pago_Pago": ("AS",),
}

# fmt: on

REGION_TIMEZONES = {
    (country, code): zone
    for country, table in (("RU", _RU), ("US", _US))
    for zone, codes in table.items()
    for code in codes
}


def timezone_of_state(country_code, state_code):
    """The IANA zone of a state, or ``None`` when the table does not know it."""
    if not country_code or not state_code:
        return None
    return REGION_TIMEZONES.get((country_code.upper(), state_code.upper()))
