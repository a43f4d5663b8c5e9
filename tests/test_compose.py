"""docker-compose.yml is valid Compose and agrees with the code it deploys.

No Docker engine runs on the development machine, so the file is checked statically:
against the Compose specification's JSON schema (vendored in tests/fixtures, see
compose-spec.README), then for what a schema cannot see: every service has a health check,
every ``service_healthy`` dependency can become healthy, every ``KB_*`` variable is a real
setting, every named volume is declared, the nginx config mounted for the balancer exists
and points at the replicas, and the ports agree with the Dockerfile.
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator  # type: ignore[import-untyped]
from jsonschema.validators import validator_for  # type: ignore[import-untyped]
from pydantic import AliasChoices

from kbcore.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
SCHEMA_FILE = ROOT / "tests" / "fixtures" / "compose-spec.json"
DOCKERFILE = ROOT / "Dockerfile"

# Interpolated variables that configure Compose itself, not the service.
COMPOSE_ONLY_VARIABLES = {"KB_REPLICAS"}

Doc = dict[str, Any]

# $$ | ${NAME} | ${NAME:-default} (and -, :?, ?, :+, +) | $NAME
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<named>[A-Za-z_][A-Za-z0-9_]*))"
)


# --- loading -------------------------------------------------------------------------


@cache
def _compose_text() -> str:
    return COMPOSE_FILE.read_text(encoding="utf-8")


def load_compose() -> Doc:
    """A fresh copy of docker-compose.yml (tests mutate theirs)."""
    doc = yaml.safe_load(_compose_text())
    assert isinstance(doc, dict)
    return doc


@cache
def _schema() -> dict[str, Any]:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert isinstance(schema, dict)
    return schema


@cache
def compose_validator() -> Draft7Validator:
    schema = _schema()
    # The spec declares draft 07 as "https://json-schema.org/draft-07/schema", a spelling
    # jsonschema's registry does not know (it has the http:// one), so draft 7 is the
    # default rather than a guess; Compose itself validates with draft 7 as well.
    assert "draft-07" in schema["$schema"], schema["$schema"]
    cls = validator_for(schema, default=Draft7Validator)
    assert cls is Draft7Validator
    cls.check_schema(schema)
    validator = cls(schema)
    assert isinstance(validator, Draft7Validator)
    return validator


def schema_errors(doc: Doc) -> list[str]:
    """Each error at its path; a oneOf failure lists why each branch failed."""
    found = []
    for error in compose_validator().iter_errors(doc):
        where = ".".join(map(str, error.absolute_path)) or "<root>"
        reasons = "; ".join(sub.message for sub in error.context or [])
        found.append(f"{where}: {error.message}" + (f" ({reasons})" if reasons else ""))
    return found


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's variable interpolation of one string (no nesting: this file needs none)."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name = match["braced"] or match["named"]
        op, arg = match["op"] or "", match["arg"] or ""
        present = name in env
        value = env.get(name, "")
        if op in (":-", "-"):
            return value if (value if op == ":-" else present) else arg
        if op in (":?", "?"):
            if not (value if op == ":?" else present):
                raise ValueError(f"{name} is required: {arg}")
            return value
        if op in (":+", "+"):
            return arg if (value if op == ":+" else present) else ""
        return value

    return _VARIABLE.sub(substitute, value)


def interpolated(node: Any, env: dict[str, str]) -> Any:
    if isinstance(node, str):
        return interpolate(node, env)
    if isinstance(node, dict):
        return {key: interpolated(value, env) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolated(item, env) for item in node]
    return node


def variables_used(node: Any) -> set[str]:
    if isinstance(node, str):
        return {m["braced"] or m["named"] for m in _VARIABLE.finditer(node) if not m["escaped"]}
    if isinstance(node, dict):
        return set().union(*(variables_used(v) for v in node.values()), set())
    if isinstance(node, list):
        return set().union(*(variables_used(v) for v in node), set())
    return set()


def environment_names(service: Doc) -> set[str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return {item.split("=", 1)[0] for item in env}
    return set(env)


def setting_env_names() -> set[str]:
    """The environment variables Settings reads (prefix, or the aliases that replace it)."""
    prefix = str(Settings.model_config.get("env_prefix") or "")
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {choice.upper() for choice in alias.choices if isinstance(choice, str)}
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{prefix}{name}".upper())
    return names


def dockerfile_port() -> int:
    text = DOCKERFILE.read_text(encoding="utf-8")
    exposed = re.findall(r"^EXPOSE\s+(\d+)", text, flags=re.MULTILINE)
    assert len(exposed) == 1, f"one EXPOSE expected in the Dockerfile, found {exposed}"
    env_port = re.search(r"\bKB_PORT=(\d+)", text)
    assert env_port is not None, "the Dockerfile sets KB_PORT"
    assert env_port[1] == exposed[0], "Dockerfile: KB_PORT and EXPOSE differ"
    return int(exposed[0])


# --- checks a schema cannot make (each returns its problems; empty = fine) -----------


def _healthcheck_enabled(service: Doc) -> bool:
    check = service.get("healthcheck") or {}
    test = check.get("test")
    return not check.get("disable") and bool(test) and test != ["NONE"]


def healthcheck_problems(doc: Doc) -> list[str]:
    problems = []
    for name, service in doc["services"].items():
        check = service.get("healthcheck")
        if not check:
            problems.append(f"{name}: no healthcheck")
        elif check.get("disable"):
            if not service.get("profiles"):
                problems.append(f"{name}: healthcheck disabled on a service that always runs")
        elif not _healthcheck_enabled(service):
            problems.append(f"{name}: healthcheck has no test")
    return problems


def depends_on_problems(doc: Doc) -> list[str]:
    services = doc["services"]
    problems = []
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {target: {"condition": "service_started"} for target in depends}
        for target, spec in depends.items():
            if target not in services:
                problems.append(f"{name}: depends on unknown service {target!r}")
            elif spec.get("condition") == "service_healthy":
                if not _healthcheck_enabled(services[target]):
                    problems.append(f"{name}: waits for {target} to be healthy; it has no check")
                if services[target].get("profiles"):
                    problems.append(f"{name}: waits for {target}, which only runs in a profile")
    return problems


def variable_problems(doc: Doc, known: set[str]) -> list[str]:
    problems = []
    for name, service in doc["services"].items():
        for variable in sorted(environment_names(service)):
            if variable.upper().startswith("KB_") and variable.upper() not in known:
                problems.append(f"{name}: environment {variable} is not a setting")
    for variable in sorted(variables_used(doc)):
        if variable.startswith("KB_") and variable not in known | COMPOSE_ONLY_VARIABLES:
            problems.append(f"${{{variable}}} is neither a setting nor a Compose variable")
    return problems


def _mounts(service: Doc) -> list[tuple[str, str, str]]:
    """(type, source, target) of each volume of a service."""
    mounts = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            mounts.append((volume["type"], volume.get("source", ""), volume["target"]))
            continue
        source, _, rest = volume.partition(":")
        target = rest.split(":", 1)[0]
        if not rest:  # an anonymous volume
            mounts.append(("volume", "", source))
        elif source.startswith((".", "/", "~")):
            mounts.append(("bind", source, target))
        else:
            mounts.append(("volume", source, target))
    return mounts


def volume_problems(doc: Doc) -> list[str]:
    declared = set(doc.get("volumes") or {})
    used: set[str] = set()
    problems = []
    for name, service in doc["services"].items():
        for kind, source, target in _mounts(service):
            if kind == "volume" and source:
                used.add(source)
                if source not in declared:
                    problems.append(f"{name}: volume {source!r} is not declared")
            elif (
                kind == "bind"
                and not source.startswith(("/", "~"))
                and not (ROOT / source).exists()
            ):
                problems.append(f"{name}: mounts {source}, which does not exist")
            if kind == "bind" and target == "/app/content" and not _read_only(service, target):
                problems.append(f"{name}: content must be mounted read-only")
    problems += [f"volume {v!r} is declared but unused" for v in sorted(declared - used)]
    return problems


def _read_only(service: Doc, target: str) -> bool:
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict) and volume["target"] == target:
            return bool(volume.get("read_only"))
        if isinstance(volume, str) and volume.split(":")[1:2] == [target]:
            return volume.split(":")[2:3] == ["ro"]
    return False


def nginx_config(doc: Doc) -> tuple[str, Path]:
    """The balancer's name and the nginx config file it mounts."""
    for name, service in doc["services"].items():
        if str(service.get("image", "")).startswith("nginx"):
            for kind, source, target in _mounts(service):
                if kind == "bind" and target.startswith("/etc/nginx/"):
                    return name, ROOT / source
            raise AssertionError(f"{name}: mounts no nginx config")
    raise AssertionError("no nginx balancer service")


