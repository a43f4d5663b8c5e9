"""Configuration, read once from the environment (prefix ``KB_``) and passed in explicitly.

Precedence: arguments to ``Settings(...)`` > environment variables > ``.env`` file > defaults.
The OpenAI-compatible LLM also honours the standard ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``.
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Every setting of the service, CLI and ingest pipeline (documented in README.md)."""

    model_config = SettingsConfigDict(
        env_prefix="KB_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
    )

    # --- content and storage -------------------------------------------------------------
    content_dir: Path = Field(
        Path("./content"),
        description="Folder of Markdown/MDX pages (our articles, or a site's docs/ folder).",
    )
    exclude: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["node_modules/", "_*", "!_index.md"],
        description="Paths under the content folder that are not pages (gitignore-style "
        "globs; JSON list or comma-separated). Hidden files and folders never are.",
    )
    docs_format: Literal[
        "auto",
        "mkdocs",
        "docusaurus",
        "hugo",
        "vitepress",
        "starlight",
        "myst",
        "jekyll",
        "mintlify",
        "gfm",
    ] = Field(
        "auto",
        description="Site generator the docs are written for; auto = detect from its config "
        "file, else from the syntax the pages use, else plain GitHub Markdown.",
    )
    docs_root: Path | None = Field(
        None,
        description="Folder includes may read from (snippets, code samples); unset = the git "
        "checkout holding the content folder, else the content folder.",
    )
    site_url: str | None = Field(
        None,
        description="URL where the content folder is published (e.g. https://docs.example.com"
        "); citations then link to the real pages. Unset = the demo site's /learn/ pages.",
    )
    max_article_bytes: int = Field(
        2 * 1024 * 1024,
        ge=1024,
        le=64 * 1024 * 1024,
        description="Largest page file indexed (skipped above).",
    )
    data_dir: Path = Field(
        Path("./data"), description="State: the embedded Qdrant index and the feedback database."
    )
    qdrant_url: str | None = Field(
        None, description="Qdrant server URL; unset = embedded Qdrant under KB_DATA_DIR."
    )
    qdrant_api_key: SecretStr | None = Field(None, description="API key for the Qdrant server.")
    qdrant_connect_timeout_s: float = Field(
        60.0, ge=0, le=600, description="How long start-up waits for a Qdrant server."
    )
    database_url: SecretStr | None = Field(
        None,
        description="Database for what visitors and the owner write (conversation log, "
        "feedback, review queue, golden promotions) and for coordinating replicas, e.g. "
        "postgresql+psycopg://kb:PASSWORD@db:5432/kb. Unset = SQLite files under "
        "KB_DATA_DIR (one process).",
    )
    replica_poll_s: float = Field(
        2.0,
        ge=0.1,
        le=300,
        description="With KB_DATABASE_URL: how often a replica looks for reindex requests "
        "other replicas broadcast and for the index leader's lock.",
    )
    log_commit_wait_s: float = Field(
        1.0,
        ge=0,
        le=30,
        description="With KB_DATABASE_URL: how long an answer waits for its conversation-"
        "log row to be committed (so a replica killed after answering loses no turn); the "
        "answer goes out regardless when the database is slower.",
    )
    sync_on_start: bool = Field(
        True,
        description="Bring the index up to date on start. Replicas sharing a Qdrant server "
        "and KB_DATABASE_URL may all keep it on: only the leader builds.",
    )
    collection: str = Field(
        "kb",
        pattern=r"^[a-z][a-z0-9_]{0,40}$",
        description="Alias that serves the index; versions are named <collection>__<version>.",
    )
    keep_versions: int = Field(
        2, ge=2, le=20, description="Index versions kept (current + rollback targets)."
    )

    # --- embeddings ----------------------------------------------------------------------
    embed_backend: Literal["onnx", "openai"] = Field(
        "onnx", description="onnx = bundled all-MiniLM-L6-v2 int8; openai = embeddings API."
    )
    embed_model: str = Field(
        "all-MiniLM-L6-v2",
        description="Embedding model name (for the openai backend, e.g. text-embedding-3-small).",
    )
    embed_base_url: str | None = Field(
        None, description="Base URL of an OpenAI-compatible embeddings API (openai backend)."
    )
    embed_api_key: SecretStr | None = Field(
        None, description="Key for the embeddings API; defaults to OPENAI_API_KEY."
    )
    embed_threads: int = Field(1, ge=1, le=64, description="onnxruntime intra-op threads.")
    embed_batch_size: int = Field(
        16, ge=1, le=512, description="Texts per embedding batch (16: fastest, least memory)."
    )

    canary_file: Path = Field(
        Path("./eval/golden.jsonl"),
        description="Golden questions whose first few must still find their article before "
        "a new index version is switched in (absent file = no canary check).",
    )
    canary_questions: int = Field(5, ge=0, le=100, description="Canary questions checked.")
    watch_debounce_ms: int = Field(
        1500, ge=50, le=60000, description="Quiet time before `kb serve --watch` reindexes."
    )

    # --- analytics -----------------------------------------------------------------------
    analytics: bool = Field(
        True,
        description="Keep the conversation log (questions, answers, refusal reasons, ratings) "
        "under KB_DATA_DIR for the owner's analytics; off = nothing is logged.",
    )
    analytics_retention_days: int = Field(
        90, ge=1, le=3650, description="Days a logged turn is kept before it is pruned."
    )
    analytics_max_rows: int = Field(
        200_000,
        ge=100,
        description="Turns the conversation log keeps at most; the oldest go first.",
    )
    analytics_max_mb: int = Field(
        500,
        ge=1,
        description="Size the conversation log stays under (MB); the oldest turns go first.",
    )
    golden_file: Path = Field(
        Path("./eval/golden.jsonl"),
        description="Golden question file the review queue's 'promote' appends to.",
    )

    # --- chunking ------------------------------------------------------------------------
    chunk_tokens: int = Field(
        256,
        ge=32,
        le=8192,
        description="Token cap of an embedded chunk, heading path included (model limit 256).",
    )
    chunk_overlap_tokens: int = Field(
        32,
        ge=0,
        le=512,
        description="Trailing sentences of the previous chunk repeated, in tokens.",
    )

    # --- retrieval -----------------------------------------------------------------------
    prefetch_limit: int = Field(
        50, ge=5, le=1000, description="Candidates each signal (dense, sparse) feeds the fusion."
    )

    # --- answering -----------------------------------------------------------------------
    openai_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("KB_OPENAI_API_KEY", "OPENAI_API_KEY"),
        description="Enables the LLM answerer (OpenAI or any compatible server).",
    )
    llm_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("KB_LLM_BASE_URL", "OPENAI_BASE_URL"),
        description="OpenAI-compatible base URL (vLLM, Ollama, llama.cpp); enables the LLM.",
    )
    llm_model: str = Field("gpt-4o-mini", description="Chat model name.")
    llm_timeout_s: float = Field(30.0, gt=0, le=600, description="Per-call LLM timeout.")
    llm_max_retries: int = Field(2, ge=0, le=10, description="Retries on LLM errors.")
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")

    # --- HTTP service --------------------------------------------------------------------
    name: str = Field(
        "Knowledge base",
        min_length=1,
        max_length=100,
        description="Name of the knowledge base: the llms.txt title, the MCP server's title.",
    )
    host: str = Field("127.0.0.1", description="Bind address of `kb serve`.")
    port: int = Field(8000, ge=1, le=65535, description="Port of `kb serve`.")
    admin_token: SecretStr | None = Field(
        None, description="Bearer token for /v1/admin/*; unset = admin routes disabled."
    )
    mcp_token: SecretStr | None = Field(
        None,
        description="Bearer token MCP clients must send to /mcp (16+ characters); unset = open.",
    )
    api_token: SecretStr | None = Field(
        None,
        description="Bearer token for the OpenAI-compatible routes /v1/chat/completions and "
        "/v1/models (16+ characters); unset = open.",
    )
    model_id: str = Field(
        "kb",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$",
        description="The model id the OpenAI-compatible routes answer to (listed by /v1/models).",
    )
    max_body_bytes: int = Field(
        65536, ge=1024, le=16 * 1024 * 1024, description="Largest accepted request body."
    )
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        le=300,
        description="Seconds a connection has to send a request's headers (408 and closed).",
    )
    body_timeout_s: float = Field(
        30.0, gt=0, le=600, description="Seconds a request's body has to arrive (408)."
    )
    keep_alive_s: float = Field(
        5.0, ge=1, le=300, description="Seconds an idle keep-alive connection stays open."
    )
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Sites (scheme://host[:port]) whose pages may call the API from a browser; "
        "JSON list or comma-separated.",
    )
    public_base_url: str | None = Field(
        None, description="Public URL of the service, used in the demo page's embed snippet."
    )
    rate_limit_per_minute: int = Field(
        60,
        ge=0,
        le=1_000_000,
        description="Requests per client IP per minute on public routes (0 = off).",
    )
    rate_limit_burst: int = Field(
        20,
        ge=1,
        le=100_000,
        description="Requests a client may make at once before the rate applies.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Proxy addresses or networks (CIDR) whose X-Forwarded-For names the client "
        "(the rightmost hop that is not one of them); empty = the socket peer is the client.",
    )

    # --- operating it --------------------------------------------------------------------
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as plain text, or as one JSON object per line."
    )
    metrics: bool = Field(True, description="Serve Prometheus metrics at /metrics.")
    otel_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices("KB_OTEL_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OTLP/HTTP collector base URL (e.g. http://localhost:4318); set = send "
        "OpenTelemetry traces of every request there.",
    )
    feedback_max_rows: int = Field(
        100_000,
        ge=100,
        le=100_000_000,
        description="Feedback records kept; the oldest are deleted beyond it.",
    )
    feedback_max_mb: int = Field(
        100,
        ge=1,
        description="Size the feedback database stays under (MB); the oldest records go first.",
    )
    feedback_retention_days: int = Field(
        365, ge=0, le=36500, description="Days feedback is kept (0 = forever)."
    )

    @field_validator("exclude", mode="before")
    @classmethod
    def _pattern_list(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("allowed_origins", "trusted_proxies", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [part.strip().rstrip("/") for part in value.split(",") if part.strip()]
        return value

    @field_validator(
        "qdrant_url",
        "database_url",
        "embed_base_url",
        "llm_base_url",
        "qdrant_api_key",
        "embed_api_key",
        "openai_api_key",
        "admin_token",
        "mcp_token",
        "api_token",
        "public_base_url",
        "site_url",
        "docs_root",
        "otel_endpoint",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("database_url")
    @classmethod
    def _database_kind(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        url = value.get_secret_value().strip()
        if url.startswith("postgres://"):  # what Heroku-style platforms hand out
            url = "postgresql+psycopg://" + url.removeprefix("postgres://")
        elif url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        if not url.startswith(("postgresql+psycopg://", "sqlite:///")):
            raise ValueError(
                "KB_DATABASE_URL must be a PostgreSQL URL (postgresql://user:password@host/db)"
                " or sqlite:///path"
            )
        return SecretStr(url)

    @field_validator("qdrant_api_key", "embed_api_key", "openai_api_key")
    @classmethod
    def _stripped_secret(cls, value: SecretStr | None) -> SecretStr | None:
        """A key read from a file or a heredoc keeps no trailing newline."""
        return SecretStr(value.get_secret_value().strip()) if value is not None else None

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"KB_TRUSTED_PROXIES: {entry!r} is not an IP address or network"
                ) from None
        return value

    @field_validator("admin_token", "mcp_token", "api_token")
    @classmethod
    def _strong_token(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < 16:
            name = f"KB_{(info.field_name or 'token').upper()}"
            raise ValueError(f"{name} must be at least 16 characters (or unset)")
        return SecretStr(value.get_secret_value().strip()) if value is not None else None

    @property
    def embedded_index_path(self) -> Path:
        """Folder of the embedded index (Qdrant Edge shards, one per index version)."""
        return self.data_dir / "index"

    @property
    def llm_enabled(self) -> bool:
        """True when an OpenAI key or an OpenAI-compatible base URL is configured."""
        return self.openai_api_key is not None or self.llm_base_url is not None
