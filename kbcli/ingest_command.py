"""`kb ingest`: index locally, or ask a running server to (``--server``)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from kbcli.remote import RemoteServer
from kbcore.errors import KBError
from kbcore.settings import Settings


def run_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from kbcli.remote import running_server, server_for_ingest

    server = server_for_ingest(args.server, settings) if args.server else running_server(settings)
    if server is not None:
        _same_content(server, args, settings)
        if not args.json:
            print(f"asking the running server at {server.url} to reindex", file=sys.stderr)
        job = server.reindex(dry_run=args.dry_run, rebuild=args.rebuild, strict=args.strict)
        if job.get("status") == "forwarded":
            print(f"{server.url}: {job.get('detail')}", file=sys.stderr)
            return 0
        if job.get("status") != "succeeded" or not isinstance(job.get("report"), dict):
            raise KBError(f"the server's reindex failed: {job.get('error')}")
        return print_report(job["report"], args)
    if settings.database_url is not None and settings.qdrant_url is not None:
        return _as_leader(args, settings)
    return _build_here(args, settings)


def _as_leader(args: argparse.Namespace, settings: Settings) -> int:
    """A shared index beside replicas: build only while holding the leader lock, so a
    job and a serving replica never build at once."""
    from service.database.provider import Databases
    from service.replicas import leadership

    databases = Databases(settings)
    try:
        with leadership(databases.get("log")) as leads:
            if not leads:
                raise KBError(
                    "a serving replica leads and builds the shared index; ask it to reindex "
                    "(kb ingest --server URL, or POST /v1/admin/reindex on any replica)"
                )
            return _build_here(args, settings)
    finally:
        databases.close()


def _build_here(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.runner import ingest
    from kbcore.runtime import Runtime

    runtime = Runtime.open(settings)
    bar: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if args.json or not sys.stderr.isatty() or total == 0:
            return
        if bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="chunk", desc="embedding", file=sys.stderr)
        bar.update(done - bar.n)

    try:
        report = ingest(
            runtime,
            settings.content_dir,
            progress=progress,
            dry_run=args.dry_run,
            rebuild=args.rebuild,
            strict=args.strict,
            replace=args.replace,
        )
    finally:
        if bar is not None:
            bar.close()
        runtime.close()
    return print_report(report.to_json(), args)


def _same_content(server: RemoteServer, args: argparse.Namespace, settings: Settings) -> None:
    """A running server reindexes its own content folder: asking it to while naming
    another one (``--content``) is refused instead of indexing the wrong tree."""
    from ingest.ownership import resolved_folder

    if not getattr(args, "content", None):
        return
    if not server.identity:
        server.identity = server.get_json("/v1/admin/server")
    theirs = server.identity.get("content_dir")
    wanted = resolved_folder(settings.content_dir)
    if theirs and theirs != wanted:
        raise KBError(
            f"the server at {server.url} indexes {theirs}, not {wanted}; stop it to index "
            "another tree here, or give that tree its own --data folder"
        )


def print_report(report: dict[str, Any], args: argparse.Namespace) -> int:
    """What `kb ingest` prints, from the report as JSON (a local run or the server's)."""
    if args.json:
        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
        return 0
    for skipped in report["skipped"]:
        print(f"skipped: {skipped['path']}: {'; '.join(skipped['reasons'])}", file=sys.stderr)
    for warning in report["warnings"]:
        line = f":{warning['line']}" if warning.get("line") is not None else ""
        print(f"warning: {warning['path']}{line}: {warning['message']}", file=sys.stderr)
    if args.dry_run:
        if not report["diff"]:
            print("no changes")
        for slug, diff in report["diff"].items():
            for kind in ("added", "changed", "removed"):
                for section in diff[kind]:
                    print(
                        f"{kind:>8}  {slug}#{section}"
                        if section != "(overview)"
                        else f"{kind:>8}  {slug} (overview)"
                    )
        print(f"{report['embedded']} chunks would be embedded, {report['deleted']} removed")
        return 0
    state = "switched to" if report["switched"] else "unchanged at"
    print(
        f"{report['docs_format']} ({report['docs_format_reason']}): {report['files']} files, "
        f"{len(report['skipped'])} skipped; "
        f"{report['articles']} articles, {report['sections']} sections, {report['chunks']} "
        f"chunks; embedded {report['embedded']}, removed {report['deleted']}; index {state} "
        f"{report['index_version']} ({report['seconds']:.1f}s)"
    )
    return 0
