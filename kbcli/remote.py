"""`kb ingest --server URL`: ask a running service to reindex and wait for the job."""

from __future__ import annotations

import argparse
import json
import sys
import time

import httpx

from kbcore.errors import KBError
from kbcore.settings import Settings

POLL_SECONDS = 0.5


def reindex_on_server(args: argparse.Namespace, settings: Settings) -> int:
    if settings.admin_token is None:
        raise KBError("set KB_ADMIN_TOKEN to the server's admin token to use --server")
    base = args.server.rstrip("/")
    headers = {"Authorization": f"Bearer {settings.admin_token.get_secret_value()}"}
    body = {"dry_run": args.dry_run, "rebuild": args.rebuild, "strict": args.strict}
    try:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            started = http.post("/v1/admin/reindex", json=body)
            if started.status_code != 202:
                raise KBError(f"the server refused: {_problem(started)}")
            job_url = started.headers.get("location") or f"/v1/admin/reindex/{started.json()['id']}"
            while True:
                job = http.get(job_url).json()
                if job.get("status") in ("succeeded", "failed"):
                    break
                time.sleep(POLL_SECONDS)
    except httpx.HTTPError as exc:
        raise KBError(f"cannot reach the server at {base}: {exc}") from exc
    if args.json:
        sys.stdout.write(json.dumps(job.get("report") or job) + "\n")
    else:
        print(json.dumps(job, indent=2))
    return 0 if job.get("status") == "succeeded" else 1


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
        return f"{response.status_code} {body.get('detail') or body}"
    except ValueError:
        return f"{response.status_code} {response.text[:200]}"
