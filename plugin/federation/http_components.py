"""RFC 9421 components and signature base, separated from the signing policy.

:class:`HttpMessage` normalises a request or response (case-insensitive header lookup,
combined duplicate fields, derived components such as ``@target-uri``) and
:func:`signature_base` turns a list of covered components plus the ``@signature-params``
inner list into the exact bytes that are signed (RFC 9421 section 2.5).  Kept apart from
:mod:`.http_signatures` so the profile rules there stay readable, and so the RFC's own test
vectors can drive this code directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from .errors import MalformedSignature
from .structured_fields import InnerList, serialize_inner_list

__all__ = ["HttpMessage", "signature_base"]

_REQUEST_DERIVED = {"@method", "@target-uri", "@authority", "@scheme", "@path", "@query"}
_RESPONSE_DERIVED = {"@status"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


class HttpMessage:
    """A request (method + URL) or a response (status), with its header fields."""

    def __init__(
        self,
        headers: Mapping[str, str],
        method: str | None = None,
        url: str | None = None,
        status: int | None = None,
    ) -> None:
        self.method, self.url, self.status = method, url, status
        self.headers: dict[str, str] = {}
        for name, value in headers.items():
            key = name.lower()
            value = str(value).strip(" \t")
            self.headers[key] = f"{self.headers[key]}, {value}" if key in self.headers else value
        self.derived = _RESPONSE_DERIVED if status is not None else _REQUEST_DERIVED

    def component(self, name: str) -> str:
        if name.startswith("@"):
            if name not in self.derived:
                raise MalformedSignature(f"component {name} is not supported here")
            value = self._derived(name)
        elif name in self.headers:
            value = self.headers[name]
        else:
            raise MalformedSignature(f"covered header {name!r} is absent")
        if "\n" in value or "\r" in value:
            raise MalformedSignature(f"component {name} contains a line break")
        return value

    def _derived(self, name: str) -> str:
        if name == "@status":
            return f"{self.status:03d}"
        if name == "@method":
            return str(self.method).upper()
        assert self.url is not None
        if name == "@target-uri":
            return self.url
        parts = urlsplit(self.url)
        if name == "@scheme":
            return parts.scheme.lower()
        if name == "@authority":
            host = (parts.hostname or "").lower()
            try:
                port = parts.port
            except ValueError:
                raise MalformedSignature("target URI has an invalid port") from None
            default = _DEFAULT_PORTS.get(parts.scheme.lower())
            return host if port is None or port == default else f"{host}:{port}"
        if name == "@path":
            return parts.path or "/"
        return "?" + parts.query  # @query


def signature_base(message: HttpMessage, components: Sequence[str], params: InnerList) -> bytes:
    """Build the RFC 9421 signature base for *components* and the ``@signature-params``."""
    lines = [f'"{name}": {message.component(name)}' for name in components]
    lines.append(f'"@signature-params": {serialize_inner_list(params)}')
    return "\n".join(lines).encode("ascii", errors="strict")
