"""The domain exception tree, shared by the ingest pipeline, the CLI and the HTTP service.

    KBError
    ├── ContentError            an article cannot be parsed or validated (names file and line)
    ├── IndexError_             the index cannot be used as it is
    │   ├── IndexNotFoundError      nothing has been indexed yet
    │   ├── ModelMismatchError      the index was built with another embedding model
    │   ├── IndexValidationError    a freshly built version failed its checks
    │   └── IndexCorruptError       stored index files cannot be read (names the file)
    ├── StoreUnavailableError   Qdrant cannot be reached, or its folder is locked
    ├── EmbedderError           the embedding model failed to load or to run
    └── LLMUnavailableError     the LLM timed out or failed after its retries

The HTTP layer maps each class to an RFC 9457 problem (see ``service/problems.py``).
"""

from __future__ import annotations

from pathlib import PurePath


class KBError(Exception):
    """Base class of every error the project raises on purpose."""


class ContentError(KBError):
    """An article is malformed; carries the file and, where known, the line."""

    def __init__(self, path: PurePath | str, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class IndexError_(KBError):
    """The index cannot be used as it is."""


class IndexNotFoundError(IndexError_):
    """No index version exists yet."""


class ModelMismatchError(IndexError_):
    """The served index was built with a different embedding model or dimension."""


class IndexValidationError(IndexError_):
    """A new index version failed validation and was not switched in."""


class IndexCorruptError(IndexError_):
    """Stored index files are damaged or missing; the message names the file and says to
    rebuild with ``kb ingest --rebuild``."""


class OtherContentError(IndexError_):
    """The data folder's index was built from another content folder; replacing it needs
    ``--replace`` (or another data folder keeps both)."""


class StoreUnavailableError(KBError):
    """Qdrant is unreachable, or its embedded storage folder is held by another process."""


class EmbedderError(KBError):
    """The embedding model could not be loaded or failed to embed."""


class LLMUnavailableError(KBError):
    """The configured LLM did not answer in time or failed after bounded retries."""
