"""What the adapters' REST tests share: canned PBX answers and a transport that records
the requests (the unit tests patch an adapter's single transport method, ``_request``)."""

import json

import requests


def http_response(status=200, payload=None, headers=None, content=None):
    """A ``requests.Response`` with ``payload`` as its JSON body (or raw ``content``)."""
    result = requests.Response()
    result.status_code = status
    result.headers.update(headers or {})
    if content is None:
        content = json.dumps(payload).encode() if payload is not None else b""
    result._content = content
    return result


class FakeTransport:
    """Stands for ``_request``: answers with the given responses in turn, keeps the calls."""

    def __init__(self, *responses):
        self.responses = list(responses)
        self.calls = []

    def __call__(self, method, url, **kwargs):
        self.calls.append({"method": method, "url": url, **kwargs})
        return self.responses.pop(0)


def patch_transport(adapter, *responses, transport_class=FakeTransport):
    """``(adapter, transport)``: ``adapter`` answering with ``responses``."""
    transport = transport_class(*responses)
    adapter._request = transport
    return adapter, transport
