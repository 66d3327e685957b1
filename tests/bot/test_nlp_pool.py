"""The NLP pool decides the same in a worker process as in a thread."""

from __future__ import annotations

import time

from bot.nlp_pool import NlpPool
from nlu.engine import TriageEngine
from nlu.faq_versions import FaqVersion, LiveFaq, Notice

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


async def test_pool_processes_answer_from_the_live_version_sent_only_when_they_lack_it(
    engine: TriageEngine,
) -> None:
    files = engine.config.faq_dir
    nlu, domain = (files / "nlu.yml").read_text(), (files / "domain.yml").read_text()
    old = "General visiting hours at Riverside Medical Center are 8 am to 8 pm daily"
    assert old in domain

    def version(name: str, hours: str) -> FaqVersion:
        text = domain.replace(old, f"General visiting hours are {hours}")
        return FaqVersion(version=name, nlu=nlu, domain=text, created_at=0.0, author="t")

    pool = NlpPool(engine, processes=1)
    try:
        await pool.warm_up()
        visiting = [("v", "when are visiting hours?")]
        pool.live = LiveFaq(version("v-nine", "9 am to 9 pm"))
        first = (await pool.triage_many(visiting))[0]
        assert first.faq_version == "v-nine"
        assert "9 am to 9 pm" in (first.reply or "")
        # Same version, new notice: only the name and the notice travel, and both apply.
        notice = Notice(text="Lobby closed today.", expires_at=time.time() + 60, author="t")
        pool.live = LiveFaq(pool.live.version, notice)
        noticed = (await pool.triage_many(visiting))[0]
        assert (noticed.reply or "").endswith("Lobby closed today.")
        pool.live = LiveFaq(version("v-ten", "10 am to 6 pm"))
        switched = (await pool.triage_many(visiting))[0]
        assert switched.faq_version == "v-ten"
        assert "10 am to 6 pm" in (switched.reply or "")
        assert "Lobby closed" not in (switched.reply or "")
    finally:
        pool.shutdown()
