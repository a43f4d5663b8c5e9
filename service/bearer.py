"""Bearer tokens of the integrations (``KB_MCP_TOKEN``, ``KB_API_TOKEN``), compared in
constant time."""

from __future__ import annotations

import hmac

from pydantic import SecretStr


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, None when absent."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def token_matches(supplied: str | None, expected: SecretStr) -> bool:
    """Whether ``supplied`` is the expected token (constant-time)."""
    if supplied is None:
        return False
    return hmac.compare_digest(supplied.encode(), expected.get_secret_value().encode())