def balancer_problems(doc: Doc, port: int) -> list[str]:
    name, path = nginx_config(doc)
    if not path.is_file():
        return [f"{name}: {path} does not exist"]
    conf = re.sub(r"#[^\n]*", "", path.read_text(encoding="utf-8"))
    problems = []
    upstreams = dict(re.findall(r"upstream\s+(\S+)\s*\{(.*?)\}", conf, flags=re.DOTALL))
    for upstream in re.findall(r"proxy_pass\s+https?://([^/;\s]+)", conf):
        if upstream not in upstreams:
            problems.append(f"{path.name}: proxy_pass to {upstream}, not a defined upstream")
    servers = [
        (host, int(p), params)
        for body in upstreams.values()
        for host, p, params in re.findall(r"server\s+([\w.-]+):(\d+)([^;]*);", body)
    ]
    replicated = [
        s for s, service in doc["services"].items() if "replicas" in (service.get("deploy") or {})
    ]
    for service in replicated:
        matches = [s for s in servers if s[0] == service]
        if not matches:
            problems.append(f"{path.name}: no upstream server names the service {service!r}")
        for _, server_port, params in matches:
            if server_port != port:
                problems.append(f"{path.name}: {service}:{server_port}, the image serves {port}")
            if "resolve" not in params.split():
                problems.append(f"{path.name}: {service} without `resolve` misses new replicas")
    if not re.search(r"\bresolver\s+127\.0\.0\.11\b", conf):
        problems.append(f"{path.name}: no resolver for Docker's DNS (127.0.0.11)")
    if not re.search(r"proxy_next_upstream\s+[^;]*\bhttp_503\b", conf):
        problems.append(f"{path.name}: a replica answering 503 is not skipped")
    if not re.search(r"proxy_buffering\s+off\s*;", conf):
        problems.append(f"{path.name}: proxy_buffering is on (it would hold back SSE)")
    listens = {int(p) for p in re.findall(r"listen\s+(\d+)\s*;", conf)}
    published = [str(p).rsplit(":", 1)[-1] for p in doc["services"][name].get("ports") or []]
    for target in published:
        if int(target) not in listens:
            problems.append(f"{name}: publishes container port {target}, nginx listens {listens}")
    return problems


