"""Webhook bodies read as JSON whatever valid JSON they carry: a part too deep or a number
too long costs only the item it sits in, for Meta and X alike."""

from __future__ import annotations

import json

import pytest

from bot.connectors.base import PartlyMalformed
from bot.connectors.json_body import MAX_DEPTH, load_json
from bot.connectors.meta import MetaConnector
from bot.connectors.x import XConnector

PAGE_ID = "104857362918273"
DEEP = "[" * 10_000 + "]" * 10_000
LONG = "9" * 5000  # past Python's 4,300-digit limit for int()


def meta_delivery(second_message: str) -> bytes:
    def change(comment_id: str, message: str) -> str:
        return (
            '{"field": "feed", "value": {"item": "comment", "verb": "add", '
            f'"comment_id": "{comment_id}", "post_id": "{PAGE_ID}_1", '
            f'"from": {{"id": "55320199"}}, "message": {message}}}}}'
        )

    changes = (
        f"{change('c_good', json.dumps('where do I park?'))}, {change('c_odd', second_message)}"
    )
    return (
        f'{{"object": "page", "entry": [{{"id": "{PAGE_ID}", "changes": [{changes}]}}]}}'.encode()
    )


def x_delivery(second_text: str) -> bytes:
    def tweet(tweet_id: str, text: str) -> str:
        return f'{{"id_str": "{tweet_id}", "text": {text}, "user": {{"id_str": "33"}}}}'

    tweets = f"{tweet('101', json.dumps('visiting hours?'))}, {tweet('102', second_text)}"
    return f'{{"for_user_id": "15", "tweet_create_events": [{tweets}]}}'.encode()


@pytest.mark.parametrize(
    "odd",
    [DEEP, '{"a":' * 10_000 + "1" + "}" * 10_000, LONG, "-" + LONG, "1e400"],
    ids=["deep-array", "deep-object", "long-number", "long-negative", "huge-float"],
)
def test_an_odd_item_costs_only_itself(odd: str) -> None:
    meta = MetaConnector("secret", "token", "https://graph.example", page_id=PAGE_ID)
    with pytest.raises(PartlyMalformed) as found:
        meta.parse(meta_delivery(odd))
    assert [m.message_id for m in found.value.messages] == ["c_good"]
    assert [p.where for p in found.value.problems] == ["entry[0].changes[1].value.message"]
    x = XConnector("secret", "bearer", "https://api.example", account_id="15")
    with pytest.raises(PartlyMalformed) as found:
        x.parse(x_delivery(odd))
    assert [m.message_id for m in found.value.messages] == ["101"]
    assert len(found.value.problems) == 1


def test_what_python_reads_is_read_as_it_is_and_only_the_rest_is_clipped() -> None:
    nested = "[" * (MAX_DEPTH + 10) + "]" * (MAX_DEPTH + 10)
    assert load_json(nested.encode()) == json.loads(nested)
    clipped = load_json(DEEP.encode())
    for _ in range(MAX_DEPTH):
        assert isinstance(clipped, list)
        [clipped] = clipped
    assert isinstance(clipped, dict)  # the marker: an object no platform field matches


@pytest.mark.parametrize(
    "body",
    [b"", b"[" * 100, b"[" * 100 + b"}" * 100, b'{"a": "]"', b"\xff\xfe\xfd", b'{"a": 1} x'],
)
def test_what_is_not_json_stays_refused(body: bytes) -> None:
    with pytest.raises(ValueError, match="not valid JSON") as refused:
        load_json(body)
    assert refused.value.__cause__ is None


def test_brackets_inside_strings_are_text() -> None:
    body = '{"t": "[[[{{{\\"]]]", "n": [1, {"m": "}"}]}'
    assert load_json(body.encode()) == json.loads(body)
    assert load_json(b"\xef\xbb\xbf" + body.encode()) == json.loads(body)
    assert load_json(body.encode("utf-16")) == json.loads(body)
