"""Logging that is safe for PHI: access lines carry the route, never the query or the body."""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

from aiohttp.abc import AbstractAccessLogger
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web import BaseRequest, StreamResponse


class SafeAccessLogger(AbstractAccessLogger):
    """One structured line per request: method, route template, status and duration.

    The query string (a verification token, a CRC token, anything a client put there)
    and the path's own values (`/p/{token}`) are left out.
    """

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Write the access line."""
        try:
            match_info: Any = getattr(request, "match_info", None)
        except AssertionError:  # a request refused before routing (a malformed header)
            match_info = None
        route = getattr(getattr(match_info, "route", None), "resource", None)
        path = route.canonical if route is not None else "(unmatched)"
        self.logger.info(
            "%s %s %s %.1fms",
            request.method,
            path,
            response.status,
            time * 1000,
            extra={"method": request.method, "route": path, "status": response.status},
        )


class SafeServerLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server log, minus the raw request lines its parser errors quote.

    A malformed request's error holds the offending line (a header with a bearer token,
    a request line with a private link): only its type and status are logged.
    """

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        """Replace a parser error's traceback and text by its type and status."""
        exc = kwargs.get("exc_info")
        if exc is True:
            exc = sys.exc_info()[1]
        if isinstance(exc, HttpProcessingError):
            kwargs["exc_info"] = None
            msg = f"{msg} ({type(exc).__name__}, status {exc.code})"
        return msg, kwargs


RUNNER_OPTIONS: dict[str, Any] = {
    "access_log_class": SafeAccessLogger,
    "access_log": logging.getLogger("triagebot.access"),
    "logger": SafeServerLog(logging.getLogger("aiohttp.server")),
}
