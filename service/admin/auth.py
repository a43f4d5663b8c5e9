"""Bearer-token guard of the admin routes (`/v1/admin/*`).

No token configured: the admin routes do not exist (404). Missing or malformed
Authorization header: 401 with ``WWW-Authenticate``. Wrong token: 403. The comparison is
constant-time.

The operator routes (start and follow a reindex, list index versions) also accept the
per-start local token `kb serve` writes to its runtime file, from a loopback client only:
that is how `kb ingest` and `kb index list` in a second terminal reach the server that
holds the embedded index, with no admin token configured.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Header, Request
from starlette.datastructures import Headers
from starlette.types import Scope

from service.bearer import bearer_token
from service.deps import StateDep
from service.problems import Problem
from service.state import ServiceState


def _loopback(request: Request) -> bool:
    return _loopback_host(request.client.host if request.client else "")


def _loopback_host(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_operator(state: ServiceState, authorization: str | None, client_host: str) -> bool:
    """Whether a request carries the operator's token: the admin token, or the runtime
    file's local token from a loopback client."""
    supplied = bearer_token(authorization)
    if supplied is None:
        return False
    if hmac.compare_digest(supplied.encode(), state.local_token.encode()):
        return _loopback_host(client_host)
    admin = state.settings.admin_token
    return admin is not None and hmac.compare_digest(
        supplied.encode(), admin.get_secret_value().encode()
    )


def operator_scope(state: ServiceState) -> Callable[[Scope], bool]:
    """:func:`is_operator` for a raw ASGI request (the rate limiter's exemption)."""

    def check(scope: Scope) -> bool:
        authorization = Headers(scope=scope).get("authorization")
        client = str((scope.get("client") or ("", 0))[0])
        return is_operator(state, authorization, client)

    return check


def require_operator(
    request: Request,
    state: StateDep,
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    supplied = bearer_token(authorization)
    if (
        supplied is not None
        and hmac.compare_digest(supplied.encode(), state.local_token.encode())
        and _loopback(request)
    ):
        return
    require_admin(state, authorization)


def require_admin(
    state: StateDep,
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    token = state.settings.admin_token
    if token is None:
        raise Problem(
            404,
            "the admin routes are disabled; set KB_ADMIN_TOKEN to enable them",
            slug="admin-disabled",
        )
    scheme, _, supplied = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not supplied.strip():
        raise Problem(
            401,
            "send the admin token as 'Authorization: Bearer <token>'",
            slug="unauthorized",
            headers={"WWW-Authenticate": 'Bearer realm="kb-admin"'},
        )
    if not hmac.compare_digest(supplied.strip().encode(), token.get_secret_value().encode()):
        raise Problem(403, "the admin token is not valid", slug="forbidden")


AdminDep = Annotated[None, Depends(require_admin)]
OperatorDep = Annotated[None, Depends(require_operator)]
