"""Canonical Rasa YAML: export is a fixed point, Rasa-shaped, and diff sees real changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from nlu.faq import DEMO_CONTENT_DIR, GUARD_CLASSES, FaqContent, FaqError, FaqIntent, load_faq
from nlu.faq_io import diff_faq, import_faq, quote, render_domain, render_nlu, write_faq

AWKWARD_NLU = """\
version: "3.1"
nlu:
- intent: faq/parking
  examples: |
    - where do I park? "visitor" lot or garage
    - parking: how much per hour
    - #parking @RiversideHealth 🚗🅿️
    - - is the garage open (asking for a friend)
    - --> valet? <--
    - what's the rate? it's $5: right?
    - parking   with   extra   spaces
    - ¿dónde estacionar?
    - tab\there
- intent: faq/visiting_hours
  examples: |
    - visiting hours 🙏
    - can I visit "after" 8pm? yes/no
    - [visiting](topic) hours on sunday
- intent: faq/parking
  examples: |
    - is there a second parking block
- intent: spam
  examples: |
    - WIN a FREE iPhone!!! click here: bit.ly/x #ad
- intent: complaint
  examples: |
    - worst service ever >:( # never again
"""

AWKWARD_DOMAIN = """\
version: "3.1"
intents:
- faq
- spam
- complaint
slots: {}
responses:
  utter_faq/parking:
  - text: |
      Parking: the "River Road" garage — $2/hour.
      # Not a comment, a hash at the start of a line
      - not a list item either
      Tabs\there, backslash \\ and emoji 🅿️🚗
  utter_faq/visiting_hours:
  - text: 'Visiting: 8 am – 8 pm; it''s "simple" #really'
  - text: a second variant triagebot does not use
  utter_greet:
  - text: not a FAQ answer
"""


@pytest.fixture
def awkward(tmp_path: Path) -> Path:
    source = tmp_path / "awkward"
    source.mkdir()
    (source / "nlu.yml").write_text(AWKWARD_NLU, encoding="utf-8")
    (source / "domain.yml").write_text(AWKWARD_DOMAIN, encoding="utf-8")
    return source


def _files(directory: Path) -> dict[str, bytes]:
    return {name: (directory / name).read_bytes() for name in ("nlu.yml", "domain.yml")}


@pytest.mark.parametrize("source", ["demo", "awkward"])
def test_export_import_export_is_byte_identical(source: str, awkward: Path, tmp_path: Path) -> None:
    origin = DEMO_CONTENT_DIR if source == "demo" else awkward
    first, second, third = tmp_path / "1", tmp_path / "2", tmp_path / "3"
    write_faq(load_faq(origin), first)
    import_faq(first, second)
    write_faq(load_faq(second), third)
    assert _files(first) == _files(second) == _files(third)


@pytest.mark.parametrize("source", ["demo", "awkward"])
def test_export_keeps_every_example_and_answer(source: str, awkward: Path, tmp_path: Path) -> None:
    origin = DEMO_CONTENT_DIR if source == "demo" else awkward
    before = load_faq(origin)
    write_faq(before, tmp_path / "out")
    after = load_faq(tmp_path / "out")
    assert not diff_faq(before, after)
    assert {k: (i.examples, i.answer) for k, i in after.intents.items()} == {
        k: (i.examples, i.answer) for k, i in before.intents.items()
    }
    assert after.guards == before.guards


def test_awkward_text_survives_exactly(awkward: Path, tmp_path: Path) -> None:
    write_faq(load_faq(awkward), tmp_path)
    content = load_faq(tmp_path)
    parking = content.intents["parking"]
    assert "#parking @RiversideHealth 🚗🅿️" in parking.examples
    assert "- is the garage open (asking for a friend)" in parking.examples
    assert "tab\there" in parking.examples
    assert parking.examples[-1] == "is there a second parking block"  # blocks merged in order
    assert parking.answer.splitlines()[1] == "# Not a comment, a hash at the start of a line"
    assert "backslash \\ and emoji 🅿️🚗" in parking.answer
    assert parking.answer.endswith("\n")
    assert content.intents["visiting_hours"].answer == (
        'Visiting: 8 am – 8 pm; it\'s "simple" #really'
    )
    assert "visiting hours on sunday" in content.intents["visiting_hours"].examples


def test_exported_files_are_rasa_shaped(tmp_path: Path) -> None:
    content = load_faq(DEMO_CONTENT_DIR)
    write_faq(content, tmp_path)
    nlu = yaml.safe_load((tmp_path / "nlu.yml").read_text(encoding="utf-8"))
    domain = yaml.safe_load((tmp_path / "domain.yml").read_text(encoding="utf-8"))

    assert set(nlu) == {"version", "nlu"}
    assert nlu["version"] == "3.1"
    # One block per intent in the content's language, then one per other language marked
    # the Rasa 3 way (`metadata: {language: es}`).
    default = [item for item in nlu["nlu"] if "metadata" not in item]
    names = [item["intent"] for item in default]
    assert names == [f"faq/{key}" for key in sorted(content.intents)] + sorted(GUARD_CLASSES)
    localized = [item for item in nlu["nlu"] if "metadata" in item]
    assert localized
    assert {item["metadata"]["language"] for item in localized} == {"es"}
    for item in nlu["nlu"]:
        assert set(item) <= {"intent", "examples", "metadata"}
        assert all(line.startswith("- ") for line in item["examples"].splitlines())

    assert set(domain) == {"version", "intents", "slots", "responses"}
    assert domain["version"] == "3.1"
    assert domain["intents"] == ["faq", *sorted(GUARD_CLASSES)]
    assert domain["slots"]["language"]["type"] == "categorical"
    faq_names = [f"utter_faq/{key}" for key in sorted(content.intents)]
    assert list(domain["responses"]) == [*faq_names, "utter_welcome"]
    welcome = domain["responses"].pop("utter_welcome")
    assert welcome[0] == {"text": content.welcome["en"]}
    assert welcome[1]["condition"] == [{"type": "slot", "name": "language", "value": "es"}]
    for key, variants in domain["responses"].items():
        intent = content.intents[key.removeprefix("utter_faq/")]
        # The default answer first, then one variant per language on the `language` slot.
        assert variants[0] == {"text": intent.answer}
        assert variants[1:] == [
            {"text": text, "condition": [{"type": "slot", "name": "language", "value": code}]}
            for code, text in sorted(intent.translations.items())
        ]


@pytest.mark.parametrize(
    "text",
    [
        'say "hi"',
        "back\\slash",
        "line\nbreak\r\n",
        "nel\x85 ls\u2028 ps\u2029 bom\ufeff",
        "bell\x07 del\x7f",
        "🙏 é ß 中",
        "# not: a comment - nor a list",
        " leading and trailing ",
    ],
)
def test_quoted_answer_reads_back_unchanged(text: str) -> None:
    rendered = quote(text)
    assert "\n" not in rendered
    assert yaml.safe_load(f"text: {rendered}\n") == {"text": text}


def test_example_that_cannot_be_one_line_is_refused(tmp_path: Path) -> None:
    content = FaqContent(
        intents={"parking": FaqIntent("parking", ("two\nlines",), "Park in the garage.")},
        guards={},
        version="x",
    )
    with pytest.raises(FaqError, match="faq/parking: example 'two\\\\nlines'"):
        render_nlu(content)
    assert render_domain(content).endswith('  - text: "Park in the garage."\n')
    assert not (tmp_path / "nlu.yml").exists()


def test_diff_finds_a_changed_answer_and_examples(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    write_faq(load_faq(DEMO_CONTENT_DIR), old)
    shutil.copytree(old, new)
    domain = (new / "domain.yml").read_text(encoding="utf-8")
    (new / "domain.yml").write_text(domain.replace("River Road garage", "Lake St garage"))
    nlu = (new / "nlu.yml").read_text(encoding="utf-8")
    nlu = nlu.replace("    - vistng hours?\n", "    - vistng hours?\n    - visit hrs today\n")
    (new / "nlu.yml").write_text(nlu, encoding="utf-8")

    changes = diff_faq(load_faq(old), load_faq(new))
    assert changes
    assert changes.changed_answers == ["faq/parking"]
    assert changes.added_examples == [("faq/visiting_hours", "visit hrs today")]
    assert not changes.removed_examples
    assert not changes.added_intents
    assert changes.lines() == [
        "~ answer faq/parking",
        '+ example faq/visiting_hours: "visit hrs today"',
    ]
    assert not diff_faq(load_faq(old), load_faq(old))


def test_diff_names_added_and_removed_intents(awkward: Path) -> None:
    demo, other = load_faq(DEMO_CONTENT_DIR), load_faq(awkward)
    changes = diff_faq(demo, other)
    assert "faq/greeting" in changes.removed_intents
    assert "emergency" in changes.removed_intents
    assert not changes.added_intents
    assert changes.changed_answers == ["faq/parking", "faq/visiting_hours"]


def test_import_refuses_invalid_content_with_file_and_line(awkward: Path, tmp_path: Path) -> None:
    broken = AWKWARD_NLU.replace("- intent: spam", "- intent: Spam!")
    (awkward / "nlu.yml").write_text(broken, encoding="utf-8")
    destination = tmp_path / "dest"
    with pytest.raises(FaqError) as error:
        import_faq(awkward, destination)
    line = broken.splitlines().index("- intent: Spam!") + 1
    assert str(error.value).startswith(f"{awkward / 'nlu.yml'}:{line}: nlu.")
    assert not destination.exists()
