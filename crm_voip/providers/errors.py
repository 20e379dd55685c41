"""Typed errors of the provider layer.

Two families, because the caller reacts differently:

* ``ProviderError`` and its subclasses come from our outgoing REST calls to the PBX. The Odoo side
  decides from the class whether to retry (``retryable``), back off (``retry_after``) or tell the
  administrator to fix the credentials.
* ``WebhookError`` and its subclasses come from an incoming webhook. ``status`` is the HTTP
  status the controller must answer with; ``reason`` is a short English sentence, safe to log
  and to return.
"""


class ProviderError(Exception):
    """A call to the provider's API failed."""

    #: Whether the same call may succeed if simply repeated later.
    retryable = False

    def __init__(self, message, *, status_code=None, hint=""):
        super().__init__(message)
        self.message = message
        #: HTTP status of the provider's answer, when there was one.
        self.status_code = status_code
        #: What the administrator can do about it (an ``_lt`` marked, untranslated
        #: sentence, e.g. which menu of the PBX's web account to open); the Odoo side
        #: translates it and shows it after the message.
        self.hint = hint


class AuthError(ProviderError):
    """The provider refused our credentials (wrong key/secret, IP not allowed, ...)."""


class RateLimitError(ProviderError):
    """The provider throttled us; retry after ``retry_after`` seconds."""

    retryable = True

    def __init__(self, message, retry_after=60, *, status_code=None, hint="", kept=False):
        super().__init__(message, status_code=status_code, hint=hint)
        self.retry_after = max(1, int(retry_after))
        # True when the adapter refused itself to keep to the PBX's documented limit
        # (nothing was sent): a wait, not a failure.
        self.kept = kept


class RetryableError(ProviderError):
    """A transient failure: network error, timeout, provider-side 5xx."""

    retryable = True


class PermanentError(ProviderError):
    """The provider rejected the request itself; repeating it will not help."""


class WebhookError(Exception):
    """An incoming webhook must be refused."""

    status = 400

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class SignatureError(WebhookError):
    """Authenticity could not be established: bad or missing signature, replayed or stale
    request, source address not allowed."""

    status = 403


class MalformedEventError(WebhookError):
    """The payload is not a valid event of the provider's protocol."""

    status = 400
