"""`triagebot faq validate | train | export | import | diff`: FAQ content as Rasa 3.x YAML."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.settings import Settings
from nlu.faq import CONTENT_LANGUAGE, FaqContent, FaqError, load_faq
from nlu.faq_eval import DEFAULT_FOLDS, evaluate_content
from nlu.faq_io import diff_faq, import_faq, write_faq
from nlu.intents import IntentClassifier, model_path

EXIT_INVALID = 2


def add_faq_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare the `faq` subcommands on the top-level parser."""
    faq = commands.add_parser("faq", help="check, export, import and compare FAQ content")
    actions = faq.add_subparsers(dest="faq_command", required=True, metavar="ACTION")
    validate = actions.add_parser("validate", help="check nlu.yml and domain.yml")
    validate.add_argument("dir", nargs="?", type=Path, help="content folder (default: faq_dir)")
    export = actions.add_parser("export", help="write the canonical Rasa 3.x files")
    export.add_argument(
        "--from", dest="source", type=Path, help="content folder (default: faq_dir)"
    )
    export.add_argument("out_dir", type=Path)
    imported = actions.add_parser("import", help="validate, then write the canonical form")
    imported.add_argument("src_dir", type=Path)
    imported.add_argument("dest_dir", type=Path)
    train = actions.add_parser(
        "train", help="retrain the intent model, print held-out figures, store it versioned"
    )
    train.add_argument("dir", nargs="?", type=Path, help="content folder (default: faq_dir)")
    train.add_argument(
        "--dev", type=Path, help="labelled JSON Lines: FAQ accuracy on its routine cases"
    )
    train.add_argument(
        "--folds", type=int, default=DEFAULT_FOLDS, help="held-out folds (default 5)"
    )
    train.add_argument("--seed", type=int, default=0, help="fold shuffling seed (default 0)")
    diff = actions.add_parser("diff", help="intents, answers and examples that differ")
    diff.add_argument("dir_a", type=Path)
    diff.add_argument("dir_b", type=Path)


def _summary(content: FaqContent) -> str:
    examples = sum(len(intent.examples) for intent in content.intents.values())
    guard_examples = sum(len(texts) for texts in content.guards.values())
    return (
        f"{len(content.intents)} intents, {examples} examples; "
        f"{len(content.guards)} guard classes, {guard_examples} examples; "
        f"version {content.version}"
    )


def _coverage(content: FaqContent, languages: tuple[str, ...]) -> list[str]:
    """A note per answered language whose answers or examples miss some intents.

    Not an error: a question in that language without its answer goes to a person.
    """
    notes = []
    for language in languages:
        no_answer = sorted(k for k, i in content.intents.items() if i.answer_in(language) is None)
        no_examples = sorted(
            k
            for k, i in content.intents.items()
            if language != CONTENT_LANGUAGE and not i.localized_examples.get(language)
        )
        if no_answer:
            notes.append(f"note: {language}: no answer for {', '.join(no_answer)}")
        if no_examples:
            notes.append(f"note: {language}: no examples for {', '.join(no_examples)}")
    return notes


def _train(settings: Settings, args: argparse.Namespace) -> int:
    """Retrain from the content files alone; the model file is named by the content version."""
    if args.folds < 2:
        print("error: --folds must be at least 2", file=sys.stderr)
        return EXIT_INVALID
    content = load_faq(args.dir or settings.faq_dir)
    print(f"content: {_summary(content)}")
    score = evaluate_content(
        content,
        settings.intent_threshold,
        dev_path=args.dev,
        folds=args.folds,
        seed=args.seed,
        progress=lambda stage, fraction: print(
            f"  {stage} {fraction:.0%}", file=sys.stderr, flush=True
        ),
    )
    print(f"held-out accuracy ({args.folds}-fold, seed {args.seed}): {score.held_out_accuracy:.4f}")
    if score.dev_faq_accuracy is not None:
        print(f"FAQ accuracy on {args.dev}: {score.dev_faq_accuracy:.4f}")
    cache_dir = settings.data_dir / "cache"
    path = model_path(cache_dir, content)
    path.unlink(missing_ok=True)  # retrain even when this version was trained before
    IntentClassifier(content, settings.intent_threshold, cache_dir)
    print(f"model: {path} ({path.stat().st_size} bytes, plain arrays, no pickle)")
    return 0


def run_faq(settings: Settings, args: argparse.Namespace) -> int:
    """Run one `faq` action; content errors go to stderr as `file:line: what` (exit 2)."""
    try:
        if args.faq_command == "validate":
            content = load_faq(args.dir or settings.faq_dir)
            print(f"ok: {_summary(content)}")
            for line in _coverage(content, settings.languages):
                print(line)
            return 0
        if args.faq_command == "train":
            return _train(settings, args)
        if args.faq_command == "export":
            content = load_faq(args.source or settings.faq_dir)
            write_faq(content, args.out_dir)
            print(f"exported to {args.out_dir}: {_summary(content)}")
            return 0
        if args.faq_command == "import":
            content = import_faq(args.src_dir, args.dest_dir)
            print(f"imported to {args.dest_dir}: {_summary(content)}")
            return 0
        if args.faq_command == "diff":
            changes = diff_faq(load_faq(args.dir_a), load_faq(args.dir_b))
            for line in changes.lines():
                print(line)
            return 1 if changes else 0
    except FaqError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        # A folder that cannot be written: name the path, not a traceback.
        print(f"error: {exc.filename or ''}: {exc.strerror or type(exc).__name__}", file=sys.stderr)
        return EXIT_INVALID
    return EXIT_INVALID