def port_problems(doc: Doc, port: int) -> list[str]:
    problems = []
    for name, service in doc["services"].items():
        if (service.get("deploy") or {}).get("replicas") is None:
            continue
        if service.get("ports"):
            problems.append(f"{name}: replicas cannot all publish the same host port")
        if service.get("container_name"):
            problems.append(f"{name}: replicas cannot share a container_name")
        env_port = (service.get("environment") or {}).get("KB_PORT")
        if env_port is not None and int(env_port) != port:
            problems.append(f"{name}: KB_PORT={env_port}, the Dockerfile exposes {port}")
        test = " ".join((service.get("healthcheck") or {}).get("test") or [])
        if f"127.0.0.1:{port}/readyz" not in test:
            problems.append(f"{name}: healthcheck does not ask :{port}/readyz")
    return problems


def replica_problems(doc: Doc) -> list[str]:
    """deploy.replicas must be a count once interpolated (the schema accepts any string)."""
    problems = []
    for name, service in interpolated(doc, {})["services"].items():
        replicas = (service.get("deploy") or {}).get("replicas")
        if replicas is not None and not (str(replicas).isdigit() and int(replicas) >= 1):
            problems.append(f"{name}: deploy.replicas is {replicas!r}, not a count")
    return problems


# --- the file as it is ---------------------------------------------------------------


def test_compose_file_matches_the_schema() -> None:
    doc = load_compose()
    assert schema_errors(doc) == []
    # Compose validates after interpolation too: the defaults give a valid file.
    assert schema_errors(interpolated(doc, {})) == []


def test_every_service_has_a_healthcheck() -> None:
    assert healthcheck_problems(load_compose()) == []


def test_dependencies_wait_for_real_health_checks() -> None:
    assert depends_on_problems(load_compose()) == []


def test_kb_variables_are_settings() -> None:
    known = setting_env_names()
    # Sanity: the names are read the way pydantic-settings reads them (prefix or aliases).
    assert {"KB_DATABASE_URL", "KB_QDRANT_URL", "KB_SYNC_ON_START"} <= known
    assert {"OPENAI_API_KEY", "KB_OPENAI_API_KEY"} <= known
    assert "KB_HOST" in known and "KB_OPENAI_BASE_URL" not in known
    assert variable_problems(load_compose(), known) == []


