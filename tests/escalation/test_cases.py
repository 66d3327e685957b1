"""The case store on a real Redis: queue order, leases, lifecycle, reopening, encryption."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from escalation import keys
from escalation.cases import Case, CaseError, CaseStore, SlaTargets, Source, break_glass
from escalation.crypto import Cipher, new_key_spec
from tests.redis_dump import every_byte

CIPHER = Cipher.from_spec(new_key_spec())


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client: Redis = Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(redis: Redis, clock: Clock) -> CaseStore:
    return CaseStore(redis, CIPHER, lease_s=60, sla=SlaTargets(urgent=60, normal=600), clock=clock)


def source(n: int | str, text: str = "my son needs his refill", author: str = "") -> Source:
    return Source(channel="meta", message_id=f"m{n}", author_id=author or f"a{n}", text=text)


async def test_the_queue_orders_by_priority_then_age(store: CaseStore, clock: Clock) -> None:
    opened = []
    for n, priority in enumerate(["normal", "low", "urgent", "normal", "high"]):
        clock.now += 1
        opened.append((await store.open(source(n), priority, ["health_info"]))[0])  # type: ignore[arg-type]
    order = []
    while (case := await store.claim("ana")) is not None:
        order.append(case.id)
    assert order == [opened[2], opened[4], opened[0], opened[3], opened[1]]


async def test_a_redelivered_message_finds_its_case(store: CaseStore) -> None:
    first, created = await store.open(source(1), "normal", [])
    again, created_again = await store.open(source(1), "normal", [])
    assert (first, created, created_again) == (again, True, False)
    assert await store.queue_length() == 1


async def test_each_version_of_an_edited_message_joins_the_case_once_marked_as_edited(
    store: CaseStore,
) -> None:
    case_id, opened = await store.open(source(1), "normal", [])
    assert opened
    edit = source(1, "my son needs his refill of metformin").model_copy(update={"version": "ab"})
    for _ in range(2):  # a redelivered edit adds nothing
        assert await store.open(edit, "normal", []) == (case_id, False)
    other = edit.model_copy(update={"version": "cd", "text": "his refill, please"})
    assert await store.open(other, "normal", []) == (case_id, False)
    thread = await store.thread(case_id)
    assert [m.edited for m in thread] == [False, True, True]
    assert await store.case_of_message("meta", "m1~ab") == case_id


async def test_a_lapsed_claim_returns_the_case_to_the_queue(store: CaseStore, clock: Clock) -> None:
    case_id, _ = await store.open(source(1), "normal", [])
    claimed = await store.claim("ana")
    assert claimed is not None
    assert claimed.status == "claimed"
    assert claimed.claimed_by == "ana"
    assert await store.claim("ben") is None  # nothing else waiting
    with pytest.raises(CaseError):
        await store.claim("ben", case_id)  # ana's lease still runs
    clock.now += 61
    again = await store.claim("ben")
    assert again is not None
    assert again.id == case_id
    assert again.claimed_by == "ben"


async def test_requeue_without_a_claim_call(store: CaseStore, clock: Clock) -> None:
    case_id, _ = await store.open(source(1), "normal", [])
    await store.claim("ana")
    clock.now += 61
    assert await store.requeue_expired() == 1
    case = await store.get(case_id)
    assert (case.status, case.claimed_by) == ("new", None)
    assert await store.queue_length() == 1


async def test_reply_waits_on_the_person_and_their_message_reopens(
    store: CaseStore, clock: Clock
) -> None:
    case_id, _ = await store.open(source(1), "normal", [])
    await store.claim("ana")
    clock.now += 5
    await store.reply(case_id, "ana", "Please call pharmacy at 555-0100.")
    case = await store.get(case_id)
    assert (case.status, case.first_response_at) == ("waiting", clock.now)
    await store.add_message(case_id, "person", "thanks, and what about tomorrow?")
    assert (await store.get(case_id)).status == "new"
    await store.claim("ana")
    resolved = await store.resolve(case_id, "ana")
    assert resolved.status == "resolved"
    assert await store.queue_length() == 0
    await store.add_message(case_id, "person", "one more thing")
    reopened = await store.get(case_id)
    assert (reopened.status, reopened.reopened) == ("new", 1)
    senders = [m.sender for m in await store.thread(case_id)]
    assert senders == ["person", "staff", "person", "person"]


async def test_another_agent_cannot_act_on_a_held_case(store: CaseStore) -> None:
    case_id, _ = await store.open(source(1), "normal", [])
    await store.claim("ana")
    for action in (
        store.reply(case_id, "ben", "hi"),
        store.resolve(case_id, "ben"),
        store.transfer(case_id, "ben", "billing"),
    ):
        with pytest.raises(CaseError) as caught:
            await action
        assert caught.value.status == 409


async def test_transfer_puts_the_case_back_for_a_team(store: CaseStore) -> None:
    case_id, _ = await store.open(source(1), "normal", [])
    await store.claim("ana")
    moved = await store.transfer(case_id, "ana", "billing")
    assert (moved.status, moved.team, moved.claimed_by) == ("new", "billing", None)
    assert await store.queue_length() == 1


async def test_a_new_message_from_the_same_person_joins_their_case(store: CaseStore) -> None:
    first, _ = await store.open(source(1, author="p1"), "normal", [])
    second, created = await store.open(source(2, "chest pain now", author="p1"), "urgent", [])
    assert (second, created) == (first, False)
    case = await store.get(first)
    assert case.priority == "urgent"  # the follow-up raised it
    assert len(await store.thread(first)) == 2


async def test_each_message_of_the_person_keeps_its_entities(store: CaseStore) -> None:
    first = source(1, "I am Jo Smith", author="p")
    first.entities = [("PERSON", 5, 13)]
    later = source(2, "now at 12 Elm St", author="p")
    later.entities = [("STREET_ADDRESS", 7, 16)]
    case_id, _ = await store.open(first, "normal", ["phi:PERSON"])
    await store.open(later, "normal", ["phi:STREET_ADDRESS"])
    await store.claim("ana", case_id)
    await store.reply(case_id, "ana", "call 911 or 988")
    await store.add_message(case_id, "person", "I'm Jo", entities=[("PERSON", 4, 6)])
    thread = await store.thread(case_id)
    assert [m.entities for m in thread] == [
        [("PERSON", 5, 13)],
        [("STREET_ADDRESS", 7, 16)],
        None,
        [("PERSON", 4, 6)],
    ]


async def test_a_staff_reply_to_a_resolved_case_is_refused_and_it_stays_purgeable(
    store: CaseStore, clock: Clock
) -> None:
    case_id, _ = await store.open(source(1), "normal", ["health_info"])
    await store.resolve(case_id, "ana")
    with pytest.raises(CaseError) as refused:
        await store.reply(case_id, "ana", "one more thing")
    assert refused.value.status == 409
    case = await store.get(case_id)
    assert (case.status, len(await store.thread(case_id))) == ("resolved", 1)
    clock.now += 10
    assert await store.purge_resolved(older_than_s=5) == 1


async def test_sla_breach_is_reported_once(store: CaseStore, clock: Clock) -> None:
    late, _ = await store.open(source(1), "urgent", [])
    answered, _ = await store.open(source(2), "urgent", [])
    await store.reply(answered, "ana", "on it")
    clock.now += 61
    assert [c.id for c in await store.sla_breaches()] == [late]
    assert await store.sla_breaches() == []


async def test_notes_and_source_round_trip(store: CaseStore) -> None:
    case_id, _ = await store.open(source(1, "my MRN is 4481234"), "high", ["phi:MRN"])
    await store.note(case_id, "ana", "called the ward")
    assert (await store.source(case_id)).text == "my MRN is 4481234"
    assert [n.text for n in await store.notes(case_id)] == ["called the ward"]
    assert (await store.get(case_id)).reasons == ["phi:MRN"]


async def test_unknown_case_is_404(store: CaseStore) -> None:
    with pytest.raises(CaseError) as caught:
        await store.get("nope")
    assert caught.value.status == 404


async def test_purge_removes_only_old_resolved_cases(store: CaseStore, clock: Clock) -> None:
    old, _ = await store.open(source(1), "normal", [])
    await store.resolve(old, "ana")
    clock.now += 100
    recent, _ = await store.open(source(2), "normal", [])
    await store.resolve(recent, "ana")
    assert await store.purge_resolved(older_than_s=50) == 1
    assert not await store.redis.exists(keys.case(old), keys.case_thread(old))
    assert (await store.get(recent)).status == "resolved"


async def test_nothing_about_the_person_is_stored_in_plaintext(store: CaseStore) -> None:
    secrets_in_message = ["078-05-1120", "Harold Finch", "pancreatic cancer"]
    text = "I'm Harold Finch, SSN 078-05-1120, just diagnosed with pancreatic cancer"
    case_id, _ = await store.open(
        Source(
            channel="meta", message_id="m1", author_id="u1", author_name="Harold Finch", text=text
        ),
        "high",
        ["phi:US_SSN", "health_info"],
    )
    await store.claim("ana")
    await store.reply(case_id, "ana", "Harold Finch, we will call you about the cancer")
    await store.note(case_id, "ana", "pancreatic cancer, SSN 078-05-1120")
    dump = await every_byte(store.redis)
    for secret in secrets_in_message:
        assert secret.encode().lower() not in dump.lower()
        assert b"harold" not in dump.lower()
        assert b"pancreatic" not in dump.lower()
    assert (await store.source(case_id)).text == text  # and it all decrypts


async def test_concurrent_agents_each_case_claimed_exactly_once(store: CaseStore) -> None:
    for n in range(300):
        await store.open(source(n), "normal", [])
    handled: Counter[str] = Counter()

    async def agent(name: str) -> None:
        while (case := await store.claim(name)) is not None:
            handled[case.id] += 1
            await store.resolve(case.id, name)

    await asyncio.gather(*(agent(f"agent{n}") for n in range(3)))
    assert len(handled) == 300
    assert set(handled.values()) == {1}


async def test_a_follow_up_delivered_twice_at_once_is_stored_once(store: CaseStore) -> None:
    case_id, _ = await store.open(source(1, author="p9"), "normal", [])
    follow_up = source(2, "and another thing", author="p9")
    results = await asyncio.gather(*(store.open(follow_up, "normal", []) for _ in range(5)))
    assert {r[0] for r in results} == {case_id}
    assert [m.text for m in await store.thread(case_id)] == [
        "my son needs his refill",
        "and another thing",
    ]


async def test_purge_spares_a_case_reopened_after_it_was_listed(
    store: CaseStore, clock: Clock
) -> None:
    case_id, _ = await store.open(source(1), "normal", [])
    await store.resolve(case_id, "ana")
    clock.now += 100
    await store.add_message(case_id, "person", "still waiting")  # reopens it
    assert await store._purge(case_id, cutoff=clock.now) == 0
    assert (await store.get(case_id)).status == "new"
    claimed = await store.claim("ana")
    assert claimed is not None
    assert claimed.id == case_id


@pytest.mark.parametrize(
    ("status", "holder", "user", "role", "reason", "expected"),
    [
        ("claimed", "ana", "ana", "agent", None, None),  # the holder
        ("claimed", "ana", "ben", "admin", None, None),
        ("claimed", "ana", "ben", "compliance", None, None),
        ("new", None, "ben", "agent", None, None),  # nobody holds it
        ("waiting", "ana", "ben", "agent", None, None),  # held no longer
        ("claimed", "ana", "ben", "agent", "patient_safety", "patient_safety"),
        ("claimed", "ana", "ben", "agent", None, CaseError),
        ("claimed", "ana", "ben", "agent", "", CaseError),
        ("claimed", "ana", "ben", "agent", "curious", CaseError),
    ],
)
def test_break_glass_rule(
    status: str, holder: str | None, user: str, role: str, reason: str | None, expected: object
) -> None:
    case = Case.model_validate(
        {
            "id": "c1",
            "status": status,
            "priority": "high",
            "channel": "api",
            "claimed_by": holder,
            "created_at": 0.0,
            "updated_at": 0.0,
            "sla_due_at": 0.0,
        }
    )
    if expected is CaseError:
        with pytest.raises(CaseError) as refused:
            break_glass(case, user, role, reason)
        assert refused.value.status == 403
    else:
        assert break_glass(case, user, role, reason) == expected
