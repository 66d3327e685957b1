"""FAQ change control on a real Redis: drafts, approval by someone else, rollback, schedules,
notices, and the engine answering as the live version says."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest
from redis.asyncio import Redis

from escalation.faq.store import Changes, FaqChangeError, FaqStore
from nlu.engine import TriageEngine
from nlu.faq import DEMO_CONTENT_DIR
from nlu.faq_versions import LiveFaq, ScheduledAnswer

NEW_PARKING = "Parking is free in Garage C from today. Enter from Elm Street."
HOLIDAY_HOURS = "Over the holidays our clinics open 10am to 2pm."
T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[FaqStore]:
    client: Redis = Redis.from_url(redis_url)
    await client.flushdb()
    faq = FaqStore(client, clock=Clock())
    await faq.seed(DEMO_CONTENT_DIR)
    yield faq
    await client.aclose()


@pytest.fixture
def live_engine(engine: TriageEngine) -> Iterator[TriageEngine]:
    """The shared engine, put back on the demo content afterwards."""
    content, clock = engine.content, engine.clock
    yield engine
    engine.use_content(content)
    engine._schedules, engine._notice, engine.clock = (), None, clock


def change(**kwargs: object) -> Changes:
    fields: dict[str, object] = {
        "answers": {},
        "add_examples": {},
        "remove_examples": {},
        "new_intents": {},
    }
    fields.update(kwargs)
    return Changes(**fields)  # type: ignore[arg-type]


def answer(engine: TriageEngine, text: str) -> str | None:
    return engine.triage("q", text).reply


async def test_a_draft_is_not_live_and_its_author_cannot_approve_it(
    store: FaqStore, live_engine: TriageEngine
) -> None:
    before = await store.live_id()
    draft = await store.propose("eddie", "new garage", change(answers={"parking": NEW_PARKING}))
    assert await store.live_id() == before
    with pytest.raises(FaqChangeError) as caught:
        await store.approve(draft.id, "eddie")
    assert caught.value.status == 403
    approved = await store.approve(draft.id, "carla")
    assert await store.live_id() == approved.version
    state = await store.live_state()
    assert state is not None
    live_engine.use_live(state)
    decision = live_engine.triage("q", "where can i park my car?")
    assert decision.reply == NEW_PARKING
    assert decision.faq_version == approved.version
    # Rollback is one action and restores the answer before.
    await store.rollback("carla")
    state = await store.live_state()
    assert state is not None
    live_engine.use_live(state)
    assert answer(live_engine, "where can i park my car?") != NEW_PARKING
    assert [h.action for h in await store.history()] == ["rollback", "approve", "seed"]


async def test_a_decided_draft_cannot_be_decided_again(store: FaqStore) -> None:
    draft = await store.propose("eddie", "typo", change(answers={"parking": NEW_PARKING}))
    await store.reject(draft.id, "carla")
    with pytest.raises(FaqChangeError):
        await store.approve(draft.id, "carla")


async def test_new_intent_and_examples_are_validated(store: FaqStore) -> None:
    with pytest.raises(FaqChangeError) as caught:
        await store.propose("eddie", "x", change(answers={"no_such_intent": "hi"}))
    assert caught.value.status == 422
    draft = await store.propose(
        "eddie",
        "gift shop",
        change(
            new_intents={
                "gift_shop": (
                    "The gift shop in the main lobby is open 9am to 6pm.",
                    ["gift shop hours?", "what does the gift shop sell", "buy flowers downstairs?"],
                )
            }
        ),
    )
    assert "gift_shop" in draft.proposal.content().intents
    # An example already taught for another intent is refused, with where it is.
    with pytest.raises(FaqChangeError, match="listed under both"):
        await store.propose(
            "eddie", "dup", change(add_examples={"parking": ["when are visiting hours"]})
        )


async def test_a_scheduled_answer_switches_on_and_off_at_its_boundaries(
    store: FaqStore, live_engine: TriageEngine
) -> None:
    clock = Clock()
    live_engine.clock = clock
    period = ScheduledAnswer(
        intent="opening_hours", answer=HOLIDAY_HOURS, starts_at=T0 + 100, ends_at=T0 + 200
    )
    draft = await store.propose("eddie", "holidays", change(schedules=[period]))
    await store.approve(draft.id, "carla")
    state = await store.live_state()
    assert state is not None
    live_engine.use_live(state)
    question = "what are your opening hours?"
    usual = answer(live_engine, question)
    assert usual != HOLIDAY_HOURS
    for moment, expected in [(99.999, usual), (100, HOLIDAY_HOURS), (199.999, HOLIDAY_HOURS)]:
        clock.now = T0 + moment
        assert answer(live_engine, question) == expected
    clock.now = T0 + 200
    assert answer(live_engine, question) == usual


async def test_a_notice_is_added_to_public_answers_until_it_expires(
    store: FaqStore, live_engine: TriageEngine
) -> None:
    clock = Clock()
    live_engine.clock = clock
    notice = await store.set_notice("Our ER is on diversion; go to St. Mary's.", 60, "carla")
    live = await store.live()
    assert live is not None
    live_engine.use_live(LiveFaq(live, notice))
    reply = answer(live_engine, "when are visiting hours?")
    assert reply is not None
    assert reply.endswith("Our ER is on diversion; go to St. Mary's.")
    clock.now += 61
    reply = answer(live_engine, "when are visiting hours?")
    assert reply is not None
    assert "diversion" not in reply


async def test_two_approvals_at_once_make_one_decision(store: FaqStore) -> None:
    draft = await store.propose("eddie", "race", change(answers={"parking": NEW_PARKING}))
    results = await asyncio.gather(
        store.approve(draft.id, "carla"), store.reject(draft.id, "dana"), return_exceptions=True
    )
    assert sum(isinstance(r, FaqChangeError) for r in results) == 1
    decided = await store.draft(draft.id)
    assert decided.decided_by in ("carla", "dana")


async def test_an_approved_version_keeps_the_welcome(
    store: FaqStore, live_engine: TriageEngine
) -> None:
    draft = await store.propose("eddie", "new garage", change(answers={"parking": NEW_PARKING}))
    await store.approve(draft.id, "carla")
    state = await store.live_state()
    assert state is not None
    welcome = state.version.content().welcome
    assert set(welcome) == {"en", "es"}
    live_engine.use_live(state)
    assert live_engine.answer_button("b", "faq/parking", "Parking") is not None
    await store.rollback("carla")
