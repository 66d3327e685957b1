"""X Activity API deliveries, from X's own samples, read into the same messages as AAA's."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from bot.connectors.base import (
    InboundMessage,
    MessageKind,
    PartlyMalformed,
    SkipReason,
    ignored_kinds,
)
from bot.connectors.x import XConnector

FIXTURES = Path(__file__).resolve().parents[3] / "bot" / "connectors" / "fixtures" / "x"
XAA = FIXTURES / "xaa"
# The ids X's samples use for the subscribed account and for the other user.
DOC_ACCOUNT = "1111111111111111111"
DOC_OTHER = "2222222222222222222"
SECRET_TEXT = "Jane Doe MRN 4455667 has diabetes"


def sample(name: str) -> dict[str, Any]:
    """One of X's sample deliveries, as a dict to change."""
    data: dict[str, Any] = json.loads((XAA / name).read_text())
    return data


def body(delivery: dict[str, Any]) -> bytes:
    return json.dumps(delivery).encode()


@pytest.fixture
def connector() -> XConnector:
    return XConnector("secret", "bearer", "https://api.x.invalid/2", account_id=DOC_ACCOUNT)


# --- what is triaged ----------------------------------------------------------------------


def test_mention_becomes_a_mention_message(connector: XConnector) -> None:
    assert connector.parse((XAA / "post_mention_create.json").read_bytes()) == [
        InboundMessage(
            platform="x",
            message_id="2080765813578191303",
            kind=MessageKind.MENTION,
            author_id=DOC_OTHER,
            text="hey @ExampleUser",
            thread_id="2080765813578191303",
            account_id=DOC_ACCOUNT,
            author_name="OtherUser",
        )
    ]


def test_reply_belongs_to_the_post_it_answers(connector: XConnector) -> None:
    [message] = connector.parse((XAA / "post_reply_create.json").read_bytes())
    assert message.kind is MessageKind.MENTION
    assert message.message_id == "2090000000000000001"
    assert message.thread_id == "2080761390344937796"  # so a PHI reply can be hidden
    assert message.author_id == DOC_OTHER
    assert message.author_name is None  # the sample's `includes` is empty


def test_reply_without_in_reply_to_field_uses_the_replied_to_reference(
    connector: XConnector,
) -> None:
    delivery = sample("post_reply_create.json")
    del delivery["data"]["payload"]["in_reply_to_tweet_id"]
    [message] = connector.parse(body(delivery))
    assert message.thread_id == "2080761390344937796"


def test_quote_is_triaged_as_its_own_post(connector: XConnector) -> None:
    [message] = connector.parse((XAA / "post_quote_create.json").read_bytes())
    assert (message.kind, message.message_id, message.thread_id) == (
        MessageKind.MENTION,
        "2090000000000000002",
        "2090000000000000002",
    )


def test_received_dm_becomes_a_direct_message(connector: XConnector) -> None:
    assert connector.parse((XAA / "dm_received.json").read_bytes()) == [
        InboundMessage(
            platform="x",
            message_id="2080765901528535096",
            kind=MessageKind.DIRECT,
            author_id=DOC_OTHER,
            text="hello!",
            thread_id=DOC_OTHER,
            account_id=DOC_ACCOUNT,
            author_name="OtherUser",
        )
    ]


def test_long_post_is_read_from_note_tweet(connector: XConnector) -> None:
    delivery = sample("post_mention_create.json")
    long_text = "@ExampleUser " + "where do I park for the clinic? " * 12
    delivery["data"]["payload"]["text"] = long_text[:270] + "…"
    delivery["data"]["payload"]["note_tweet"] = {"text": long_text}
    [message] = connector.parse(body(delivery))
    assert message.text == long_text


def test_account_comes_from_the_filter_when_none_is_configured() -> None:
    connector = XConnector("secret", "bearer", "https://api.x.com/2")
    [message] = connector.parse((XAA / "post_mention_create.json").read_bytes())
    assert message.account_id == DOC_ACCOUNT


def test_envelope_without_the_data_wrapper_is_read_too(connector: XConnector) -> None:
    wrapped = (XAA / "post_mention_create.json").read_bytes()
    bare = body(sample("post_mention_create.json")["data"])
    assert connector.parse(bare) == connector.parse(wrapped) != []


# --- the same message from either format ---------------------------------------------------


def test_a_mention_reads_the_same_in_both_formats() -> None:
    connector = XConnector("secret", "bearer", "https://api.x.com/2")
    [old] = connector.parse((FIXTURES / "mention.json").read_bytes())
    delivery = sample("post_mention_create.json")
    payload = delivery["data"]["payload"]
    delivery["data"]["filter"]["user_id"] = old.account_id
    payload.update(id=old.message_id, text=old.text, author_id=old.author_id)
    for user in delivery["data"]["includes"]["users"]:
        if user["id"] == DOC_OTHER:
            user.update(id=old.author_id, username=old.author_name)
    assert connector.parse(body(delivery)) == [old]


