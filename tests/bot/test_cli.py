"""`triagebot triage` on hostile input: every line gives a Decision or a clear error line."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import InboundLine, parse_line, triage_stream
from nlu.engine import MAX_TEXT_CHARS, TriageEngine
from nlu.models import ErrorLine

TRIAGEBOT = str(Path(sys.executable).with_name("triagebot"))


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"\xff\xfe not utf-8\n", "not valid UTF-8"),
        (b"{not json\n", "not valid JSON"),
        (b"[1, 2]\n", "must be a JSON object"),
        (b'{"text": "hi"}\n', "id: Field required"),
        (b'{"id": "a"}\n', "text: Field required"),
        (b'{"id": "a", "text": 5}\n', "text: Input should be a valid string"),
        (b'{"id": "", "text": "x"}\n', "id: String should have at least 1 character"),
    ],
)
def test_bad_line_becomes_an_error_line(raw: bytes, error: str) -> None:
    result = parse_line(raw, 7)
    assert isinstance(result, ErrorLine)
    assert result.line == 7
    assert error in result.error


def test_error_line_never_contains_the_text() -> None:
    secret = "Harold Finch 123-45-6789"
    result = parse_line(json.dumps({"id": "a", "text": secret * 2000}).encode(), 1)
    assert isinstance(result, ErrorLine)
    assert "Harold" not in result.model_dump_json()
    assert str(MAX_TEXT_CHARS) in result.error


def test_numeric_id_is_accepted_as_text() -> None:
    result = parse_line(b'{"id": 12, "text": "hi"}', 1)
    assert isinstance(result, InboundLine)
    assert result.id == "12"


def test_blank_line_is_skipped() -> None:
    assert parse_line(b"   \n", 1) is None


HOSTILE = [
    ("empty", ""),
    ("spaces", "   \t  "),
    ("big", "visiting hours? " * 1200),
    ("nul", "\x00\x01\x02 binary \x7f"),
    ("emoji", "🙏🙏🏥❤️"),
    ("spanish", "¿Cuál es el horario de visitas del hospital?"),
    ("chinese", "医院的探视时间是什么时候?"),
    ("rtl", "متى مواعيد الزيارة"),
]


def test_hostile_lines_each_get_a_decision_or_error(engine: TriageEngine) -> None:
    lines = [json.dumps({"id": name, "text": text}).encode() + b"\n" for name, text in HOSTILE]
    lines.insert(3, b"\xc3\x28 invalid utf-8\n")
    lines.append(json.dumps({"id": "huge", "text": "x" * 100_000}).encode() + b"\n")
    out = io.StringIO()
    errors = triage_stream(engine, io.BytesIO(b"".join(lines)), out, progress=False)
    results = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(results) == len(lines)
    assert errors == 2
    by_id = {r["id"]: r for r in results if r.get("id")}
    assert by_id["empty"]["action"] == "ignore"
    assert by_id["spaces"]["action"] == "ignore"
    assert "error" in by_id["huge"]
    for name, _ in HOSTILE:
        assert by_id[name]["action"] in {"reply", "escalate", "emergency", "ignore"}
    assert results[3] == {"id": None, "line": 4, "error": "line is not valid UTF-8"}


def test_triage_command_streams_decisions_in_order(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text(
        '{"id": "a", "text": "when are visiting hours?"}\n'
        "not json\n"
        '{"id": "b", "text": "my husband is having a heart attack"}\n'
    )
    done = subprocess.run(
        [TRIAGEBOT, "triage", str(source)], capture_output=True, timeout=120, check=True
    )
    out = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [o.get("id") for o in out] == ["a", None, "b"]
    assert out[0]["action"] == "reply"
    assert out[0]["intent"] == "visiting_hours"
    assert out[1]["error"] == "line is not valid JSON"
    assert out[2]["action"] == "emergency"
    assert done.stderr == b""  # not a terminal: no progress, and nothing logged
