"""The JSON shapes the staff, auth and FAQ APIs answer with, as pydantic models.

The OpenAPI document (bot/web/openapi.py) is generated from them, and the contract tests
(tests/bot/web/test_contract.py, bench/contract_fuzz.py) check every answer against it,
so a handler that drifts from its shape fails there.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from escalation.audit import AuditAction
from escalation.cases import Case, Note, Sender
from escalation.faq.store import DraftStatus, HistoryEntry
from escalation.staff import Role
from nlu.faq_versions import Notice, ScheduledAnswer


class TokenOut(BaseModel):
    """A staff bearer token and the role it acts with."""

    token: str
    role: Role


class PasswordChangedOut(BaseModel):
    """The password changed; every session and token of the user is revoked."""

    username: str
    logged_out: bool


class CasesOut(BaseModel):
    """Case metadata in queue order."""

    cases: list[Case]


class CaseOut(BaseModel):
    """One case's metadata after a change; `delivery` only for a reply."""

    case: Case
    # "sent" or "failed" on the person's platform; null when the private page shows it.
    delivery: Literal["sent", "failed"] | None = None


class ThreadMessageOut(BaseModel):
    """One message of a case's conversation, masked unless revealed."""

    sender: Sender
    author: str | None
    text: str
    at: float
    edited: bool


class CaseViewOut(BaseModel):
    """A case with its conversation and internal notes."""

    case: Case
    revealed: bool
    thread: list[ThreadMessageOut]
    notes: list[Note]


class AuditRowOut(BaseModel):
    """An audit entry as exported (time in ISO 8601 UTC)."""

    at: str
    actor: str
    action: AuditAction
    case_id: str | None
    detail: str | None


class AuditPageOut(BaseModel):
    """A page of the audit log, newest first; `next` is the `before` of the older page."""

    entries: list[AuditRowOut]
    next: str | None


class RoleOut(BaseModel):
    """A staff user's role after a change."""

    username: str
    role: Role


class IntentOut(BaseModel):
    """An FAQ intent: its answer and the examples that teach it."""

    answer: str
    examples: list[str]


class VersionOut(BaseModel):
    """An FAQ version's intents and scheduled answers."""

    version: str
    intents: dict[str, IntentOut]
    schedules: list[ScheduledAnswer]
    created_at: float
    author: str


class FaqOverviewOut(VersionOut):
    """The live FAQ version, the notice in force and the history of live versions."""

    notice: Notice | None
    history: list[HistoryEntry]


class DraftChangesOut(BaseModel):
    """What a draft changes against the version it was based on."""

    answers: dict[str, str]
    added_examples: dict[str, list[str]]
    removed_examples: dict[str, list[str]]
    new_intents: dict[str, IntentOut]
    removed_intents: list[str]
    # Present only when the draft changes the scheduled answers.
    schedules: list[ScheduledAnswer] | None = None


class DraftOut(BaseModel):
    """An FAQ draft with its changes and its evaluation so far."""

    id: str
    author: str
    reason: str
    status: DraftStatus
    base_version: str
    version: str
    created_at: float
    decided_by: str | None
    decided_at: float | None
    changes: DraftChangesOut
    evaluation: dict[str, object] | None


class DraftsOut(BaseModel):
    """FAQ drafts, newest first."""

    drafts: list[DraftOut]


class DraftOneOut(BaseModel):
    """One FAQ draft."""

    draft: DraftOut


class ApprovedOut(BaseModel):
    """An approved draft and the version now live."""

    draft: DraftOut
    version: str


class LiveVersionOut(BaseModel):
    """The FAQ version now live."""

    version: str


class PrivateMessageOut(BaseModel):
    """One message of the person's private conversation."""

    sender: Sender
    text: str
    at: float


class PrivateThreadOut(BaseModel):
    """The person's private conversation, oldest first."""

    messages: list[PrivateMessageOut]


class SentOut(BaseModel):
    """The person's message is kept in the case."""

    status: Literal["sent"]


class WebhookAckOut(BaseModel):
    """A delivery acknowledged: its messages recorded, unusable items named (never content)."""

    received: int
    new: int
    # Present only when items were skipped: each by place and reason.
    skipped: list[str] | None = None


class CrcOut(BaseModel):
    """The answer to X's challenge-response check."""

    response_token: str


class NoticeOut(BaseModel):
    """The notice in force, or null once withdrawn."""

    notice: Notice | None
