"""Security headers on every answer: pages, JSON, errors and redirects alike.

Pages that hold PHI or credentials add their own, stricter ones (`auth.page_headers`,
a CSP with the page's nonce); what they set is kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

# No page of ours is framed, and an answer without a page of its own (JSON, a redirect,
# an error) loads nothing.
_ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
}
# A year, as the HSTS preload list asks. Sent only with Secure cookies, which say the
# service is reached over HTTPS: a development host pinned to HTTPS (once reached through
# a TLS proxy, say) would be locked out of its plain-http set-up.
HSTS = "max-age=31536000; includeSubDomains"

ResponseHook = Callable[[web.Request, web.StreamResponse], Awaitable[None]]


def security_headers(*, hsts: bool) -> ResponseHook:
    """An `on_response_prepare` hook that adds the headers every answer carries."""
    headers = _ALWAYS | ({"Strict-Transport-Security": HSTS} if hsts else {})

    async def add(request: web.Request, response: web.StreamResponse) -> None:
        for name, value in headers.items():
            response.headers.setdefault(name, value)

    return add
