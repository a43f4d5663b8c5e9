"""A chaos run against a real `kb serve`: what a visitor and a load balancer see while the
data folder is abused, second by second.

`kb serve` runs in its own process on content/, its data folder on a 64 MB tmpfs (root;
else a plain folder, and the full-disk steps are skipped). One client asks a question
and one probes ``/readyz`` every 0.25 s throughout, while the run, in order:
deletes the conversation log; overwrites it with garbage; fills the disk; frees it;
damages the served index's manifest; repairs it with ``kb ingest --rebuild`` (through the
running server, no restart); and floods the service with 10,000 requests with invented
methods and paths. It prints a timeline (each stretch of identical chat and readiness
status with its length), the log's row counts from ``/metrics``, the number of
``/metrics`` series and the server's memory before and after the flood.

    python bench/chaos.py [--flood 10000]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import string
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.load import free_port  # noqa: E402
from service.metrics import HTTP_METHODS  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ["How much does fine-tuning cost?", "What is LoRA?", "How big should a chunk be?"]


@dataclass
class Timeline:
    """(seconds since start, event, chat status, readyz status and its status field)."""

    started: float = field(default_factory=time.monotonic)
    samples: list[tuple[float, str, str]] = field(default_factory=list)
    events: list[tuple[float, str]] = field(default_factory=list)
    failures: int = 0
    asked: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.started

    def event(self, text: str) -> None:
        with self.lock:
            self.events.append((self.now(), text))
        print(f"  {self.now():6.1f} s  {text}", flush=True)


def probe(base: str, timeline: Timeline, stop: threading.Event) -> None:
    with httpx.Client(base_url=base, timeout=30) as http:
        i = 0
        while not stop.is_set():
            i += 1
            try:
                chat = str(
                    http.post("/v1/chat", json={"message": f"{QUESTIONS[i % 3]} ({i})"}).status_code
                )
            except httpx.HTTPError as exc:
                chat = type(exc).__name__
            try:
                ready = http.get("/readyz")
                status = ready.json().get("status", "") if ready.status_code == 200 else ""
                readiness = f"{ready.status_code} {status}".strip()
            except (httpx.HTTPError, ValueError) as exc:
                readiness = type(exc).__name__
            with timeline.lock:
                timeline.asked += 1
                timeline.failures += chat != "200"
                timeline.samples.append((timeline.now(), chat, readiness))
            stop.wait(0.25)


def metric(base: str, name: str) -> float:
    text = httpx.get(f"{base}/metrics").text
    found = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else float("nan")


def series(base: str) -> set[str]:
    """The names and labels of every sample /metrics shows."""
    text = httpx.get(f"{base}/metrics").text
    return {line.rsplit(" ", 1)[0] for line in text.splitlines() if line and line[0] != "#"}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait(condition: object, timeout: float = 120) -> float:
    began = time.monotonic()
    while not condition():  # type: ignore[operator]
        if time.monotonic() - began > timeout:
            raise SystemExit("timed out")
        time.sleep(0.1)
    return time.monotonic() - began


def ready_status(base: str) -> str:
    try:
        response = httpx.get(f"{base}/readyz", timeout=10)
    except httpx.HTTPError:
        return "down"
    return response.json().get("status", "") if response.status_code == 200 else "503"


def fill(folder: Path) -> Path:
    filler = folder / "filler"
    block = b"\0" * (1 << 20)
    with filler.open("wb") as sink:
        try:
            while True:
                sink.write(block)
                sink.flush()
        except OSError:
            pass
    try:
        with filler.open("ab") as sink:
            while True:
                sink.write(b"x" * 4096)
                sink.flush()
    except OSError:
        pass
    return filler


def run(args: argparse.Namespace, data: Path, tmpfs: bool) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KB_", "OPENAI_"))},
        "HF_HUB_OFFLINE": "1",
        "KB_CONTENT_DIR": str(ROOT / "content"),
        "KB_DATA_DIR": str(data),
        "KB_PORT": str(port),
        "KB_RATE_LIMIT_PER_MINUTE": "0",
        "KB_CANARY_FILE": str(data / "none"),
    }
    log = data.parent / "serve.log"
    with log.open("w") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "kbcli.main", "serve"], env=env, stderr=sink, stdout=sink
        )
    timeline = Timeline()
    stop = threading.Event()
    try:
        wait(lambda: ready_status(base) == "ready", 180)
        timeline.event("ready")
        thread = threading.Thread(target=probe, args=(base, timeline, stop), daemon=True)
        thread.start()
        time.sleep(2)
        conversations = data / "conversations.sqlite3"

        for suffix in ("", "-wal", "-shm"):
            Path(f"{conversations}{suffix}").unlink(missing_ok=True)
        timeline.event("deleted the conversation log")
        wait(lambda: metric(base, "kb_conversation_log_recreated_total") >= 1)
        timeline.event("log re-created")
        time.sleep(2)

        conversations.write_bytes(b"garbage, not a database " * 400)
        for suffix in ("-wal", "-shm"):
            Path(f"{conversations}{suffix}").unlink(missing_ok=True)
        timeline.event("overwrote the conversation log with garbage")
        wait(lambda: metric(base, "kb_conversation_log_recreated_total") >= 2)
        timeline.event("corrupt log set aside, re-created")
        time.sleep(2)

        if tmpfs:
            filler = fill(data)
            timeline.event("filled the disk")
            wait(lambda: ready_status(base) == "degraded")
            timeline.event("/readyz says degraded")
            time.sleep(3)
            filler.unlink()
            timeline.event("freed the disk")
            wait(lambda: ready_status(base) == "ready")
            timeline.event("/readyz ready again")
            time.sleep(2)

        index = data / "index"
        version = (index / "SERVING").read_text().strip()
        (index / "versions" / version / "manifest.json").write_text("{damaged")
        timeline.event("damaged the served index's manifest")
        wait(lambda: ready_status(base) == "503")
        timeline.event("/readyz 503")
        time.sleep(2)
        repaired = subprocess.run(
            [sys.executable, "-m", "kbcli.main", "ingest", "--rebuild"],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        timeline.event(f"kb ingest --rebuild exited {repaired.returncode}")
        wait(lambda: ready_status(base) == "ready")
        timeline.event("/readyz ready again (no restart)")
        time.sleep(2)

        rng = random.Random(7)
        statuses: dict[int, int] = {}
        untouched = series(base)
        with httpx.Client(base_url=base, timeout=30) as http:
            for _ in range(3):  # the first unknown method and path add their one series set
                http.request("INVENTED", "/" + "".join(rng.choices(string.ascii_lowercase, k=8)))
            before_series, before_rss = series(base), rss_mb(server.pid)
            for _ in range(args.flood):
                method = "".join(rng.choices(string.ascii_uppercase, k=rng.randint(3, 12)))
                if method in HTTP_METHODS:
                    method += "X"  # invented: a real method has its own bounded series
                path = "/" + "/".join(rng.choices(string.ascii_lowercase, k=6))
                code = http.request(method, path).status_code
                statuses[code] = statuses.get(code, 0) + 1
        after_series, after_rss = series(base), rss_mb(server.pid)
        timeline.event(f"flooded with {args.flood:,} invented methods and paths {statuses}")
        time.sleep(1)
        final = httpx.get(f"{base}/metrics").text
    finally:
        stop.set()
        time.sleep(0.5)
        server.terminate()
        server.wait(timeout=60)

    print("\nTimeline (stretches of identical chat status / readyz status):")
    current: tuple[str, str] | None = None
    began = 0.0
    for at, chat, ready in [*timeline.samples, (timeline.now(), "end", "end")]:
        if (chat, ready) != current:
            if current is not None:
                print(f"  {began:6.1f} - {at:6.1f} s  chat {current[0]:<4}  readyz {current[1]}")
            current, began = (chat, ready), at
    print(f"\nchat requests during the run: {timeline.asked}, not 200: {timeline.failures}")
    rows = dict(re.findall(r'kb_conversation_log_rows_total\{outcome="(\w+)"\} ([0-9.e+]+)', final))
    recreated = re.search(r"^kb_conversation_log_recreated_total ([0-9.e+]+)$", final, re.M)
    print(
        "conversation log rows: "
        + ", ".join(f"{k} {float(v):.0f}" for k, v in rows.items())
        + f"; re-created {float(recreated.group(1)) if recreated else 0:.0f} times"
    )
    print(
        f"/metrics series: {len(untouched)} before any invented request, {len(before_series)} "
        f"after the first 3 (the 'other' method and unmatched route), {len(after_series)} after "
        f"{args.flood:,} more"
    )
    for added in sorted(after_series - before_series)[:40]:
        print(f"  new: {added}")
    print(f"server RSS before / after the flood: {before_rss:.0f} / {after_rss:.0f} MB")
    print(f"server log: {log}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood", type=int, default=10_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kb-chaos-"))
    data = work / "data"
    data.mkdir()
    tmpfs = (
        os.geteuid() == 0
        and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", str(data)],
            capture_output=True,
        ).returncode
        == 0
    )
    print(f"data folder {data} ({'64 MB tmpfs' if tmpfs else 'plain folder: no full-disk steps'})")
    try:
        run(args, data, tmpfs)
    finally:
        if tmpfs:
            subprocess.run(["umount", "-l", str(data)], check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
