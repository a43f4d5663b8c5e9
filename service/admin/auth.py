"""Bearer-token guard of the admin routes (`/v1/admin/*`).

No token configured: the admin routes do not exist (404). Missing or malformed
Authorization header: 401 with ``WWW-Authenticate``. Wrong token: 403. The comparison is
constant-time.
"""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Header

from service.deps import StateDep
from service.problems import Problem


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
