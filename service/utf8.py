"""Text fields that must survive being stored and served again: valid UTF-8 only.

JSON may carry a lone surrogate (``"\\ud800"``), which Python accepts as a ``str`` but no
UTF-8 encoder does; stored, it would break every response that lists it. Such text is a
422 at the door instead.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def encodable(value: str) -> str:
    """``value`` if it encodes as UTF-8, else a validation error."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid UTF-8 text (it holds a lone surrogate)") from None
    return value


Utf8Str = Annotated[str, AfterValidator(encodable)]
