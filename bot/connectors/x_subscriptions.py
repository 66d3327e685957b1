"""X Activity API subscriptions: the ones the bot needs for its account, each made once.

`GET /2/activity/subscriptions` lists what the app has; `POST` creates one event type for one
user, delivered to a webhook; `PUT …/{id}` moves one to another webhook (docs.x.com:
x-api/activity/quickstart). Mentions, replies, quotes and DMs are private events: the token
must be the account's OAuth 2.0 user token, which is the one the bot already posts with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from aiohttp import ClientError, ClientSession, ClientTimeout
from pydantic import Field, ValidationError

from bot.connectors.x_activity import TRIAGED_EVENTS, XObject

_ID = re.compile(r"[0-9]{1,20}")  # used with fullmatch
_TAG = "triagebot"
_MAX_PAGES = 100  # 1,000 a page: far past any tier's subscription limit


class XApiError(Exception):
    """A subscription call failed: the HTTP status (None: no answer) and X's short reason."""

    def __init__(self, status: int | None, detail: str) -> None:
        super().__init__(f"{status}: {detail}" if status is not None else detail)
        self.status = status


class _Filter(XObject):
    user_id: str | None = None


class Subscription(XObject):
    """One XAA subscription as X lists it."""

    subscription_id: str = Field(pattern=r"^[0-9]{1,20}$")
    event_type: str = ""
    filter: _Filter = Field(default_factory=_Filter)
    webhook_id: str | None = None
    tag: str | None = None


class _Meta(XObject):
    next_token: str | None = None


class _Page(XObject):
    data: list[Subscription] = Field(default_factory=list)
    meta: _Meta = Field(default_factory=_Meta)


class _Wrapped(XObject):
    subscription: Subscription


class _Created(XObject):
    # X's docs show three shapes for this answer (two quickstart samples, the OpenAPI schema).
    data: Subscription | list[Subscription] | _Wrapped | None = None

    def subscription_id(self) -> str | None:
        data = self.data
        if isinstance(data, list):
            return data[0].subscription_id if data else None
        if isinstance(data, _Wrapped):
            return data.subscription.subscription_id
        return data.subscription_id if data is not None else None


class _Problem(XObject):
    title: str | None = None
    detail: str | None = None
    message: str | None = None


class _ErrorBody(XObject):
    title: str | None = None
    detail: str | None = None
    errors: list[_Problem] = Field(default_factory=list)

    def reason(self) -> str:
        first = self.errors[0] if self.errors else _Problem()
        text = self.detail or self.title or first.detail or first.message or first.title or ""
        # X's words about our request, cut short and kept on one line.
        return re.sub(r"[\x00-\x1f\x7f]+", " ", text)[:200]


def _problem(answer: object) -> _ErrorBody:
    try:
        return _ErrorBody.model_validate(answer)
    except ValidationError:
        return _ErrorBody()


Action = Literal["exists", "created", "moved", "would create", "would move"]


@dataclass(frozen=True)
class Outcome:
    """What `ensure` did, or would do, for one event type."""

    event_type: str
    action: Action
    subscription_id: str | None


class ActivitySubscriptions:
    """XAA subscriptions of one app, through one token."""

    def __init__(self, api_url: str, token: str, timeout_s: float = 15.0) -> None:
        if not token:
            raise ValueError("an X OAuth 2.0 user token is needed (TRIAGE_X_BEARER_TOKEN)")
        self._api_url = api_url.rstrip("/")
        self._token = token
        self._timeout = ClientTimeout(total=timeout_s)

    def __repr__(self) -> str:
        return f"ActivitySubscriptions(api_url={self._api_url!r})"

    async def existing(self, session: ClientSession) -> list[Subscription]:
        """Every subscription of the app, following pages when X gives a next token."""
        found: list[Subscription] = []
        params = {"max_results": "1000"}
        for _ in range(_MAX_PAGES):
            page = await self._call(session, "GET", "/activity/subscriptions", params=params)
            try:
                parsed = _Page.model_validate(page)
            except ValidationError:
                raise XApiError(None, "X listed subscriptions in an unexpected shape") from None
            found.extend(parsed.data)
            if not parsed.meta.next_token:
                return found
            params = {**params, "pagination_token": parsed.meta.next_token}
        raise XApiError(None, "X kept paging the subscription list")

    async def ensure(
        self,
        session: ClientSession,
        user_id: str,
        webhook_id: str,
        event_types: tuple[str, ...] = TRIAGED_EVENTS,
        dry_run: bool = False,
    ) -> list[Outcome]:
        """Create or move what is missing so each event type reaches `webhook_id` once."""
        if not _ID.fullmatch(user_id) or not _ID.fullmatch(webhook_id):
            raise ValueError("the X account id and webhook id must be numeric ids")
        existing = await self.existing(session)
        outcomes = []
        for event_type in event_types:
            mine = [
                s for s in existing if s.event_type == event_type and s.filter.user_id == user_id
            ]
            delivered = next((s for s in mine if s.webhook_id == webhook_id), None)
            if delivered is not None:
                outcomes.append(Outcome(event_type, "exists", delivered.subscription_id))
            elif mine:  # delivered elsewhere (another webhook, or the stream only)
                sub_id = mine[0].subscription_id
                if not dry_run:
                    body = {"webhook_id": webhook_id}
                    await self._call(session, "PUT", f"/activity/subscriptions/{sub_id}", body)
                outcomes.append(Outcome(event_type, "would move" if dry_run else "moved", sub_id))
            elif dry_run:
                outcomes.append(Outcome(event_type, "would create", None))
            else:
                created = await self._create(session, event_type, user_id, webhook_id)
                outcomes.append(Outcome(event_type, "created", created))
        return outcomes

    async def _create(
        self, session: ClientSession, event_type: str, user_id: str, webhook_id: str
    ) -> str | None:
        body = {
            "event_type": event_type,
            "filter": {"user_id": user_id},
            "tag": _TAG,
            "webhook_id": webhook_id,
        }
        answer = await self._call(session, "POST", "/activity/subscriptions", body)
        try:
            created = _Created.model_validate(answer).subscription_id()
        except ValidationError:
            created = None
        if created is None:
            # The answer's schema allows `errors` instead of `data`, even with a 2xx.
            problem = _problem(answer)
            if problem.errors:
                raise XApiError(None, problem.reason() or f"{event_type} was not created")
        return created  # None: created (2xx) with an answer we cannot read

    async def _call(
        self,
        session: ClientSession,
        method: str,
        path: str,
        body: Mapping[str, object] | None = None,
        params: dict[str, str] | None = None,
    ) -> object:
        try:
            async with session.request(
                method,
                self._api_url + path,
                json=body,
                params=params,
                headers={"Authorization": f"Bearer {self._token}"},
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                status = response.status
                raw = await response.read()
        except (ClientError, TimeoutError) as exc:
            raise XApiError(None, f"X did not answer: {type(exc).__name__}") from None
        try:
            answer = json.loads(raw) if raw else None
        except ValueError:  # not JSON, or not UTF-8
            answer = None
        if not 200 <= status < 300:
            reason = _problem(answer).reason()
            raise XApiError(status, reason or f"{method} {path} was refused")
        return answer
