"""The `triagebot` command: serve, triage, eval, faq, staff, audit, x."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from bot.faq_cli import add_faq_commands, run_faq
from bot.settings import Settings
from bot.x_cli import add_x_commands, run_x


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
    _add_staff_commands(commands)
    add_faq_commands(commands)
    add_x_commands(commands)
    actions = commands.add_parser(
        "rasa-actions", help="serve the rasa-sdk actions (screen, handoff) for a Rasa assistant"
    )
    actions.add_argument("--port", type=int, default=5055)
    return parser


def _add_staff_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # Roles and actions are checked by bot.staff_cli: naming them here would mean importing
    # the account code for every command.
    roles = "agent, faq_editor, compliance or admin"
    staff = commands.add_parser("staff", help="staff accounts and their roles")
    actions = staff.add_subparsers(dest="staff_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create an account")
    add.add_argument("username")
    add.add_argument("--role", required=True, help=roles)
    add.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the password from the first line of stdin (asked for on a terminal)",
    )
    password = actions.add_parser(
        "password", help="set a new password (a reset); ends all sessions and tokens"
    )
    password.add_argument("username")
    password.add_argument(
        "--password-stdin",
        action="store_true",
        required=True,
        help="read the password from the first line of stdin (asked for on a terminal)",
    )
    disable = actions.add_parser("disable", help="refuse logins; end all sessions and tokens")
    disable.add_argument("username")
    enable = actions.add_parser("enable", help="allow logins again")
    enable.add_argument("username")
    set_role = actions.add_parser("set-role", help="change a role; ends sessions and tokens")
    set_role.add_argument("username")
    set_role.add_argument("role", help=roles)
    actions.add_parser("list", help="every account: username, role, status, created")

    audit = commands.add_parser("audit", help="the audit log")
    audit_actions = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    export = audit_actions.add_parser("export", help="entries to stdout, oldest first")
    export.add_argument("--format", choices=("csv", "jsonl"), default="csv")
    export.add_argument("--since", metavar="ISO", help="from this time (ISO 8601; UTC if no zone)")
    export.add_argument("--until", metavar="ISO", help="up to this time, excluded")
    export.add_argument("--actor", help="only this actor's entries")
    export.add_argument("--action", help="only entries of this action")
    verify = audit_actions.add_parser(
        "verify", help="check the hash chain of every entry (exit 1 when it is broken)"
    )
    verify.add_argument(
        "--head", metavar="MAC", help="a head printed earlier: check it is still in the chain"
    )


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
    if args.command == "staff":
        from bot.staff_cli import run_staff

        return run_staff(settings, args)
    if args.command == "audit":
        from bot.staff_cli import run_audit

        return run_audit(settings, args)
    if args.command == "rasa-actions":
        from bot.rasa_cli import run_actions

        return run_actions(settings, args.port)
    if args.command == "faq":
        return run_faq(settings, args)
    if args.command == "x":
        return run_x(settings, args)
    if args.command == "serve":
        from bot.serve import serve

        return serve(settings)
    return 2


if __name__ == "__main__":
    sys.exit(main())
