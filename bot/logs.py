"""Logging that is safe for PHI: access lines carry the route, never the query or the body."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse


class SafeAccessLogger(AbstractAccessLogger):
    """One structured line per request: method, route template, status and duration.

    The query string (a verification token, a CRC token, anything a client put there)
    and the path's own values (`/p/{token}`) are left out.
    """

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Write the access line."""
        match_info: Any = getattr(request, "match_info", None)
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


RUNNER_OPTIONS: dict[str, Any] = {
    "access_log_class": SafeAccessLogger,
    "access_log": logging.getLogger("triagebot.access"),
}
