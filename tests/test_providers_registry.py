"""Adapter registry and the shape every adapter must have."""

import pathlib

import pytest
import voip_providers
from voip_providers import registry
from voip_providers.base import TRANSPORTS, ConfigField, ProviderAdapter
from voip_providers.generic import GenericWebhookAdapter
from voip_providers.zadarma import ZadarmaAdapter

PROVIDERS_DIR = pathlib.Path(__file__).resolve().parents[1] / "crm_voip" / "providers"

CONTRACT_METHODS = [
    "handshake",
    "verify",
    "parse",
    "routing_reply",
    "ack",
    "originate",
    "recording_link",
    "download",
    "list_extensions",
    "call_history",
    "test_connection",
    "check_source",
    "_request",
]


CODES = voip_providers.available_codes()


def test_available_codes():
    # Every adapter module of the package registers itself on import.
    modules = {path.stem for path in PROVIDERS_DIR.glob("*.py")} - {"__init__"}
    modules -= voip_providers.CORE_MODULES
    assert set(CODES) == modules
    assert registry.available_codes() == sorted(CODES)


@pytest.mark.parametrize("code", CODES)
def test_get_adapter_class(code):
    cls = registry.get_adapter_class(code)
    assert cls.code == code
    assert issubclass(cls, ProviderAdapter)


@pytest.mark.parametrize("code", CODES)
def test_adapters_build_from_empty_config(code):
    adapter = registry.get_adapter_class(code)({})
    assert adapter.timeout == 10
    assert adapter.name
    for method in CONTRACT_METHODS:
        assert callable(getattr(adapter, method)), method


@pytest.mark.parametrize("code", CODES)
def test_adapter_declares_what_the_odoo_side_reads(code):
    cls = registry.get_adapter_class(code)
    assert cls.label and cls.label != ProviderAdapter.label
    assert cls.transport in TRANSPORTS
    assert isinstance(cls.recording_fetch_delay, int) and cls.recording_fetch_delay >= 0
    assert isinstance(cls.routes_synchronously, bool)
    assert isinstance(cls.has_call_history, bool)
    names = [item.name for item in cls.config_fields]
    assert len(names) == len(set(names)), "a config field is declared twice"
    common = {"base_url", "timezone", "timeout", "ip_allowlist"}
    assert not common & set(names), "common settings are the provider model's own fields"
    for item in cls.config_fields:
        assert isinstance(item, ConfigField) and item.label and item.help
        if item.default is not None:
            assert item.clean(item.default) == item.default
    if cls.has_call_history:
        assert cls.call_history is not ProviderAdapter.call_history
    if cls.whole_call_ref_prefix:
        ref = cls.whole_call_ref("c-1")
        assert cls.is_whole_call_ref(ref) and not cls.is_whole_call_ref("c-1")


def test_config_field_values_are_cleaned():
    number = ConfigField("window", "Window", kind="integer")
    assert number.clean("300") == 300 and number.clean("") is None
    with pytest.raises(ValueError, match="Window: a whole number"):
        number.clean("5 min")
    choice = ConfigField("mode", "Mode", kind="selection", choices=(("a", "A"),))
    with pytest.raises(ValueError, match="not one of the choices"):
        choice.clean("b")
    assert ConfigField("key", "Key").clean("  k  ") == "k"
    with pytest.raises(ValueError, match="Unknown config field kind"):
        ConfigField("x", "X", kind="password")


def test_config_timeout_and_defaults():
    adapter = ZadarmaAdapter({"timeout": 2.5, "max_event_age": None, "timezone": ""})
    unset = GenericWebhookAdapter({"timeout": 0, "replay_window": 0})
    assert (unset.timeout, unset._setting("replay_window")) == (10, 300)
    assert adapter.timeout == 2.5
    assert adapter._setting("max_event_age") == 4 * 3600
    assert adapter._setting("timezone") == "Europe/Moscow"
    assert adapter.base_url == "https://api.zadarma.com"
    assert ZadarmaAdapter({"base_url": "https://api-sandbox.zadarma.com/"}).base_url == (
        "https://api-sandbox.zadarma.com"
    )


def test_unknown_code():
    with pytest.raises(KeyError, match="Unknown VoIP provider code 'nosuchpbx'"):
        registry.get_adapter_class("nosuchpbx")


def test_register(monkeypatch):
    monkeypatch.setattr(registry, "_ADAPTERS", dict(registry._ADAPTERS))

    @registry.register("dummy")
    class DummyAdapter(ProviderAdapter):
        pass

    assert DummyAdapter.code == "dummy"
    assert registry.get_adapter_class("dummy") is DummyAdapter
    assert "dummy" in registry.available_codes()
    assert registry.register("dummy")(DummyAdapter) is DummyAdapter  # idempotent
    with pytest.raises(ValueError, match="already registered"):

        @registry.register("zadarma")
        class Impostor(ProviderAdapter):
            pass


def test_registry_is_restored_after_register_test():
    assert registry.available_codes() == sorted(CODES)
