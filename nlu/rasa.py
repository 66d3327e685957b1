"""Intents from a Rasa server's NLU (`POST /model/parse`) instead of the built-in classifier.

Only the intent comes from Rasa: PHI detection and the safety signals stay triagebot's own,
so a Rasa model can never let a message through the gate. The engine is synchronous and
runs in a worker thread or process, so a blocking stdlib request with a timeout is enough.
A Rasa server that fails or answers nonsense turns into `nlu_fallback` guesses: the message
then gets the fallback reply or a human, never an exception.
"""

from __future__ import annotations

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from nlu.faq import FAQ_PREFIX, GUARD_CLASSES, FaqContent
from nlu.intents import FALLBACK
from nlu.models import IntentGuess

log = logging.getLogger("triagebot.nlu.rasa")
RETRIEVAL_INTENT = FAQ_PREFIX.rstrip("/")
DEFAULT_TIMEOUT_S = 5.0
_MAX_RESPONSE_BYTES = 1_000_000


class _Ranked(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)


class _SelectorRanked(BaseModel):
    model_config = ConfigDict(extra="ignore")

    intent_response_key: str | None = None
    confidence: float = Field(default=0.0, ge=0.0, le=1.0)


class _Selector(BaseModel):
    model_config = ConfigDict(extra="ignore")

    response: _SelectorRanked = Field(default_factory=_SelectorRanked)
    ranking: list[_SelectorRanked] = Field(default_factory=list)


class ParseResult(BaseModel):
    """The parts of Rasa's `/model/parse` answer that triagebot reads."""

    model_config = ConfigDict(extra="ignore")

    intent: _Ranked = Field(default_factory=_Ranked)
    intent_ranking: list[_Ranked] = Field(default_factory=list)
    response_selector: dict[str, _Selector | list[str]] = Field(default_factory=dict)

    def selector(self) -> _Selector | None:
        """The response selector of the `faq` retrieval intent (or Rasa's catch-all one)."""
        for name in (RETRIEVAL_INTENT, "default"):
            found = self.response_selector.get(name)
            if isinstance(found, _Selector):
                return found
        return None


class RasaIntents:
    """Maps Rasa's parse results onto FAQ keys, guard classes or `nlu_fallback`."""

    def __init__(
        self,
        content: FaqContent,
        url: str,
        threshold: float,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        """Talk to the Rasa server at `url` (e.g. http://rasa:5005); nothing is sent yet."""
        self.faq_keys = frozenset(content.intents)
        self.threshold = threshold
        self.endpoint = f"{url.rstrip('/')}/model/parse"
        self.timeout_s = timeout_s

    def predict_many(self, texts: Sequence[str]) -> list[IntentGuess]:
        """One parse request per text; after a failure the rest of the batch falls back.

        Skipping the rest bounds a dead or hanging server to one timeout per batch.
        """
        guesses: list[IntentGuess] = []
        healthy = True
        for text in texts:
            result = self._parse(text) if healthy else None
            healthy = result is not None
            guesses.append(self.to_guess(result) if result else IntentGuess(FALLBACK, 0.0))
        return guesses

    def predict(self, text: str) -> IntentGuess:
        """Classify one message."""
        return self.predict_many([text])[0]

    def to_guess(self, result: ParseResult) -> IntentGuess:
        """Our view of a parse result: FAQ keys for `faq/<key>`, guards kept, others fall back.

        A retrieval intent's probability is Rasa's confidence in `faq` times the response
        selector's confidence in the key.
        """
        selector = result.selector()
        ranking: dict[str, float] = {}
        for ranked in result.intent_ranking or [result.intent]:
            if ranked.name == RETRIEVAL_INTENT and selector is not None:
                for option in selector.ranking or [selector.response]:
                    key = self._label(option.intent_response_key)
                    if key is not None:
                        share = ranked.confidence * option.confidence
                        ranking[key] = max(ranking.get(key, 0.0), share)
            else:
                label = self._label(ranked.name)
                if label is not None:
                    ranking[label] = max(ranking.get(label, 0.0), ranked.confidence)
        ordered = tuple(
            (name, round(p, 4)) for name, p in sorted(ranking.items(), key=lambda kv: -kv[1])
        )
        # Rasa's own top intent decides: when it is not one of ours (an intent of the
        # assistant, or Rasa's nlu_fallback) the runner-up must not be answered instead.
        top = result.intent.name
        if top == RETRIEVAL_INTENT and selector is not None:
            top = selector.response.intent_response_key
        label = self._label(top)
        if label is None:
            return IntentGuess(FALLBACK, round(result.intent.confidence, 4), ordered)
        confidence = dict(ordered).get(label, round(result.intent.confidence, 4))
        return IntentGuess(label if confidence >= self.threshold else FALLBACK, confidence, ordered)

    def _label(self, name: str | None) -> str | None:
        """`faq/parking`, `parking` -> `parking`; guards as they are; anything else is unknown."""
        if name is None:
            return None
        key = name.removeprefix(FAQ_PREFIX)
        if key in self.faq_keys:
            return key
        return name if name in GUARD_CLASSES else None

    def _parse(self, text: str) -> ParseResult | None:
        body = json.dumps({"text": text}).encode()
        request = urllib.request.Request(  # noqa: S310 - the URL is ours, from settings
            self.endpoint,
            data=body,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:  # noqa: S310
                raw = response.read(_MAX_RESPONSE_BYTES + 1)
            if len(raw) > _MAX_RESPONSE_BYTES:
                raise ValueError("response too large")
            return ParseResult.model_validate_json(raw)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            # Never the text, nor the response (Rasa echoes the text in it).
            status = exc.code if isinstance(exc, urllib.error.HTTPError) else None
            log.warning(
                "rasa parse failed",
                extra={
                    "error": type(exc).__name__,
                    "status": status,
                    "elapsed_ms": round((time.perf_counter() - started) * 1000),
                },
            )
            return None
