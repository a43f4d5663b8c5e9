"""Docs that stay true: every setting and every route is in the README, and the README's
integration snippets run (the Python ones against the real app over HTTP) or name real
routes, commands and models."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import AliasChoices

from kbcli.main import build_parser
from kbcore.runtime import Runtime
from kbcore.settings import Settings
from service.app import create_app
from tests.conftest import make_settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
DOCUMENTED_URL = "http://127.0.0.1:8000"


def section(title: str) -> str:
    return README.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def test_every_setting_is_in_the_configuration_table() -> None:
    for name, field in Settings.model_fields.items():
        names = (
            list(field.validation_alias.choices)
            if isinstance(field.validation_alias, AliasChoices)
            else [f"KB_{name.upper()}"]
        )
        assert any(f"`{n}`" in README for n in names), f"{names} missing from README"


def route_paths(routes: list[Any], prefix: str = "") -> Iterator[str]:
    """Every route's path, included routers walked (FastAPI keeps them as branches)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            context = route.include_context
            yield from route_paths(included.routes, prefix + context.prefix)
        elif getattr(route, "path", ""):
            yield prefix + route.path


def test_every_route_is_in_the_api_section() -> None:
    api = section("API")
    paths = list(route_paths(create_app().routes))
    assert "/v1/chat/completions" in paths and "/mcp" in paths  # the walk reaches them all
    for path in paths:
        if path.startswith(("/openapi", "/docs", "/redoc")):
            continue
        shown = re.sub(r"\{(\w+)(:\w+)?\}", lambda m: "{" + m.group(1) + "}", path)
        assert shown.replace("{job_id}", "{job}") in api, f"{path} missing from README API"


def test_quick_start_test_command_is_what_ci_runs() -> None:
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    command = (
        'python3 -m venv .venv && .venv/bin/pip install -q -e ".[test]" '
        "&& .venv/bin/python -m pytest"
    )
    assert command in README and command in ci


@pytest.fixture(scope="module")
def kb(content_runtime: Runtime, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from tests.e2e.conftest import serve
    from tests.stubs.openai_stub import free_port

    port = free_port()  # the answers' absolute links name where the service listens
    settings = make_settings(tmp_path_factory.mktemp("docs"), port=port)
    app = create_app(settings, runtime=content_runtime, sync_on_start=False)
    with serve(app, port) as url:
        yield url


def run_snippet(code: str, url: str) -> str:
    """Run a README snippet against the served app; what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code.replace(DOCUMENTED_URL, url), "README.md", "exec"), {})
    return printed.getvalue()


def test_readme_python_snippets_run_against_the_service(kb: str) -> None:
    snippets = code_blocks(section("Integrations"), "python")
    assert len(snippets) == 2
    mcp_snippet = next(s for s in snippets if "from mcp import Client" in s)
    openai_snippet = next(s for s in snippets if "from openai import OpenAI" in s)

    printed = run_snippet(mcp_snippet, kb)
    assert "[1]" in printed and f"{kb}/learn/fine-tuning-cost#" in printed
    assert "Sources (verified quotes" in printed

    printed = run_snippet(openai_snippet, kb)
    answer, streamed = printed.split("\n\nSources:\n", 1)[0], printed.rsplit("\n", 2)[-2]
    assert "$150-2,500" in answer and "[1]" in answer
    assert f"{kb}/learn/fine-tuning-cost#" in printed  # an annotation's URL
    assert streamed.endswith(")") and "fine-tuning-cost" in streamed  # the streamed sources


def test_readme_editor_configs_name_real_endpoints_and_commands() -> None:
    text = section("Integrations")
    configs = [json.loads(block) for block in code_blocks(text, "json")]
    assert len(configs) == 4
    servers = [s for c in configs for s in (c.get("mcpServers") or c["servers"]).values()]
    http = [s for s in servers if "url" in s]
    stdio = [s for s in servers if "command" in s]
    assert len(http) == len(stdio) == 2
    assert all(s["url"] == f"{DOCUMENTED_URL}/mcp" for s in http)
    for server in stdio:
        command = [server["command"], *server["args"]]
        assert command == ["kb", "mcp"] and set(server["env"]) == {"KB_CONTENT_DIR", "KB_DATA_DIR"}
    build_parser().parse_args(["mcp"])  # a real subcommand

    commands = [
        shlex.split(line)
        for block in code_blocks(text, "bash")
        for line in block.splitlines()
        if line.startswith("claude mcp add")
    ]
    assert commands[0] == [
        "claude",
        "mcp",
        "add",
        "--transport",
        "http",
        "kb",
        f"{DOCUMENTED_URL}/mcp",
    ]
    assert commands[1][-3:] == ["--", "kb", "mcp"]


def test_readme_front_end_configs_name_the_openai_routes() -> None:
    text = section("Integrations")
    (librechat,) = [yaml.safe_load(block) for block in code_blocks(text, "yaml")]
    endpoint = librechat["endpoints"]["custom"][0]
    assert endpoint["baseURL"] == f"{DOCUMENTED_URL}/v1"
    assert endpoint["models"]["default"] == [Settings.model_fields["model_id"].default]
    assert f"`{DOCUMENTED_URL}/v1`" in text  # Open WebUI's connection URL
    assert f"curl -s {DOCUMENTED_URL}/llms.txt" in text
