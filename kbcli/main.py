"""`kb`: ingest, search, ask, serve, manage index versions and evaluate, from a terminal.

Machine-readable output (``--json``) is one JSON object on the last line of stdout.
Errors are one line on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kbcore.errors import KBError
from kbcore.settings import Settings

EXIT_ERROR = 2
Handler = Callable[[argparse.Namespace, Settings], int]


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "content", None):
        overrides["content_dir"] = Path(args.content)
    if getattr(args, "data", None):
        overrides["data_dir"] = Path(args.data)
    return Settings(**overrides)


def _print_json(obj: object) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from kbcli.ingest_command import run_ingest

    return run_ingest(args, settings)


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from kbcli.remote import running_server

    server = running_server(settings)
    if server is not None:
        found = server.search(args.query, args.k, args.tag, args.mode)
    else:
        from kbcore.runtime import Runtime

        runtime = Runtime.open(settings)
        try:
            result = runtime.retriever.search(args.query, k=args.k, tags=args.tag, mode=args.mode)
        finally:
            runtime.close()
        found = {
            "hits": [hit.to_json() for hit in result.hits],
            "index_version": result.index_version,
        }
    if args.json:
        _print_json(found)
        return 0
    if not found["hits"]:
        print("no matching sections")
    for rank, hit in enumerate(found["hits"], start=1):
        print(f"{rank}. {hit['heading_path']}  ({hit['score']:.3f})\n   {hit['url']}")
        snippet = " ".join(str(hit["text"]).split())
        print(f"   {snippet[:200]}{'…' if len(snippet) > 200 else ''}")
    return 0


def _ask_here(question: str, tags: list[str] | None, settings: Settings) -> dict[str, Any]:
    """Answer with the embedded index in this process, logged as a CLI turn."""
    import asyncio
    import time

    from kbcore.answering.engine import build_chat_engine
    from kbcore.runtime import Runtime
    from service.analytics.log import (
        Channel,
        ConversationLog,
        new_conversation_id,
        new_message_id,
    )
    from service.database.provider import Databases

    runtime = Runtime.open(settings)
    databases = Databases(settings)
    conversations = ConversationLog(settings, databases.get("log"))
    conversation_id, message_id = new_conversation_id(Channel.CLI), new_message_id()
    try:
        engine = build_chat_engine(runtime.retriever, settings)
        started = time.perf_counter()
        answer = asyncio.run(engine.aanswer(question, (), tags))
        conversations.record(
            channel=Channel.CLI,
            message_id=message_id,
            conversation_id=conversation_id,
            question=question,
            answer=answer,
            latency_ms=(time.perf_counter() - started) * 1000,
        )
    finally:
        runtime.close()
        conversations.close()
        databases.close()
    return {**answer.to_json(conversation_id), "message_id": message_id}


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from kbcli.remote import running_server

    server = running_server(settings)
    answer = (
        server.ask(args.question, args.tag)
        if server is not None
        else _ask_here(args.question, args.tag, settings)
    )
    if args.json:
        _print_json(answer)
        return 0
    print(answer["answer"])
    refusal = answer.get("refusal")
    if refusal:
        print(f"\n(refused: {refusal['code']}: {refusal['detail']})")
    if answer["citations"]:
        print("\nFrom the docs:")
        for citation in answer["citations"]:
            related = "" if citation.get("in_answer", True) else " (related)"
            print(
                f"[{citation['id']}] {citation['title']} > {citation['heading']}{related}  "
                f"{citation['url']}"
            )
            print(f'    "{citation["quote"]}"')
    for suggestion in answer["suggestions"]:
        print(f"  - {suggestion['title']}  {suggestion['url']}")
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from kbcli.eval_command import run_eval

    return run_eval(args, settings)


def cmd_analytics(args: argparse.Namespace, settings: Settings) -> int:
    from kbcli.analytics_command import run_analytics

    return run_analytics(args, settings)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from service.app import create_app
    from service.server import uvicorn_config

    settings = settings.model_copy(
        update={"host": args.host or settings.host, "port": args.port or settings.port}
    )
    if not args.replace:
        _check_content_folder(settings)
    local = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
    local = f"[{local}]" if ":" in local else local
    app = create_app(
        settings,
        watch=args.watch,
        announce=f"http://{local}:{settings.port}",
        replace=args.replace,
    )
    uvicorn.Server(uvicorn_config(app, settings)).run()
    return 0


def _check_content_folder(settings: Settings) -> None:
    """Stop before serving when the data folder holds the index of another content folder
    (``ingest.ownership``), or another process holds it."""
    from ingest.ownership import check_same_content
    from ingest.runner import data_place
    from kbcli.remote import running_server
    from kbcore.store import open_store

    server = running_server(settings)
    if server is not None:
        raise KBError(
            f"`kb serve` at {server.url} already serves the data folder {settings.data_dir}; "
            "stop it, or give this one its own --data folder and --port"
        )
    store = open_store(settings)
    try:
        check_same_content(store, settings.content_dir, data_place(settings))
    finally:
        store.close()


def cmd_mcp(args: argparse.Namespace, settings: Settings) -> int:
    """The MCP server over stdio, on the embedded index (what editors launch)."""
    import anyio

    from kbcli.remote import running_server
    from kbcore.runtime import Runtime

    server = running_server(settings)
    if server is not None:
        raise KBError(
            f"`kb serve` at {server.url} holds the data folder {settings.data_dir}; point "
            f"your editor at its MCP endpoint {server.url}/mcp (streamable HTTP) instead of "
            "`kb mcp`, or stop the server"
        )
    from service.mcp_server.server import build_mcp_server
    from service.mcp_server.stdio import serve_stdio
    from service.state import ServiceState

    runtime = Runtime.open(settings)
    state = ServiceState(settings=settings, runtime=runtime, ready=True)
    try:
        state.served_version()  # fail now, with the reason, when there is no index
        anyio.run(serve_stdio, build_mcp_server(state))
    finally:
        state.stop_background_work()
        runtime.close()
    return 0


def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.swap import rollback
    from kbcli.remote import running_server
    from kbcore.store import open_store
    from kbcore.versions import list_versions

    server = running_server(settings) if args.index_command == "list" else None
    if server is not None:
        rows: list[dict[str, Any]] = server.index_versions()["versions"]
    else:
        store = open_store(settings)
        try:
            if args.index_command == "rollback":
                info = rollback(store, args.version)
                if args.json:
                    _print_json({"index_version": info.version})
                else:
                    print(f"now serving {info.version}")
                return 0
            rows = [v.to_json() for v in list_versions(store)]
        finally:
            store.close()
    if args.json:
        _print_json({"versions": rows})
        return 0
    if not rows:
        print("no index versions; run `kb ingest`")
    for row in rows:
        mark = "*" if row["serving"] else " "
        floor = row["refusal_floor"]
        print(
            f"{mark} {row['index_version']}  {row['status']:<8} {row['created_at']}  "
            f"{row['articles']} articles, {row['chunks']} chunks  {row['embed_model']}  "
            f"refusal floor {'—' if floor is None else f'{floor:.2f}'}"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kb", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="index the content folder (incremental, atomic)")
    p.add_argument("--content", help="content folder (default KB_CONTENT_DIR)")
    p.add_argument("--data", help="data folder (default KB_DATA_DIR)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--dry-run", action="store_true", help="print what would change; write nothing")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything (model change)")
    p.add_argument("--strict", action="store_true", help="fail on any malformed article")
    p.add_argument("--server", metavar="URL", help="ask a running `kb serve` to reindex instead")
    p.add_argument(
        "--replace",
        action="store_true",
        help="replace an index built from another content folder (default: refuse)",
    )
    p.set_defaults(handler=cmd_ingest)

    p = sub.add_parser("search", help="search article sections")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=5, help="sections to return (default 5)")
    p.add_argument("--tag", action="append", help="only sections with this tag (repeatable)")
    p.add_argument("--mode", choices=["hybrid", "dense", "sparse"], default="hybrid")
    p.add_argument("--data", help="data folder (default KB_DATA_DIR)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=cmd_search)

    p = sub.add_parser("ask", help="ask a question; print a cited answer")
    p.add_argument("question")
    p.add_argument("--tag", action="append", help="only use sections with this tag")
    p.add_argument("--data", help="data folder (default KB_DATA_DIR)")
    p.add_argument("--json", action="store_true", help="print the /v1/chat response object")
    p.set_defaults(handler=cmd_ask)

    p = sub.add_parser("eval", help="score retrieval, answers and refusals on golden questions")
    p.add_argument("--set", action="append", help="a question set named in the thresholds file")
    p.add_argument("--all", action="store_true", help="every question set (what CI runs)")
    p.add_argument("--golden", help="question file (default: the 'golden' set)")
    p.add_argument("--thresholds", default="eval/thresholds.toml", help="sets and thresholds")
    p.add_argument("--content", help="docs folder the questions are about")
    p.add_argument("--data", help="index into this data folder (default: a scratch index)")
    p.add_argument("--save", metavar="FILE", help="write per-question results as JSON")
    p.add_argument("--diff", metavar="BASE", help="a results file or git ref to compare with")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--loco",
        action="store_true",
        help="also score each set with the sentence ranker fitted on the other sets only",
    )
    p.add_argument(
        "--fit",
        action="store_true",
        help="fit the sentence ranker and answerability gate on the sets (into kbcore/assets)",
    )
    p.add_argument(
        "--claims",
        action="store_true",
        help="claim verification precision/recall on eval/claims (leave-one-corpus-out; "
        "with --fit, fit kbcore/assets/claims.json)",
    )
    p.set_defaults(handler=cmd_eval)

    p = sub.add_parser("analytics", help="what visitors asked and what the docs lacked")
    p.add_argument("--since", help="7d, 24h, 2w, a date (YYYY-MM-DD) or a time (default 30d)")
    p.add_argument("--until", help="end of the window, same forms (default: now)")
    p.add_argument("--limit", type=int, default=20, help="top questions and gaps (default 20)")
    shape = p.add_mutually_exclusive_group()
    shape.add_argument("--json", action="store_true", help="print GET /v1/admin/analytics")
    shape.add_argument("--csv", action="store_true", help="print one table as CSV (--table)")
    p.add_argument("--table", choices=["questions", "gaps", "daily", "cited"], default="questions")
    p.add_argument("--data", help="data folder (default KB_DATA_DIR)")
    p.add_argument(
        "--server",
        metavar="URL",
        help="ask this service (admin token); the running `kb serve` of --data is found by itself",
    )
    p.set_defaults(handler=cmd_analytics)

    p = sub.add_parser("serve", help="run the HTTP API, widget and demo site")
    p.add_argument("--host", help="bind address (default KB_HOST)")
    p.add_argument("--port", type=int, help="port (default KB_PORT)")
    p.add_argument("--content", help="content folder (default KB_CONTENT_DIR)")
    p.add_argument("--data", help="data folder (default KB_DATA_DIR)")
    p.add_argument("--watch", action="store_true", help="reindex when content files change")
    p.add_argument(
        "--replace",
        action="store_true",
        help="replace an index built from another content folder (default: refuse)",
    )
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("mcp", help="serve the MCP tools over stdio (for editors)")
    p.add_argument("--content", help="content folder (default KB_CONTENT_DIR)")
    p.add_argument("--data", help="data folder (default KB_DATA_DIR)")
    p.set_defaults(handler=cmd_mcp)

    p = sub.add_parser("index", help="list index versions or roll back")
    isub = p.add_subparsers(dest="index_command", required=True)
    pl = isub.add_parser("list", help="index versions, newest first (* = serving)")
    pl.add_argument("--json", action="store_true")
    pl.add_argument("--data", help="data folder (default KB_DATA_DIR)")
    pr = isub.add_parser("rollback", help="serve the previous version again")
    pr.add_argument("version", nargs="?", help="a specific version (default: the previous one)")
    pr.add_argument("--json", action="store_true")
    pr.add_argument("--data", help="data folder (default KB_DATA_DIR)")
    p.set_defaults(handler=cmd_index)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `kb` console script."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        settings = _settings(args)
        from service.logs import configure_logging

        # `kb serve` tells what it does (parsing, embedding, switching, ready, requests).
        verbose = args.verbose or args.command == "serve"
        configure_logging(settings.log_format, logging.INFO if verbose else logging.WARNING)
        return handler(args, settings)
    except KBError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the CLI's last line of defence: one line, no traceback
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            print(
                f"error: invalid configuration: {exc.errors()[0]['msg']} "
                f"({'.'.join(str(p) for p in exc.errors()[0]['loc'])})",
                file=sys.stderr,
            )
            return EXIT_ERROR
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
