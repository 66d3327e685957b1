"""SpelledEmailRecognizer: an address written with "at" and "dot" in words."""

from __future__ import annotations

import pytest

from nlu.phi.recognizers.spelled_email import SpelledEmailRecognizer

RECOGNIZER = SpelledEmailRecognizer()

MUST_MATCH = [
    "my email is jsmith at gmail dot com, send me the forms",
    "write me at maria.lopez (at) yahoo (dot) com",
    "reach me: tom_r [at] outlook [dot] com",
    "mi correo es ruiz arroba hotmail punto com",
    "email me at jo at riverside-family dot org",
]
MUST_NOT_MATCH = [
    "look at google dot com for info",
    "we met at noon dot com was down",
    "my email is jsmith@gmail.com",  # a plain address: the email recognizer's
    "i'm at the clinic now",
]


@pytest.mark.parametrize("text", MUST_MATCH)
def test_a_spelled_out_address_is_found(text: str) -> None:
    assert len(RECOGNIZER.analyze(text, ["EMAIL_ADDRESS"])) == 1


@pytest.mark.parametrize("text", MUST_NOT_MATCH)
def test_websites_and_plain_addresses_are_left_alone(text: str) -> None:
    assert RECOGNIZER.analyze(text, ["EMAIL_ADDRESS"]) == []