def test_named_volumes_are_declared() -> None:
    assert volume_problems(load_compose()) == []


def test_balancer_config_reaches_the_replicas() -> None:
    assert balancer_problems(load_compose(), dockerfile_port()) == []


def test_ports_agree_with_the_dockerfile() -> None:
    assert port_problems(load_compose(), dockerfile_port()) == []


def test_replicas_is_a_count() -> None:
    doc = load_compose()
    assert doc["services"]["kb"]["deploy"]["replicas"] == "${KB_REPLICAS:-2}"
    assert replica_problems(doc) == []
    assert interpolated(doc, {"KB_REPLICAS": "5"})["services"]["kb"]["deploy"]["replicas"] == "5"


def test_interpolation_follows_compose() -> None:
    env = {"SET": "x", "EMPTY": ""}
    assert interpolate("${SET:-d}/${EMPTY:-d}/${EMPTY-d}/${UNSET-d}", env) == "x/d//d"
    assert interpolate("$$HOME ${SET:+y}${UNSET:+y} $SET", env) == "$HOME y x"
    with pytest.raises(ValueError, match="UNSET"):
        interpolate("${UNSET:?needed}", env)


# --- the checks can fail ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ((), ("servics", {}), "'servics' does not match"),
        (("services", "kb"), ("healthchek", {}), "'healthchek' does not match"),
        (("services", "kb", "deploy"), ("replicas", True), "is not of type"),
        (
            ("services", "kb", "depends_on", "postgres"),
            ("condition", "service_ready"),
            "is not one of",
        ),
        (("services", "kb", "healthcheck"), ("interval", 10), "is not of type 'string'"),
    ],
)
def test_schema_rejects_a_broken_file(
    path: tuple[str, ...], value: tuple[str, Any], expected: str
) -> None:
    doc = load_compose()
    node = doc
    for key in path:
        node = node[key]
    node[value[0]] = value[1]
    errors = schema_errors(doc)
    assert errors, f"the schema accepted {path}.{value[0]} = {value[1]!r}"
    assert any(expected in error for error in errors), errors


def test_replicas_two_passes_the_schema_but_not_the_check() -> None:
    doc = load_compose()
    doc["services"]["kb"]["deploy"]["replicas"] = "two"
    assert schema_errors(doc) == []  # strings are allowed: they may be ${...}
    assert replica_problems(doc) == ["kb: deploy.replicas is 'two', not a count"]


def test_semantic_checks_catch_mistakes() -> None:
    doc = load_compose()
    broken = copy.deepcopy(doc)
    del broken["services"]["qdrant"]["healthcheck"]
    assert "qdrant: no healthcheck" in healthcheck_problems(broken)
    assert "kb: waits for qdrant to be healthy; it has no check" in depends_on_problems(broken)

    broken = copy.deepcopy(doc)
    broken["services"]["kb"]["environment"] = {
        **broken["services"]["kb"]["environment"],
        "KB_QDRANT_URI": "http://qdrant:6333",
    }
    assert variable_problems(broken, setting_env_names()) == [
        "kb: environment KB_QDRANT_URI is not a setting"
    ]

    broken = copy.deepcopy(doc)
    broken["services"]["postgres"]["volumes"] = ["pgdata:/var/lib/postgresql/data"]
    assert volume_problems(broken) == [
        "postgres: volume 'pgdata' is not declared",
        "volume 'postgres_data' is declared but unused",
    ]

    broken = copy.deepcopy(doc)
    broken["services"]["kb"]["ports"] = ["8000:8000"]
    assert port_problems(broken, dockerfile_port()) == [
        "kb: replicas cannot all publish the same host port"
    ]
    assert port_problems(doc, 8080) != []

    broken = copy.deepcopy(doc)
    broken["services"]["balancer"]["volumes"] = ["./deploy/missing.conf:/etc/nginx/nginx.conf:ro"]
    assert volume_problems(broken) == [
        "balancer: mounts ./deploy/missing.conf, which does not exist"
    ]
    assert balancer_problems(broken, dockerfile_port()) == [
        f"balancer: {ROOT / 'deploy' / 'missing.conf'} does not exist"
    ]
    assert balancer_problems(doc, 8080) == ["nginx.conf: kb:8000, the image serves 8080"]
