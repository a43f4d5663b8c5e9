"""The `kb` commands against a running `kb serve` instead of the embedded index.

A running server owns its data folder (the embedded index is locked), so `kb ingest`,
`kb search`, `kb ask` and `kb index list` ask it instead: they find it through the runtime
file it leaves in the data folder (``kbcore/serverfile.py``: its URL and a per-start
token, accepted from this machine only), or are pointed at one with
``kb ingest --server URL`` (then with ``KB_ADMIN_TOKEN``).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import httpx

from ingest.ownership import resolved_folder
from kbcore.errors import KBError
from kbcore.serverfile import read_server_file, server_file
from kbcore.settings import Settings

POLL_SECONDS = 0.5
PROBE_SECONDS = 2.0


class RemoteServer:
    """A running service, spoken to over HTTP."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url.rstrip("/")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.identity: dict[str, Any] = {}  # GET /v1/admin/server, once checked

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            with httpx.Client(base_url=self.url, headers=self.headers, timeout=120) as http:
                return http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise KBError(f"cannot reach the server at {self.url}: {exc}") from exc

    def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._call(method, path, **kwargs)
        if response.status_code >= 400:
            raise KBError(f"the server at {self.url} refused: {_problem(response)}")
        body: dict[str, Any] = response.json()
        return body

    def get_json(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """A GET that must succeed (a refusal is a KBError with the server's reason)."""
        return self._json("GET", path, **kwargs)

    def reindex(self, *, dry_run: bool, rebuild: bool, strict: bool) -> dict[str, Any]:
        """Start a reindex and wait for it; the finished job."""
        body = {"dry_run": dry_run, "rebuild": rebuild, "strict": strict}
        started = self._call("POST", "/v1/admin/reindex", json=body)
        if started.status_code != 202:
            raise KBError(f"the server at {self.url} refused: {_problem(started)}")
        if started.json().get("status") == "forwarded":  # a follower of a shared index
            return dict(started.json())
        job_url = started.headers.get("location") or f"/v1/admin/reindex/{started.json()['id']}"
        while True:
            job = self._json("GET", job_url)
            if job.get("status") in ("succeeded", "failed"):
                return job
            time.sleep(POLL_SECONDS)

    def search(self, query: str, k: int, tags: list[str] | None, mode: str) -> dict[str, Any]:
        params: dict[str, Any] = {"q": query, "k": k, "mode": mode}
        if tags:
            params["tag"] = tags
        return self._json("GET", "/v1/search", params=params)

    def ask(self, question: str, tags: list[str] | None) -> dict[str, Any]:
        body: dict[str, Any] = {"message": question, "channel": "cli"}
        if tags:
            body["tags"] = tags
        return self._json("POST", "/v1/chat", json=body)

    def index_versions(self) -> dict[str, Any]:
        return self._json("GET", "/v1/admin/index")


def running_server(settings: Settings) -> RemoteServer | None:
    """The `kb serve` holding this data folder's embedded index, if one runs and answers.
    A runtime file left by a process that is gone, or whose URL does not answer, is
    ignored; one whose URL answers as another server (it refuses this folder's token, or
    holds another data folder) is ignored with a warning on stderr, never used."""
    if settings.qdrant_url:
        return None  # a Qdrant server is shared: every process opens it itself
    info = read_server_file(settings.data_dir)
    if info is None:
        return None
    server = RemoteServer(info.url, info.token)
    try:
        response = httpx.get(
            f"{server.url}/v1/admin/server", headers=server.headers, timeout=PROBE_SECONDS
        )
    except httpx.HTTPError:
        return None  # nothing listens there any more
    ours = resolved_folder(settings.data_dir)
    if response.status_code == 200:
        server.identity = response.json()
        if server.identity.get("data_dir") == ours:
            return server
    print(
        f"warning: ignoring {server_file(settings.data_dir)}: the server at {server.url} is "
        f"not the one serving {ours} (it answered {response.status_code}"
        f"{'' if response.status_code != 200 else ' for ' + str(server.identity.get('data_dir'))})",
        file=sys.stderr,
    )
    return None


def server_for_ingest(url: str, settings: Settings) -> RemoteServer:
    """``kb ingest --server URL``: the local token when URL is the server of this data
    folder, else the admin token."""
    local = running_server(settings)
    if local is not None and local.url == url.rstrip("/"):
        return local
    if settings.admin_token is None:
        raise KBError("set KB_ADMIN_TOKEN to the server's admin token to use --server")
    return RemoteServer(url, settings.admin_token.get_secret_value())


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{response.status_code} {body.get('detail') or body}"
    except ValueError:
        return f"{response.status_code} {response.text[:200]}"
