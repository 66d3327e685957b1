"""The full contract fuzz: schemathesis over the OpenAPI document, then signed webhooks.

Runs the real app against a real Redis (TRIAGE_REDIS_URL, else an embedded one). First
valid and invalid generated cases of every operation with real tokens, each answer checked
against the document; then Meta and X deliveries mixing good items with every oddity JSON
can carry, each good item looked up in Redis. Prints per-operation counts, 5xx, schema
violations and good items lost; exits 1 if any:

    .venv/bin/python bench/contract_fuzz.py [--examples 40] [--deliveries 600]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.embedded_redis import EmbeddedRedis  # noqa: E402
from tests.bot.web.contract import Tally, fuzz, live_app, seed  # noqa: E402
from tests.bot.webhook_fuzz import Tally as WebhookTally  # noqa: E402
from tests.bot.webhook_fuzz import generate, send, webhook_client  # noqa: E402


def report_api(tally: Tally, elapsed: float) -> None:
    print(f"{'operation':<42} {'cases':>6}  statuses")
    for name, count in tally.cases.items():
        statuses = sorted((s, n) for (op, s), n in tally.statuses.items() if op == name)
        shown = ", ".join(f"{s}x{n}" for s, n in statuses)
        print(f"{name:<42} {count:>6}  {shown}")
    print(
        f"\n{tally.total} cases over {len(tally.cases)} operations in {elapsed:.0f} s: "
        f"{tally.server_errors} 5xx, {len(tally.failures)} answers breaking the document"
    )
    for failure in tally.failures[:10]:
        print("\n" + failure)


async def webhooks(data_dir: Path, url: str, count: int) -> WebhookTally:
    """`count` deliveries per platform, each sent signed and its good items looked up."""
    tally = WebhookTally()
    batches = {platform: generate(platform, count) for platform in ("meta", "x")}
    async with webhook_client(data_dir, url) as client:
        for batch in batches.values():
            for delivery in batch:
                await send(client, delivery, tally)
    return tally


def report_webhooks(tally: WebhookTally, elapsed: float) -> None:
    statuses = ", ".join(f"{p} {s}x{n}" for (p, s), n in sorted(tally.statuses.items()))
    print(f"\nwebhooks: {tally.total} signed deliveries in {elapsed:.0f} s ({statuses})")
    print("oddities: " + ", ".join(f"{o} {n}" for o, n in tally.oddities.most_common()))
    print(
        f"{tally.server_errors} 5xx; {tally.mixed} mixed deliveries (good and bad items), "
        f"{tally.good_sent} good items sent, {len(tally.lost)} not recorded"
    )
    for lost in tally.lost[:10]:
        print("  " + lost[:400])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=40, help="per operation and mode")
    parser.add_argument("--deliveries", type=int, default=600, help="per platform")
    args = parser.parse_args()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = (
            os.environ.get("TRIAGE_REDIS_URL")
            or stack.enter_context(EmbeddedRedis(tmp / "redis")).url
        )
        started = time.perf_counter()
        with live_app(tmp / "var", url) as live:
            api = fuzz(live, seed(live), args.examples)
        report_api(api, time.perf_counter() - started)
        started = time.perf_counter()
        hooks = asyncio.run(webhooks(tmp / "webhooks", url, args.deliveries))
        report_webhooks(hooks, time.perf_counter() - started)
    failed = api.server_errors or api.failures or hooks.server_errors or hooks.lost
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
