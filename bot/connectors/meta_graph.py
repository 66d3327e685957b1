"""Reading Graph's own answers: error bodies, the read-back of an unanswered call, and
throttle headers.

Graph JSON is trusted no further than its shape: anything unexpected reads as absent.
"""

from __future__ import annotations

import json


def graph_data(node: dict[str, object]) -> list[dict[str, object]]:
    """The objects of a Graph list's `data`."""
    items = node.get("data")
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def as_object(value: object) -> dict[str, object]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def ours(item: dict[str, object], account: str, field: str, text: str) -> bool:
    """True when a read-back comment or message is ours and says `text`."""
    author = as_object(item.get("from")).get("id")
    said = item.get(field)
    return author == account and isinstance(said, str) and said.strip() == text


def regain_access_s(header: str | None) -> float | None:
    """Seconds until Graph lifts a throttle, from `X-Business-Use-Case-Usage`
    (`estimated_time_to_regain_access`, in minutes), when it says."""
    try:
        usage: object = json.loads(header) if header else None
    except (ValueError, RecursionError):
        return None
    minutes = [
        entry.get("estimated_time_to_regain_access")
        for entries in (usage.values() if isinstance(usage, dict) else ())
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    ]
    waits = [m for m in minutes if isinstance(m, int | float) and not isinstance(m, bool) and m > 0]
    return 60.0 * max(waits) if waits else None


def graph_error(raw: bytes) -> tuple[int | None, bool]:
    """The Graph error code and `is_transient` flag of an error body, when it has them."""
    try:
        payload: object = json.loads(raw)
    except (ValueError, RecursionError):
        return None, False
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return None, False
    code = error.get("code")
    valid_code = code if isinstance(code, int) and not isinstance(code, bool) else None
    return valid_code, error.get("is_transient") is True
