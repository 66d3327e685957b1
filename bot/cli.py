"""`triagebot triage` and `triagebot eval`: the engine on JSON Lines, streaming."""

from __future__ import annotations

import dataclasses
import json
import queue
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.settings import Settings
from nlu.engine import MAX_TEXT_CHARS, TriageEngine
from nlu.evaluation import ACTIONS, Figures, faq_intent_share, score
from nlu.models import Decision, ErrorLine

BATCH = 64


class InboundLine(BaseModel):
    """One input line of `triagebot triage`."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    text: str = Field(max_length=MAX_TEXT_CHARS)

    @field_validator("id", mode="before")
    @classmethod
    def _id_may_be_a_number(cls, value: object) -> object:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def build_engine(settings: Settings) -> TriageEngine:
    """The engine with the settings' model, content and threshold."""
    return TriageEngine(settings.engine_config())


def parse_line(raw: bytes, number: int) -> InboundLine | ErrorLine | None:
    """A validated input line, a per-line error, or None for a blank line."""
    if not raw.strip():
        return None
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError:
        return ErrorLine(id=None, line=number, error="line is not valid UTF-8")
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return ErrorLine(id=None, line=number, error="line is not valid JSON")
    if not isinstance(data, dict):
        return ErrorLine(id=None, line=number, error='line must be a JSON object {"id", "text"}')
    raw_id = data.get("id")
    ident = str(raw_id) if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) else None
    try:
        return InboundLine.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "line"
        return ErrorLine(id=ident, line=number, error=f"{where}: {first['msg']}")


def _read_lines(stream: IO[bytes], out: queue.Queue[tuple[int, bytes] | None]) -> None:
    for number, raw in enumerate(stream, start=1):
        out.put((number, raw))
    out.put(None)


def _batches(stream: IO[bytes]) -> Iterator[list[tuple[int, bytes]]]:
    """Lines in batches: as many as are already available, up to BATCH, never waiting."""
    lines: queue.Queue[tuple[int, bytes] | None] = queue.Queue(maxsize=BATCH * 4)
    threading.Thread(target=_read_lines, args=(stream, lines), daemon=True).start()
    done = False
    while not done:
        first = lines.get()
        if first is None:
            return
        batch = [first]
        while len(batch) < BATCH:
            try:
                item = lines.get_nowait()
            except queue.Empty:
                break
            if item is None:
                done = True
                break
            batch.append(item)
        yield batch


def triage_stream(engine: TriageEngine, stream: IO[bytes], out: IO[str], progress: bool) -> int:
    """Triage JSON Lines from `stream` to `out`; returns the number of error lines."""
    started, done, errors = time.monotonic(), 0, 0
    for batch in _batches(stream):
        parsed = [(n, parse_line(raw, n)) for n, raw in batch]
        good = [p for _, p in parsed if isinstance(p, InboundLine)]
        decisions = iter(engine.triage_many([(p.id, p.text) for p in good]))
        for _, item in parsed:
            if item is None:
                continue
            result: Decision | ErrorLine = (
                next(decisions) if isinstance(item, InboundLine) else item
            )
            errors += isinstance(result, ErrorLine)
            out.write(result.model_dump_json(exclude_none=False) + "\n")
        out.flush()
        done += len(batch)
        if progress:
            rate = done / max(time.monotonic() - started, 1e-9)
            sys.stderr.write(f"\rtriaged {done} lines ({rate:.0f}/s), {errors} errors")
            sys.stderr.flush()
    if progress:
        sys.stderr.write("\n")
    return errors


def run_triage(settings: Settings, path: Path | None) -> int:
    """`triagebot triage [FILE]`."""
    engine = build_engine(settings)
    progress = sys.stderr.isatty()
    if path is None:
        triage_stream(engine, sys.stdin.buffer, sys.stdout, progress)
    else:
        with path.open("rb") as stream:
            triage_stream(engine, stream, sys.stdout, progress)
    return 0


def run_eval(settings: Settings, paths: list[Path], misses: int, as_json: bool) -> int:
    """`triagebot eval FILE...`: figures per file and per category, and the misses."""
    engine = build_engine(settings)
    report: dict[str, Any] = {}
    for path in paths:
        cases = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
        decisions: dict[str, dict[str, Any]] = {}
        total = len(cases)
        for start in range(0, total, BATCH):
            chunk = cases[start : start + BATCH]
            for d in engine.triage_many([(str(c["id"]), str(c["text"])) for c in chunk]):
                decisions[d.id] = d.model_dump()
            if sys.stderr.isatty():
                sys.stderr.write(f"\r{path.name}: {min(start + BATCH, total)}/{total}")
        if sys.stderr.isatty():
            sys.stderr.write("\n")
        result = score(cases, decisions)
        figures = dict(result.figures)
        figures["faq_intent_share"] = faq_intent_share(cases, decisions, engine.content.intents)
        figures["emergency_share"] = round(
            sum(d["action"] == "emergency" for d in decisions.values()) / max(total, 1), 4
        )
        report[str(path)] = {
            "figures": figures,
            "categories": result.categories,
            "confusion": result.confusion,
            "misses": [dataclasses.asdict(m) for m in result.misses[:misses]],
        }
        if not as_json:
            _print_report(path, figures, result, misses)
    if as_json:
        print(json.dumps(report, indent=2))
    return 0


def _print_confusion(confusion: dict[str, dict[str, int]]) -> None:
    """Expected (accepted) action against given action, in messages."""
    width = max([len("expected \\ given"), *map(len, confusion)]) + 2
    print("   " + "expected \\ given".ljust(width) + "".join(f"{a:>11}" for a in ACTIONS))
    for expected, given in confusion.items():
        cells = "".join(f"{given.get(a, 0):>11}" for a in ACTIONS)
        print("   " + expected.ljust(width) + cells)


def _print_report(
    path: Path,
    figures: dict[str, float | int],
    result: Figures,
    limit: int,
) -> None:
    categories, misses = result.categories, result.misses
    print(f"== {path}")
    print("   " + json.dumps(figures))
    print(f"   cases opened: {figures['case_rate']:.1%} of {figures['cases']} messages")
    _print_confusion(result.confusion)
    print(
        f"   {'category':<14}{'cases':>7}{'accepted':>10}{'reply':>8}{'escal.':>8}"
        f"{'emerg.':>8}{'ignore':>8}"
    )
    for name, row in categories.items():
        print(
            f"   {name:<14}{row['cases']:>7}{row['accepted']:>10.3f}{row['reply']:>8.3f}"
            f"{row['escalate']:>8.3f}{row['emergency']:>8.3f}{row['ignore']:>8.3f}"
        )
    if misses:
        print(f"   misses ({len(misses)}, first {min(limit, len(misses))}):")
        for miss in misses[:limit]:
            text = miss.text.replace("\n", " ")[:90]
            print(f"   - {miss.case_id} [{miss.category}] {miss.action}/{miss.intent}: {text}")
