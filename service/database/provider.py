"""The databases one process uses, opened on first use and shared by every store: the
log and feedback SQLite files under ``KB_DATA_DIR``, or the one ``KB_DATABASE_URL`` names
(holding both, shared by every replica)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Literal

from kbcore.settings import Settings
from service.database.engine import Database

Store = Literal["log", "feedback"]
FILES: dict[Store, str] = {"log": "conversations.sqlite3", "feedback": "feedback.sqlite3"}


@dataclass
class Databases:
    """Opens each database once; ``close`` releases their connections."""

    settings: Settings
    _opened: dict[str, Database] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def shared(self) -> bool:
        """Whether a database server holds everything (replicas share it)."""
        return self.settings.database_url is not None

    def get(self, store: Store) -> Database:
        with self._lock:
            key = "shared" if self.shared else store
            if key not in self._opened:
                self._opened[key] = self._open(store)
            return self._opened[key]

    def _open(self, store: Store) -> Database:
        if self.settings.database_url is not None:
            return Database(self.settings.database_url.get_secret_value(), "heads")
        path = self.settings.data_dir / FILES[store]
        return Database(f"sqlite+pysqlite:///{path}", store)

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, {}
        for database in opened.values():
            database.dispose()
