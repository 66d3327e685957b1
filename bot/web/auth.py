"""Who is asking: staff bearer tokens, roles and login throttling for the staff routes.

Shared by the staff API and the console so both check the same things the same way.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from aiohttp import web

from bot.appkeys import AUDIT, REDIS, SETTINGS, STAFF
from bot.web.errors import problem
from escalation import keys
from escalation.cases import CaseError
from escalation.private import give_back_attempt, reserve_attempt
from escalation.staff import AuthError, Role, StaffUser

# Who may work cases, read the audit log, and manage access.
CASE_ROLES: tuple[Role, ...] = ("agent", "admin")
# Who may read, reveal and note a case: compliance reviews the cases the audit log names,
# without listing or working them.
# A case another agent holds is revealed or noted only by the holder, admins and
# compliance, or with a break-glass reason (escalation.cases.break_glass).
CASE_REVIEW_ROLES: tuple[Role, ...] = ("agent", "admin", "compliance")
AUDIT_ROLES: tuple[Role, ...] = ("compliance", "admin")
ADMIN_ROLES: tuple[Role, ...] = ("admin",)
# Failed logins allowed per username and client in a 5-minute window: argon2 already makes
# each guess slow, this stops a patient script.
LOGIN_FAILURES_ALLOWED = 10
_LOGIN_WINDOW_S = 300


class TooManyLogins(Exception):
    """The client address has failed too many logins this window (answered with 429)."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__("too many failed logins from this address; retry later")
        self.retry_after_s = retry_after_s


@contextmanager
def case_errors() -> Iterator[None]:
    """Translate CaseError (404 no such case, 403 a break-glass reason needed, 409 held by
    another / resolved) to HTTP."""
    try:
        yield
    except CaseError as exc:
        status = {404: web.HTTPNotFound, 403: web.HTTPForbidden}.get(exc.status, web.HTTPConflict)
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
    """The client address the rate limits count by.

    The direct peer, unless it is a trusted proxy: then the rightmost address of
    X-Forwarded-For that is not a trusted proxy (what is left of it anyone can write).
    """
    peer = request.remote or "unknown"
    proxies = request.app[SETTINGS].trusted_proxies
    if not proxies or not _is_proxy(peer, proxies):
        return peer
    forwarded = ",".join(request.headers.getall("X-Forwarded-For", ()))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_proxy(hop, proxies):
            return hop[:64]
    return hops[0][:64] if hops else peer


def _is_proxy(
    address: str, proxies: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def _login_digest(username: str, client: str) -> str:
    # Username and address identify people: only a digest goes into key names.
    return hashlib.sha256(f"{username}\x00{client}".encode()).hexdigest()[:24]


def _address_digest(client: str) -> str:
    return hashlib.sha256(f"address\x00{client}".encode()).hexdigest()[:24]


async def _reserve_address(request: web.Request, client: str, via: str) -> str:
    """Count one attempt from the client address; TooManyLogins past its allowance.

    Refused before anything else, the password least of all: a burst from one address
    across usernames costs one Redis step a try, not a hash.
    """
    redis, audit = request.app[REDIS], request.app[AUDIT]
    digest = _address_digest(client)
    counter = keys.staff_login_address(digest)
    if await reserve_attempt(redis, counter, _LOGIN_WINDOW_S) > (
        request.app[SETTINGS].login_failures_per_address
    ):
        detail = f"{via}:address-throttled src={digest[:12]}"
        await audit.count_repeat("unknown", "login_failed", detail, digest, _LOGIN_WINDOW_S)
        raise TooManyLogins(max(1, int(await redis.ttl(counter))))
    return digest


async def login(request: web.Request, username: str, password: str, *, via: str) -> StaffUser:
    """Check a username and password, audited either way; AuthError on any failure,
    TooManyLogins when the client address is over its allowance.

    Each attempt takes a numbered place in the window of its client address and in that
    of its username and address before its password is checked; past either allowance it
    is refused without a check. A success gives its places back.
    """
    redis, audit = request.app[REDIS], request.app[AUDIT]
    client = client_of(request)
    address = await _reserve_address(request, client, via)
    digest = _login_digest(username, client)
    counter = keys.staff_login_failures(digest)
    attempt = await reserve_attempt(redis, counter, _LOGIN_WINDOW_S)
    # An unknown or malformed username is recorded under a fixed actor, never as typed.
    actor = username if await request.app[STAFF].get(username) is not None else "unknown"
    if attempt > LOGIN_FAILURES_ALLOWED:
        # Counted, and recorded once per user, address and window with the count.
        detail = f"{via}:throttled src={digest[:12]}"
        await audit.count_repeat(actor, "login_failed", detail, digest, _LOGIN_WINDOW_S)
        raise AuthError
    try:
        user = await request.app[STAFF].authenticate(username, password, queue=address)
    except AuthError:
        await audit.record(actor, "login_failed", detail=via)
        raise
    await redis.delete(counter)
    await give_back_attempt(redis, keys.staff_login_address(address))
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
