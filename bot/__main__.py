"""The `triagebot` command: serve, triage, eval."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bot.settings import Settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="triagebot",
        description="Triage public social-media messages for a hospital or clinic.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("serve", help="run the HTTP service (webhooks, API, console)")
    triage = commands.add_parser(
        "triage", help='JSON Lines {"id","text"} in, one Decision per line out'
    )
    triage.add_argument("file", nargs="?", type=Path, help="input file (default: stdin)")
    evaluate = commands.add_parser("eval", help="figures on labelled JSON Lines files")
    evaluate.add_argument("files", nargs="+", type=Path)
    evaluate.add_argument("--misses", type=int, default=20, help="misses to list per file")
    evaluate.add_argument("--json", action="store_true", help="machine-readable report")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `triagebot` console script."""
    args = _parser().parse_args(argv)
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s"
    )
    # Before presidio is imported: it logs at import time, and at debug level it logs
    # matched values (nlu.phi.engine enforces this again for library users).
    logging.getLogger("presidio-analyzer").setLevel(logging.ERROR)
    if args.command == "triage":
        from bot.cli import run_triage

        return run_triage(settings, args.file)
    if args.command == "eval":
        from bot.cli import run_eval

        return run_eval(settings, args.files, args.misses, args.json)
    if args.command == "serve":
        from bot.app import serve

        return serve(settings)
    return 2


if __name__ == "__main__":
    sys.exit(main())
