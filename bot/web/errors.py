"""The service's one JSON error shape, and the middleware that maps failures to it.

Every error body is `{"error": "<short text>"}`; it never carries the request body, so
no PHI a client sent can come back in an error or a log.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Collection

from aiohttp import web
from aiohttp.typedefs import Middleware
from pydantic import ValidationError
from redis.exceptions import RedisError

from bot.batcher import Overloaded
from bot.nlp_pool import NlpUnavailable
from bot.outages import Episodes, storage_failure
from bot.replication import NotReplicated

log = logging.getLogger("triagebot.http")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def problem(
    status: type[web.HTTPException], detail: str, headers: dict[str, str] | None = None
) -> web.HTTPException:
    """An HTTP error with a JSON `{"error": detail}` body (detail never holds user input)."""
    return status(
        text=json.dumps({"error": detail}), content_type="application/json", headers=headers
    )


def busy(detail: str, retry_after_s: int = 1) -> web.HTTPException:
    """503 with `Retry-After`: a client should try again shortly."""
    return problem(web.HTTPServiceUnavailable, detail, {"Retry-After": str(retry_after_s)})


def _where(loc: tuple[int | str, ...], known: Collection[str]) -> str:
    """The invalid field's name when it is one of ours; a client's own keys are never echoed."""
    parts = [str(p) for p in loc if isinstance(p, int) or p in known]
    return ".".join(parts) if len(parts) == len(loc) and parts else "body"


def error_middleware(known_fields: Collection[str]) -> Middleware:
    """Map every failure to a short JSON error; a validation error names a field only when
    it is one of `known_fields`. Never echoes the request body."""
    known = frozenset(known_fields)
    # Under an outage every request fails alike: a line per request would flood the log.
    outages = Episodes(log)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.content_type == "application/json" or exc.status < 400:
                raise
            # aiohttp's own errors (404, 405, 413…) as JSON too, with their status and the
            # headers that say what to do instead (a 405's Allow).
            kept = {k: exc.headers[k] for k in ("Allow", "Retry-After") if k in exc.headers}
            return web.json_response({"error": exc.reason}, status=exc.status, headers=kept)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = _where(tuple(first["loc"]), known)
            if first["type"] == "json_invalid":
                raise problem(web.HTTPBadRequest, "body is not valid JSON") from None
            # pydantic's message can quote the input; keep only its type.
            detail = f"{where}: invalid ({first['type']})"
            raise problem(web.HTTPUnprocessableEntity, detail) from None
        except Overloaded:
            raise busy("too many messages waiting; retry shortly") from None
        except NlpUnavailable:
            raise busy("the message could not be analysed now; retry later") from None
        except NotReplicated:
            # Recorded, but a failover now could lose it: the retry is deduplicated.
            outages.occurred(
                "redis_not_replicated",
                "replicas behind; answering 503 until they catch up (logged once an episode)",
                path=request.path,
            )
            raise busy("storage not yet replicated; retry shortly") from None
        except RedisError as exc:
            failure = storage_failure(exc)
            if failure is None:
                log.exception("unhandled error on %s %s", request.method, request.path)
                raise problem(web.HTTPInternalServerError, "internal error") from None
            kind, retry_after_s = failure
            outages.occurred(
                kind,
                "storage unavailable; answering 503 until it recovers (logged once an episode)",
                path=request.path,
                error=type(exc).__name__,
            )
            raise busy("storage temporarily unavailable; retry shortly", retry_after_s) from None
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.path)
            raise problem(web.HTTPInternalServerError, "internal error") from None

    return middleware
