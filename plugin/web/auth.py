"""Admin authentication: a bearer token compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import request

from plugin.errors import Unauthorized
from plugin.web.context import services


def require_admin(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        expected = services().settings.admin_token
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if (not expected or scheme.lower() != "bearer"
                or not hmac.compare_digest(token.strip().encode(), expected.encode())):
            raise Unauthorized("admin API needs 'Authorization: Bearer <CONSENTRY_ADMIN_TOKEN>'")
        return view(*args, **kwargs)

    wrapper.requires_admin = True  # type: ignore[attr-defined]
    return wrapper
