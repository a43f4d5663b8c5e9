"""Docs that stay true: every setting and every route is in the README."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AliasChoices

from kbcore.settings import Settings
from service.app import create_app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_in_the_configuration_table() -> None:
    for name, field in Settings.model_fields.items():
        names = (
            list(field.validation_alias.choices)
            if isinstance(field.validation_alias, AliasChoices)
            else [f"KB_{name.upper()}"]
        )
        assert any(f"`{n}`" in README for n in names), f"{names} missing from README"


def test_every_route_is_in_the_api_section() -> None:
    api = README.split("## API", 1)[1].split("\n## ", 1)[0]
    app = create_app()
    for route in app.routes:
        path = getattr(route, "path", "")
        if path.startswith(("/openapi", "/docs", "/redoc")) or not path:
            continue
        shown = re.sub(r"\{(\w+)\}", lambda m: "{" + m.group(1) + "}", path)
        assert shown.replace("{job_id}", "{job}") in api, f"{path} missing from README API"


def test_quick_start_test_command_is_what_ci_runs() -> None:
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    command = (
        'python3 -m venv .venv && .venv/bin/pip install -q -e ".[test]" '
        "&& .venv/bin/python -m pytest"
    )
    assert command in README and command in ci
