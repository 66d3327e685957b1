"""Language identification on short, informal text, and language packs as plain files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nlu.engine import TriageEngine
from nlu.language import LanguageIdentifier
from nlu.languages import PACKS_DIR, LanguageError, available, load_pack


@pytest.fixture(scope="module")
def identifier(engine: TriageEngine) -> LanguageIdentifier:
    """The engine's own: with the words of the FAQ examples of each language."""
    return engine.languages


@pytest.mark.parametrize(
    "text",
    [
        "hola!",
        "a q hora abren",
        "donde me estaciono",
        "cuanto cuesta la consulta",
        "necesito una cita con el doctor",
        "mi mama esta en el hospital, puedo visitarla?",
    ],
)
def test_short_informal_unaccented_spanish_is_spanish(
    identifier: LanguageIdentifier, text: str
) -> None:
    assert identifier.identify(text) == "es"


@pytest.mark.parametrize(
    "text",
    [
        "what are your visiting hours?",
        "do you offer payment plans or financial assistance?",
        "ok",
        "parking?",
        "thx!!",
        "911",
        "AQ",
        "AAAA",
    ],
)
def test_english_and_near_empty_text_stay_on_the_default(
    identifier: LanguageIdentifier, text: str
) -> None:
    assert identifier.identify(text) == "en"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Bonjour, quelles sont les heures de visite de l'hôpital aujourd'hui ?", "fr"),
        ("Guten Tag, wann kann ich meine Mutter im Krankenhaus besuchen?", "de"),
        ("Xin chào, bệnh viện mở cửa lúc mấy giờ vào cuối tuần?", "vi"),
    ],
)
def test_a_language_we_do_not_support_is_named(
    identifier: LanguageIdentifier, text: str, code: str
) -> None:
    assert identifier.identify(text) == code


def test_one_supported_language_needs_no_second_detector() -> None:
    only = LanguageIdentifier(("en",))
    assert only.identify("a q hora abren") == "en"
    with pytest.raises(ValueError, match="at least one"):
        LanguageIdentifier(())


def test_packs_shipped() -> None:
    assert {"en", "es"} <= set(available())
    es = load_pack("es")
    assert "988" in es.safety_text("self_harm")
    assert "1-800-222-1222" in es.safety_text("overdose")
    assert es.safety_text("medical").count("911") >= 1
    assert es.safety_text("no-such-kind") == es.templates.safety.general


def test_a_third_language_is_content_files_alone(tmp_path: Path) -> None:
    # Copy the Spanish pack under a new code: it loads with no code change.
    shutil.copytree(PACKS_DIR / "es", tmp_path / "pt")
    pack_yml = tmp_path / "pt" / "pack.yml"
    pack_yml.write_text(
        pack_yml.read_text("utf-8").replace("code: es", "code: pt", 1), encoding="utf-8"
    )
    pack = load_pack("pt", tmp_path)
    assert pack.code == "pt"
    assert pack.crisis
    assert "pt" in available(tmp_path)


def test_a_broken_pack_is_refused_with_its_file_named(tmp_path: Path) -> None:
    shutil.copytree(PACKS_DIR / "en", tmp_path / "en")
    (tmp_path / "en" / "crisis" / "intent.txt").write_text("# weight: 2\n(unclosed\n", "utf-8")
    with pytest.raises(LanguageError, match=r"intent\.txt: pattern 1"):
        load_pack("en", tmp_path)
    with pytest.raises(LanguageError, match="no language pack"):
        load_pack("xx", tmp_path)
