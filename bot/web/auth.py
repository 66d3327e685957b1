"""Who is asking: staff bearer tokens, roles and login throttling for the staff routes.

Shared by the staff API and the console so both check the same things the same way.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from aiohttp import web

from bot.appkeys import AUDIT, REDIS, STAFF
from bot.web.errors import problem
from escalation import keys
from escalation.cases import CaseError
from escalation.staff import AuthError, Role, StaffUser

# Who may work cases, read the audit log, and manage access.
CASE_ROLES: tuple[Role, ...] = ("agent", "admin")
AUDIT_ROLES: tuple[Role, ...] = ("compliance", "admin")
ADMIN_ROLES: tuple[Role, ...] = ("admin",)
# Failed logins allowed per username and client in a 5-minute window: argon2 already makes
# each guess slow, this stops a patient script.
LOGIN_FAILURES_ALLOWED = 10
_LOGIN_WINDOW_S = 300


@contextmanager
def case_errors() -> Iterator[None]:
    """Translate CaseError (404 no such case, 409 held by another / resolved) to HTTP."""
    try:
        yield
    except CaseError as exc:
        status = web.HTTPNotFound if exc.status == 404 else web.HTTPConflict
        raise problem(status, str(exc)) from None


def require_role(user: StaffUser, roles: Sequence[Role]) -> StaffUser:
    """The user, if their role is one of `roles`; 403 otherwise."""
    if user.role not in roles:
        raise problem(web.HTTPForbidden, "your role does not allow this")
    return user


async def bearer_user(request: web.Request, roles: Sequence[Role]) -> StaffUser:
    """The staff user of the request's bearer token, with one of `roles` (401 / 403)."""
    given = request.headers.get("Authorization", "")
    token = given.removeprefix("Bearer ").strip() if given.startswith("Bearer ") else ""
    # Resolved on every request: a disabled user or a changed role fails at once.
    user = await request.app[STAFF].resolve_token(token) if token else None
    if user is None:
        raise problem(web.HTTPUnauthorized, "missing, expired or revoked token")
    return require_role(user, roles)


def client_of(request: web.Request) -> str:
    """The client address the rate limits count by."""
    return request.remote or "unknown"


def _login_failures_key(username: str, client: str) -> str:
    # Username and address identify people: only a digest goes into the key name.
    digest = hashlib.sha256(f"{username}\x00{client}".encode()).hexdigest()[:24]
    return keys.staff_login_failures(digest)


async def login(request: web.Request, username: str, password: str, *, via: str) -> StaffUser:
    """Check a username and password, audited either way; AuthError on any failure.

    Too many failures for one username from one client are refused without a check.
    """
    redis, audit = request.app[REDIS], request.app[AUDIT]
    counter = _login_failures_key(username, client_of(request))
    failures = await redis.get(counter)
    # An unknown or malformed username is recorded under a fixed actor, never as typed.
    actor = username if await request.app[STAFF].get(username) is not None else "unknown"
    if failures is not None and int(failures) >= LOGIN_FAILURES_ALLOWED:
        await audit.record(actor, "login_failed", detail=f"{via}:throttled")
        raise AuthError
    try:
        user = await request.app[STAFF].authenticate(username, password)
    except AuthError:
        async with redis.pipeline(transaction=True) as pipe:
            pipe.incr(counter)
            pipe.expire(counter, _LOGIN_WINDOW_S)
            await pipe.execute()
        await audit.record(actor, "login_failed", detail=via)
        raise
    await redis.delete(counter)
    await audit.record(user.username, "login", detail=via)
    return user


def page_headers(nonce: str | None = None) -> dict[str, str]:
    """Headers for pages that hold PHI or credentials: never cached, no referrer, strict CSP.

    With a nonce, the page's own inline script and style run and nothing else does.
    """
    csp = (
        "default-src 'none'; connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    if nonce is not None:
        csp += f"; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'"
    return {
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Content-Security-Policy": csp,
    }
