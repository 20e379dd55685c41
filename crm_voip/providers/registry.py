"""Registry of provider adapters, keyed by the code stored on ``crm.voip.provider``."""

_ADAPTERS = {}


def register(code):
    """Class decorator: make an adapter class available under ``code``."""

    def decorator(cls):
        if code in _ADAPTERS and _ADAPTERS[code] is not cls:
            raise ValueError(f"VoIP provider code {code!r} is already registered")
        cls.code = code
        _ADAPTERS[code] = cls
        return cls

    return decorator


def get_adapter_class(code):
    """The adapter class registered under ``code``; ``KeyError`` if there is none."""
    try:
        return _ADAPTERS[code]
    except KeyError:
        raise KeyError(f"Unknown VoIP provider code {code!r}") from None


def available_codes():
    """Sorted codes of every registered adapter."""
    return sorted(_ADAPTERS)