def test_a_dm_reads_the_same_in_both_formats() -> None:
    connector = XConnector("secret", "bearer", "https://api.x.com/2")
    [old] = connector.parse((FIXTURES / "dm.json").read_bytes())
    delivery = sample("dm_received.json")
    delivery["data"]["filter"]["user_id"] = old.account_id
    payload = delivery["data"]["payload"]
    event = payload["direct_message_events"][0]
    event["id"] = old.message_id
    event["message_create"]["sender_id"] = old.author_id
    event["message_create"]["target"]["recipient_id"] = old.account_id
    event["message_create"]["message_data"]["text"] = old.text
    payload["users"] = {old.author_id: {"data": {"id": old.author_id, "username": old.author_name}}}
    assert connector.parse(body(delivery)) == [old]


# --- what is not triaged, and says so -----------------------------------------------------

NOT_TRIAGED = [
    pytest.param("post_create.json", logging.INFO, id="own-post"),
    pytest.param("post_delete.json", logging.INFO, id="delete"),
    pytest.param("post_repost_create.json", logging.INFO, id="repost"),
    pytest.param("dm_sent.json", logging.INFO, id="sent-dm"),
    pytest.param("follow_follow.json", logging.INFO, id="follow"),
    pytest.param("oauth_revoke.json", logging.WARNING, id="revocation"),
    pytest.param("chat_received.json", logging.WARNING, id="encrypted-chat"),
]


@pytest.mark.parametrize(("name", "level"), NOT_TRIAGED)
def test_event_not_triaged_is_logged_with_its_type_and_id_only(
    connector: XConnector, caplog: pytest.LogCaptureFixture, name: str, level: int
) -> None:
    raw = (XAA / name).read_bytes()
    envelope = json.loads(raw)["data"]
    with caplog.at_level(logging.INFO, logger="triagebot.x"):
        assert connector.parse(raw) == []
    [record] = [r for r in caplog.records if r.name == "triagebot.x"]
    assert record.levelno == level
    assert record.__dict__["event_type"] == envelope["event_type"]
    assert record.__dict__["event_uuid"] == envelope["event_uuid"]
    texts = [envelope["payload"].get("text")]
    for dm in envelope["payload"].get("direct_message_events", []):
        texts.append(dm["message_create"]["message_data"]["text"])
    for text in filter(None, texts):
        assert text not in caplog.text


def test_unknown_event_type_is_a_warning_not_an_error(
    connector: XConnector, caplog: pytest.LogCaptureFixture
) -> None:
    delivery = {"data": {"event_uuid": "1", "event_type": "spaces.start", "payload": {}}}
    with caplog.at_level(logging.INFO, logger="triagebot.x"):
        assert connector.parse(body(delivery)) == []
    assert [r.levelno for r in caplog.records if r.name == "triagebot.x"] == [logging.WARNING]


@pytest.mark.parametrize(
    "name", ["post_mention_create.json", "post_reply_create.json", "post_quote_create.json"]
)
def test_posts_by_the_account_itself_are_never_triaged(connector: XConnector, name: str) -> None:
    delivery = sample(name)
    delivery["data"]["payload"]["author_id"] = DOC_ACCOUNT
    assert connector.parse(body(delivery)) == []


def test_post_by_the_configured_account_is_ours_whatever_the_filter() -> None:
    connector = XConnector("secret", "bearer", "https://api.x.com/2", account_id="42")
    delivery = sample("post_mention_create.json")
    delivery["data"]["payload"]["author_id"] = "42"
    assert connector.parse(body(delivery)) == []


def test_dm_received_but_sent_by_the_account_is_not_triaged(connector: XConnector) -> None:
    delivery = sample("dm_sent.json")
    delivery["data"]["event_type"] = "dm.received"
    assert connector.parse(body(delivery)) == []


def test_mention_that_is_a_repost_is_not_triaged(connector: XConnector) -> None:
    delivery = sample("post_repost_create.json")
    delivery["data"]["event_type"] = "post.mention.create"
    assert connector.parse(body(delivery)) == []


def test_dm_events_other_than_message_create_are_skipped(connector: XConnector) -> None:
    delivery = sample("dm_received.json")
    delivery["data"]["payload"]["direct_message_events"] = [{"type": "reaction_create"}]
    assert connector.parse(body(delivery)) == []


# --- malformed ----------------------------------------------------------------------------


def _mention(**changes: object) -> bytes:
    delivery = sample("post_mention_create.json")
    delivery["data"]["payload"]["text"] = SECRET_TEXT
    delivery["data"]["payload"].update(changes)
    return body(delivery)


