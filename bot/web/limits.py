"""What a slow client may hold: a deadline for a request's body.

The deadline for headers is the server's (`bot.serve.server_options`): aiohttp closes a
connection still waiting for a complete request `keepalive_timeout` after it opened or
after its last answer, however many bytes trickle in meanwhile.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot.web.errors import Handler, problem


def body_deadline(timeout_s: float) -> Middleware:
    """Read every request body before its handler runs, within `timeout_s` (408 after).

    aiohttp keeps the body it read, so handlers read it again for free; a client that
    sends its body a byte at a time holds a connection for `timeout_s` at most.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.body_exists:
            try:
                async with asyncio.timeout(timeout_s):
                    await request.read()
            except TimeoutError:
                refused = problem(web.HTTPRequestTimeout, "the request body came too slowly")
                refused.force_close()
                raise refused from None
        return await handler(request)

    return middleware
