"""What reading identifiers in disguise costs: how many messages take the second reading,
the time the pre-check adds to every message, and the time the second reading adds.

    .venv/bin/python bench/disguise_cost.py [--repeat 3] [FILE.jsonl ...]

By default the shared evaluation sets. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import nlu.engine
from bot.settings import Settings
from nlu.engine import EngineConfig, TriageEngine
from nlu.phi.disguise import may_hide_identifier, reveal

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCES = sorted((ROOT.parent / "shared" / "eval").glob("**/*.jsonl"))


def best_of(repeat: int, run: Callable[[], object]) -> float:
    """The fastest of `repeat` runs, in seconds (the machine is shared: noise only adds)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def decisions(engine: TriageEngine, texts: Sequence[str]) -> list[tuple[str, tuple[str, ...]]]:
    items = [(str(i), text) for i, text in enumerate(texts)]
    return [(d.action, tuple(d.reasons)) for d in engine.triage_many(items)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("files", nargs="*", type=Path, default=DEFAULT_SOURCES)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sets = {
        path.name: [
            str(json.loads(line)["text"])
            for line in path.read_text("utf-8").splitlines()
            if line.strip()
        ]
        for path in args.files
    }
    every = [text for texts in sets.values() for text in texts]
    print(f"{'set':<28}{'texts':>7}{'pre-check':>11}{'rewritten':>11}")
    for name, texts in sets.items():
        flagged = sum(may_hide_identifier(t) for t in texts)
        rewritten = sum(reveal(t) is not None for t in texts)
        print(f"{name:<28}{len(texts):>7}{flagged:>11}{rewritten:>11}")

    check_s = best_of(args.repeat, lambda: [may_hide_identifier(t) for t in every])
    print(f"pre-check: {check_s / len(every) * 1e6:.2f} µs a message ({len(every)} messages)")

    settings = Settings(_env_file=None)
    engine = TriageEngine(
        EngineConfig(settings.spacy_model, settings.faq_dir, settings.intent_threshold)
    )
    real_reveal = nlu.engine.reveal
    flagged_texts = [t for t in every if reveal(t) is not None]

    def without() -> None:
        nlu.engine.reveal = lambda text: None

    def with_() -> None:
        nlu.engine.reveal = real_reveal

    for label, texts in (("all messages", every), ("rewritten ones", flagged_texts)):
        if not texts:
            continue
        without()
        before = decisions(engine, texts)
        plain_s = best_of(args.repeat, lambda texts=texts: engine.analyze_many(texts))
        with_()
        after = decisions(engine, texts)
        disguise_s = best_of(args.repeat, lambda texts=texts: engine.analyze_many(texts))
        added_ms = (disguise_s - plain_s) / len(texts) * 1e3
        print(
            f"{label}: {len(texts)} texts, analysis {plain_s / len(texts) * 1e3:.3f} -> "
            f"{disguise_s / len(texts) * 1e3:.3f} ms a message ({added_ms:+.3f} ms)"
        )
        changed = sum(b != a for b, a in zip(before, after, strict=True))
        escalated = sum(
            b[0] == "reply" and a[0] != "reply" for b, a in zip(before, after, strict=True)
        )
        print(f"  decisions changed: {changed} (reply -> not reply: {escalated})")


if __name__ == "__main__":
    main()
