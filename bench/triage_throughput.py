"""Triage throughput, latency and memory, against presidio's default AnalyzerEngine.

Same messages, same spaCy model, same process and run. Prints figures; asserts nothing.

    .venv/bin/python bench/triage_throughput.py [--n 2000] [--latency-sample 300] [FILE.jsonl ...]

Messages come from the given JSON Lines files (field "text"), by default the shared
evaluation sets, repeated until there are N.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCES = sorted((ROOT.parent / "shared" / "eval").glob("**/*.jsonl"))


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_messages(paths: Sequence[Path], n: int) -> list[str]:
    texts: list[str] = []
    for path in paths:
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                texts.append(str(json.loads(line)["text"]))
    if not texts:
        sys.exit("no messages found; pass JSON Lines files with a 'text' field")
    return [texts[i % len(texts)] for i in range(n)]


def percentiles(samples: Sequence[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49] * 1000, cuts[98] * 1000


def measure(
    name: str,
    run_batch: Callable[[list[str]], object],
    one: Callable[[str], object],
    texts: list[str],
    sample: int,
) -> dict[str, float]:
    one(texts[0])  # warm-up: first-call allocations are not throughput
    started = time.perf_counter()
    for i in range(0, len(texts), 64):
        run_batch(texts[i : i + 64])
    elapsed = time.perf_counter() - started
    latencies = []
    for text in texts[:sample]:
        t0 = time.perf_counter()
        one(text)
        latencies.append(time.perf_counter() - t0)
    p50, p99 = percentiles(latencies)
    figures = {"messages_per_s": len(texts) / elapsed, "p50_ms": p50, "p99_ms": p99}
    print(
        f"{name:<28} {figures['messages_per_s']:8.1f} msg/s   p50 {p50:6.2f} ms   "
        f"p99 {p99:6.2f} ms   peak RSS so far {peak_rss_mb():6.0f} MB",
        flush=True,
    )
    return figures


def ready_seconds() -> float:
    """Wall time from starting `triagebot triage` to its first Decision line."""
    exe = Path(sys.executable).with_name("triagebot")
    started = time.perf_counter()
    proc = subprocess.Popen([str(exe), "triage"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None
    assert proc.stdout is not None
    proc.stdin.write(b'{"id": "ready", "text": "when are visiting hours?"}\n')
    proc.stdin.flush()
    proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.stdin.close()
    proc.wait()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, default=DEFAULT_SOURCES)
    parser.add_argument("--n", type=int, default=2000, help="messages per engine")
    parser.add_argument("--latency-sample", type=int, default=300)
    args = parser.parse_args()
    texts = load_messages(args.files, args.n)
    print(
        f"{len(texts)} messages from {len(args.files)} files; "
        f"mean {statistics.mean(map(len, texts)):.0f} chars"
    )

    sys.path.insert(0, str(ROOT))
    from bot.settings import Settings
    from nlu.engine import EngineConfig, TriageEngine

    settings = Settings()
    t0 = time.perf_counter()
    engine = TriageEngine(
        EngineConfig(settings.spacy_model, settings.faq_dir, settings.intent_threshold)
    )
    print(
        f"triage engine loaded in {time.perf_counter() - t0:.2f} s (model {settings.spacy_model})"
    )
    ours = measure(
        "triage (full decision)",
        lambda batch: engine.triage_many([(str(i), t) for i, t in enumerate(batch)]),
        lambda text: engine.triage("x", text),
        texts,
        args.latency_sample,
    )
    triage_peak = peak_rss_mb()

    import logging

    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    # presidio's default email recognizer makes tldextract try to download the public
    # suffix list (and log a traceback when offline); triage's own recognizer never does.
    logging.getLogger("tldextract").setLevel(logging.CRITICAL)

    presidio = AnalyzerEngine(
        nlp_engine=SpacyNlpEngine(models=[{"lang_code": "en", "model_name": settings.spacy_model}]),
        supported_languages=["en"],
    )
    theirs = measure(
        "presidio AnalyzerEngine",
        lambda batch: [presidio.analyze(text=t, language="en") for t in batch],
        lambda text: presidio.analyze(text=text, language="en"),
        texts,
        args.latency_sample,
    )
    print(
        f"throughput ratio triage / presidio: "
        f"{ours['messages_per_s'] / theirs['messages_per_s']:.2f}x"
    )
    print(f"peak RSS with the triage engine alone: {triage_peak:.0f} MB")
    print(f"`triagebot triage` ready (first decision) in {ready_seconds():.2f} s")


if __name__ == "__main__":
    main()
