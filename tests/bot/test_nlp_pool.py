"""The NLP pool decides the same in a worker process as in a thread."""

from __future__ import annotations

from bot.nlp_pool import NlpPool
from nlu.engine import TriageEngine

ITEMS = [
    ("a", "when are visiting hours?"),
    ("b", "my mrn is 8834120 and my meds are wrong"),
    ("c", "I don't want to live anymore"),
]


async def test_process_pool_and_thread_give_the_same_decisions(engine: TriageEngine) -> None:
    threaded = NlpPool(engine, processes=0)
    separate = NlpPool(engine, processes=1)
    try:
        await separate.warm_up()
        here = await threaded.triage_many(ITEMS)
        there = await separate.triage_many(ITEMS)
    finally:
        threaded.shutdown()
        separate.shutdown()
    assert [d.action for d in there] == ["reply", "escalate", "emergency"]
    assert [d.model_dump() for d in there] == [d.model_dump() for d in here]
