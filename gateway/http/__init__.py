"""The gateway's HTTP server (aiohttp). `build_app(runtime)` makes the application; the API,
webhook and status-page routes are added to it by their own modules."""

from gateway.http.app import RUNTIME, build_app

__all__ = ["RUNTIME", "build_app"]
