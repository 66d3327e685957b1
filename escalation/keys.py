"""Every Redis key name triagebot uses, in one place."""

from __future__ import annotations

PREFIX = "triage"
# Platforms retry webhooks for up to a day; remember ids for a week.
DEDUPE_TTL_S = 7 * 24 * 3600

# Stream of durable receipts (encrypted messages) consumed by the triage workers.
INBOX = f"{PREFIX}:inbox"
INBOX_GROUP = "triage-workers"


def seen(platform: str, message_id: str) -> str:
    """Set once when a platform message is first recorded (dedupe of redeliveries)."""
    return f"{PREFIX}:seen:{platform}:{message_id}"


def message_decision(channel: str, message_id: str) -> str:
    """The first Decision made for a message (no message text: types and offsets only)."""
    return f"{PREFIX}:msg:{channel}:{message_id}"


def message_latest(channel: str, message_id: str) -> str:
    """The Decision of the latest version of a message triaged (an edit makes a new one)."""
    return f"{PREFIX}:msg-latest:{channel}:{message_id}"


def edit_baseline(channel: str, version_id: str) -> str:
    """The Decision that stood when an edit was first decided: what it is compared with,
    the same on a redelivery or reclaim as the first time."""
    return f"{PREFIX}:msg-before:{channel}:{version_id}"


def actions(platform: str, message_id: str) -> str:
    """Hash of outbound action index -> pending / sent / failed:<status>."""
    return f"{PREFIX}:actions:{platform}:{message_id}"


# Cases
# One sorted set is the whole queue: priority rank first, then age (see cases.queue_score).
QUEUE = f"{PREFIX}:queue"
# Claimed cases by the moment their lease ends (ms).
LEASES = f"{PREFIX}:leases"
# Every case by creation time (ms): listing and retention.
CASES = f"{PREFIX}:cases"


def case(case_id: str) -> str:
    """Hash of one case: plain metadata fields and the encrypted `content`."""
    return f"{PREFIX}:case:{case_id}"


def case_thread(case_id: str) -> str:
    """List of the conversation's messages (each encrypted)."""
    return f"{PREFIX}:case:{case_id}:thread"


def case_notes(case_id: str) -> str:
    """List of internal staff notes (each encrypted)."""
    return f"{PREFIX}:case:{case_id}:notes"


def cases_with_status(status: str) -> str:
    """Sorted set of the cases in one status, by creation time (ms)."""
    return f"{PREFIX}:cases:{status}"


def case_for_message(channel: str, message_id: str) -> str:
    """The case opened for a message: a redelivery finds it instead of opening another."""
    return f"{PREFIX}:case-for:{channel}:{message_id}"


def case_for_person(fingerprint: str) -> str:
    """A person's latest case, by a keyed digest of channel and author id (never the id)."""
    return f"{PREFIX}:case-of:{fingerprint}"


# Private channel
def private_link(token_digest: str) -> str:
    """A private link's case id, by the SHA-256 of its token (the token is never stored)."""
    return f"{PREFIX}:plink:{token_digest}"


def message_link(channel: str, message_id: str) -> str:
    """The `private_link` key of the case an API message opened: a retry of that message
    gets a fresh link, and the one this names is revoked."""
    return f"{PREFIX}:plink-for:{channel}:{message_id}"


def private_link_guesses(client: str, minute: int) -> str:
    """Failed private-link lookups of one client in one minute (rate limit)."""
    return f"{PREFIX}:plink-guesses:{client}:{minute}"


# Staff
# Set of every staff username.
STAFF_USERS = f"{PREFIX}:staff:users"


def staff_user(username: str) -> str:
    """Hash of one staff account: role, disabled, created, password hash, generation."""
    return f"{PREFIX}:staff:user:{username}"


def staff_credentials(username: str) -> str:
    """Sorted set of the keys of a user's live tokens and sessions, by expiry (revoked at once)."""
    return f"{PREFIX}:staff:creds:{username}"


def staff_login_failures(digest: str) -> str:
    """Recent failed logins of one username from one client (by digest): throttling."""
    return f"{PREFIX}:staff:login-failures:{digest}"


def staff_login_address(digest: str) -> str:
    """Recent failed logins from one client address (by digest), whatever the usernames."""
    return f"{PREFIX}:staff:login-address:{digest}"


def staff_token(digest: str) -> str:
    """An API bearer token, named by the SHA-256 of the token (the token is never stored)."""
    return f"{PREFIX}:staff:token:{digest}"


def staff_session(digest: str) -> str:
    """A console session, named by the SHA-256 of the session id (the id is never stored)."""
    return f"{PREFIX}:staff:session:{digest}"


# Audit
# Append-only stream of staff actions; trimmed only by age (the retention setting).
AUDIT = f"{PREFIX}:audit"
# Repeated events counted instead of recorded one by one, by the end of their window.
AUDIT_REPEATS_DUE = f"{PREFIX}:audit:repeats-due"


def audit_repeats(group: str, window: int) -> str:
    """Hash of one counted event (actor, action, detail, count) for a group and window."""
    return f"{PREFIX}:audit:repeats:{group}:{window}"


# FAQ content under change control (public texts, stored in clear)
FAQ_LIVE = f"{PREFIX}:faq:live"  # the live version's name
FAQ_HISTORY = f"{PREFIX}:faq:history"  # list of live-version changes, newest first
FAQ_DRAFTS = f"{PREFIX}:faq:drafts"  # draft ids by creation time
FAQ_NOTICE = f"{PREFIX}:faq:notice"  # the notice in force (expires by itself)


def faq_version(version: str) -> str:
    """One kept version: canonical Rasa files and scheduled answers (JSON)."""
    return f"{PREFIX}:faq:version:{version}"


def faq_draft(draft_id: str) -> str:
    """One draft with its author, reason, proposal, decision and evaluation (JSON)."""
    return f"{PREFIX}:faq:draft:{draft_id}"


# Written before a WAIT so that the WAIT covers every write before it (bot/replication.py).
REPLICATION_PROBE = f"{PREFIX}:replication-probe"
