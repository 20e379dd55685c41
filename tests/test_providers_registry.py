"""Adapter registry and the shape every adapter must have."""

import pytest
import voip_providers
from voip_providers import registry
from voip_providers.base import ProviderAdapter
from voip_providers.generic import GenericWebhookAdapter
from voip_providers.zadarma import ZadarmaAdapter

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


def test_available_codes():
    assert voip_providers.available_codes() == ["generic", "zadarma"]
    assert registry.available_codes() == voip_providers.available_codes()


@pytest.mark.parametrize(
    "code, cls", [("zadarma", ZadarmaAdapter), ("generic", GenericWebhookAdapter)]
)
def test_get_adapter_class(code, cls):
    assert registry.get_adapter_class(code) is cls
    assert cls.code == code
    assert issubclass(cls, ProviderAdapter)


@pytest.mark.parametrize("code", ["zadarma", "generic"])
def test_adapters_build_from_empty_config(code):
    adapter = registry.get_adapter_class(code)({})
    assert adapter.timeout == 10
    assert adapter.name
    for method in CONTRACT_METHODS:
        assert callable(getattr(adapter, method)), method


def test_config_timeout_and_defaults():
    adapter = ZadarmaAdapter({"timeout": 2.5, "max_event_age": None, "timezone": ""})
    unset = ZadarmaAdapter({"timeout": 0, "replay_window": 0})
    assert (unset.timeout, unset._setting("replay_window")) == (10, 300)
    assert adapter.timeout == 2.5
    assert adapter._setting("max_event_age") == 86400
    assert adapter._setting("timezone") == "Europe/Moscow"
    assert adapter._setting("replay_window") == 300
    assert adapter.base_url == "https://api.zadarma.com"
    assert ZadarmaAdapter({"base_url": "https://api-sandbox.zadarma.com/"}).base_url == (
        "https://api-sandbox.zadarma.com"
    )


def test_unknown_code():
    with pytest.raises(KeyError, match="Unknown VoIP provider code 'mango'"):
        registry.get_adapter_class("mango")


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
    assert registry.available_codes() == ["generic", "zadarma"]
