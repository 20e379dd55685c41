"""Every module ships a Russian translation that covers its current template."""

import pathlib
import re

import polib
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
MODULES = (
    "crm_voip",
    "crm_voip_routing",
    "crm_voip_reports",
    "crm_voip_dialer",
    "crm_voip_callback",
    "crm_voip_callback_website",
)
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]")


@pytest.mark.parametrize("module", MODULES)
def test_russian_translation_is_complete(module):
    template = polib.pofile(str(ROOT / module / "i18n" / f"{module}.pot"))
    russian = polib.pofile(str(ROOT / module / "i18n" / "ru.po"))
    translated = {entry.msgid: entry.msgstr for entry in russian if not entry.obsolete}
    missing = [entry.msgid for entry in template if not translated.get(entry.msgid)]
    assert not missing, f"{len(missing)} strings of {module}.pot have no Russian: {missing[:5]}"
    assert not russian.fuzzy_entries(), "fuzzy entries are not used by Odoo"


@pytest.mark.parametrize("module", MODULES)
def test_russian_translation_keeps_placeholders(module):
    russian = polib.pofile(str(ROOT / module / "i18n" / "ru.po"))
    for entry in russian.translated_entries():
        assert sorted(PLACEHOLDER.findall(entry.msgstr)) == sorted(
            PLACEHOLDER.findall(entry.msgid)
        ), entry.msgid