def _envelope(**changes: object) -> bytes:
    delivery = sample("post_mention_create.json")
    delivery["data"]["payload"]["text"] = SECRET_TEXT
    delivery["data"].update(changes)
    return body(delivery)


def _dm(**changes: object) -> bytes:
    delivery = sample("dm_received.json")
    event = delivery["data"]["payload"]["direct_message_events"][0]
    event["message_create"]["message_data"]["text"] = SECRET_TEXT
    event.update(changes)
    return body(delivery)


MALFORMED = [
    pytest.param(body({"data": SECRET_TEXT}), id="data-not-object"),
    pytest.param(body({"data": [SECRET_TEXT]}), id="data-list"),
    pytest.param(_envelope(event_uuid=None), id="no-event-uuid"),
    pytest.param(_envelope(event_uuid=SECRET_TEXT), id="event-uuid-with-spaces"),
    pytest.param(_envelope(event_type=SECRET_TEXT), id="event-type-not-a-type"),
    pytest.param(_envelope(event_type=None), id="no-event-type"),
    pytest.param(_envelope(filter={"user_id": SECRET_TEXT}), id="filter-user-not-id"),
    pytest.param(_envelope(payload=SECRET_TEXT), id="payload-not-object"),
    pytest.param(_envelope(includes={"users": SECRET_TEXT}), id="includes-users-not-list"),
    pytest.param(_mention(id=None), id="post-without-id"),
    pytest.param(_mention(id=SECRET_TEXT), id="post-id-not-numeric"),
    pytest.param(_mention(id="123\n"), id="post-id-trailing-newline"),
    pytest.param(_mention(author_id=None), id="post-without-author"),
    pytest.param(_mention(text=None), id="post-without-text"),
    pytest.param(_mention(in_reply_to_tweet_id=SECRET_TEXT), id="reply-to-not-id"),
    pytest.param(_mention(referenced_tweets=[{"type": "quoted"}]), id="reference-without-id"),
    pytest.param(_mention(note_tweet={"entities": {}}), id="note-without-text"),
    pytest.param(_dm(id=None), id="dm-without-id"),
    pytest.param(_dm(message_create=None), id="dm-without-message"),
    pytest.param(_dm(message_create={"sender_id": "1"}), id="dm-message-incomplete"),
]


@pytest.mark.parametrize("raw", MALFORMED)
def test_malformed_event_is_reported_by_place_and_reason_without_echo(
    connector: XConnector, raw: bytes
) -> None:
    with pytest.raises(PartlyMalformed) as caught:
        connector.parse(raw)
    assert caught.value.messages == []
    [problem] = caught.value.problems
    assert problem.reason in set(SkipReason)
    assert problem.where.startswith("data")
    assert "Jane" not in str(caught.value)
    assert "4455667" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__context__ is None or caught.value.__suppress_context__


def test_one_bad_dm_of_a_delivery_costs_only_itself(connector: XConnector) -> None:
    delivery = sample("dm_received.json")
    events = delivery["data"]["payload"]["direct_message_events"]
    good = events[0]
    other = json.loads(json.dumps(good))
    other["id"] = "2080765901528535999"
    events[:] = [{"type": "message_create", "id": "1"}, good, SECRET_TEXT, other]
    with pytest.raises(PartlyMalformed) as caught:
        connector.parse(body(delivery))
    assert [m.message_id for m in caught.value.messages] == [good["id"], other["id"]]
    assert [(p.where, p.reason) for p in caught.value.problems] == [
        ("data.payload.direct_message_events[0].message_create", SkipReason.MISSING),
        ("data.payload.direct_message_events[2]", SkipReason.WRONG_TYPE),
    ]


def test_oauth_revoke_and_post_delete_are_logged_not_errors(
    connector: XConnector, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="triagebot.x"):
        assert connector.parse(body(sample("oauth_revoke.json"))) == []
        assert connector.parse(body(sample("post_delete.json"))) == []
    levels = {r.event_type: r.levelno for r in caplog.records}  # type: ignore[attr-defined]
    assert levels == {"oauth.revoke": logging.WARNING, "post.delete": logging.INFO}


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("post_create.json", "post.create"),
        ("post_delete.json", "post.delete"),
        ("dm_sent.json", "dm.sent"),
        ("follow_follow.json", "follow.follow"),
        ("oauth_revoke.json", "oauth.revoke"),
    ],
)
def test_an_event_not_triaged_is_counted_by_its_type(
    connector: XConnector, name: str, kind: str
) -> None:
    messages = connector.parse(body(sample(name)))
    assert messages == []
    assert ignored_kinds(messages) == {kind: 1}


def test_an_unknown_event_type_is_counted_under_a_fixed_label(connector: XConnector) -> None:
    delivery = sample("post_create.json")
    delivery["data"]["event_type"] = "post.something.new"
    assert ignored_kinds(connector.parse(body(delivery))) == {"other_event": 1}
