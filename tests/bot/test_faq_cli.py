"""`triagebot faq …` through the installed console script: exit codes and messages."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from nlu.faq import DEMO_CONTENT_DIR

TRIAGEBOT = str(Path(sys.executable).with_name("triagebot"))


def _run(*args: str | Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIAGE_")} | extra_env
    return subprocess.run(
        [TRIAGEBOT, "faq", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def test_validate_counts_the_demo_content() -> None:
    result = _run("validate")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: 11 intents, ")
    assert "5 guard classes" in result.stdout


def test_validate_reports_file_and_line_and_exits_2(tmp_path: Path) -> None:
    (tmp_path / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: faq/parking\n  examples: |\n    no dash here\n',
        encoding="utf-8",
    )
    (tmp_path / "domain.yml").write_text(
        'version: "3.1"\nresponses:\n  utter_faq/parking:\n  - text: "Garage."\n',
        encoding="utf-8",
    )
    result = _run("validate", tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert f"{tmp_path / 'nlu.yml'}:4: nlu.0.examples: " in result.stderr
    assert "Traceback" not in result.stderr


def test_export_import_export_round_trip_is_byte_identical(tmp_path: Path) -> None:
    first, second, third = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert _run("export", "--from", DEMO_CONTENT_DIR, first).returncode == 0
    assert _run("import", first, second).returncode == 0
    assert _run("export", "--from", second, third).returncode == 0
    for name in ("nlu.yml", "domain.yml"):
        assert (first / name).read_bytes() == (second / name).read_bytes()
        assert (first / name).read_bytes() == (third / name).read_bytes()
    same = _run("diff", DEMO_CONTENT_DIR, third)
    assert (same.returncode, same.stdout) == (0, "")


def test_diff_prints_a_changed_answer_and_exits_1(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    assert _run("export", old).returncode == 0
    assert _run("export", new).returncode == 0
    domain = (new / "domain.yml").read_text(encoding="utf-8")
    (new / "domain.yml").write_text(domain.replace("(555) 010-2000", "(555) 010-9999"))
    result = _run("diff", old, new)
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["~ answer faq/contact", "~ answer faq/medical_records"]


def test_import_of_invalid_content_writes_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    result = _run("import", missing, tmp_path / "dest")
    assert result.returncode == 2
    assert f"{missing / 'nlu.yml'}: file not found" in result.stderr
    assert not (tmp_path / "dest").exists()


def test_validate_names_intents_missing_an_answered_language(tmp_path: Path) -> None:
    (tmp_path / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: faq/parking\n  examples: |\n    - where do i park\n',
        encoding="utf-8",
    )
    (tmp_path / "domain.yml").write_text(
        'version: "3.1"\nresponses:\n  utter_faq/parking:\n  - text: "Garage B."\n',
        encoding="utf-8",
    )
    result = _run("validate", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "note: es: no answer for parking" in result.stdout
    assert "note: es: no examples for parking" in result.stdout
    assert "note: en" not in result.stdout


def test_validate_demo_content_covers_every_answered_language() -> None:
    result = _run("validate")
    assert result.returncode == 0, result.stderr
    assert "note:" not in result.stdout


def _two_intents(folder: Path) -> Path:
    folder.mkdir()
    (folder / "nlu.yml").write_text(
        'version: "3.1"\nnlu:\n'
        "- intent: faq/parking\n  examples: |\n"
        "    - where do i park\n    - parking garage\n    - is parking free\n"
        "    - where can i leave my car\n"
        "- intent: faq/visiting_hours\n  examples: |\n"
        "    - visiting hours\n    - when can i visit\n    - what time can family come\n"
        "    - are visitors allowed at night\n",
        encoding="utf-8",
    )
    (folder / "domain.yml").write_text(
        'version: "3.1"\nresponses:\n'
        '  utter_faq/parking:\n  - text: "Garage B."\n'
        '  utter_faq/visiting_hours:\n  - text: "9 to 8."\n',
        encoding="utf-8",
    )
    return folder


def test_train_prints_held_out_figures_and_stores_a_versioned_model(tmp_path: Path) -> None:
    content = _two_intents(tmp_path / "content")
    data = tmp_path / "data"
    result = _run("train", content, "--folds", "2", TRIAGE_DATA_DIR=str(data))
    assert result.returncode == 0, result.stderr
    assert "held-out accuracy (2-fold, seed 0): " in result.stdout
    accuracy = float(result.stdout.split("seed 0): ")[1].split()[0])
    assert 0.0 <= accuracy <= 1.0
    models = list((data / "cache").glob("intents-*.npz"))
    assert len(models) == 1
    assert models[0].name in result.stdout
    assert "held-out 100%" not in result.stdout  # progress goes to stderr
    assert "done 100%" in result.stderr


def test_train_refuses_fewer_than_two_folds(tmp_path: Path) -> None:
    result = _run("train", _two_intents(tmp_path / "content"), "--folds", "1")
    assert result.returncode == 2
    assert "--folds must be at least 2" in result.stderr
