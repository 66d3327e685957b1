"""`triagebot x subscribe | subscriptions`: the X Activity API subscriptions of the account.

`subscribe` lists what the app has and creates (or moves to the webhook) only what is
missing, so it can be run again at any time. Bad settings or arguments: exit 2 with one line
on stderr; X refusing or not answering: exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from aiohttp import ClientSession

from bot.connectors.x_activity import TRIAGED_EVENTS
from bot.connectors.x_subscriptions import ActivitySubscriptions, XApiError
from bot.settings import Settings

EXIT_FAILED = 1
EXIT_INVALID = 2


def add_x_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Declare the `x` subcommands on the top-level parser."""
    x = commands.add_parser("x", help="the X account's X Activity API subscriptions")
    actions = x.add_subparsers(dest="x_command", required=True, metavar="ACTION")
    subscribe = actions.add_parser(
        "subscribe",
        help=f"deliver {', '.join(TRIAGED_EVENTS)} for TRIAGE_X_ACCOUNT_ID to the webhook",
    )
    subscribe.add_argument(
        "--webhook-id", help="the webhook's id at X (default: TRIAGE_X_WEBHOOK_ID)"
    )
    subscribe.add_argument("--dry-run", action="store_true", help="say what would change")
    actions.add_parser("subscriptions", help="list the app's X Activity API subscriptions")


def run_x(settings: Settings, args: argparse.Namespace) -> int:
    """Run one `x` action."""
    token = settings.x_bearer_token.get_secret_value() if settings.x_bearer_token else ""
    try:
        api = ActivitySubscriptions(settings.x_api_url, token)
        if args.x_command == "subscriptions":
            return asyncio.run(_list(api))
        account, webhook = settings.x_account_id, args.webhook_id or settings.x_webhook_id
        if not account:
            raise ValueError("set TRIAGE_X_ACCOUNT_ID to the account's numeric id")
        if not webhook:
            raise ValueError("give --webhook-id or set TRIAGE_X_WEBHOOK_ID")
        return asyncio.run(_subscribe(api, account, webhook, args.dry_run))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except XApiError as exc:
        print(f"error: X: {exc}", file=sys.stderr)
        return EXIT_FAILED


async def _subscribe(api: ActivitySubscriptions, account: str, webhook: str, dry: bool) -> int:
    async with ClientSession() as session:
        outcomes = await api.ensure(session, account, webhook, dry_run=dry)
    for outcome in outcomes:
        print(f"{outcome.event_type}\t{outcome.action}\t{outcome.subscription_id or '-'}")
    return 0


async def _list(api: ActivitySubscriptions) -> int:
    async with ClientSession() as session:
        subscriptions = await api.existing(session)
    for s in subscriptions:
        user = s.filter.user_id or "-"
        print(f"{s.subscription_id}\t{s.event_type}\t{user}\t{s.webhook_id or '-'}\t{s.tag or ''}")
    return 0
