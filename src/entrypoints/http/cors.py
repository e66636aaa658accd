"""CORS for browser clients (the spec's `logout()` example calls us from a web page)."""

from __future__ import annotations

from collections.abc import Sequence

from litestar.config.cors import CORSConfig

# The bearer token travels in a header, never in a cookie, so no credentials mode is needed,
# and a page can't make the browser send anything the caller didn't put there itself.
ALLOWED_METHODS = ["GET", "POST", "DELETE", "OPTIONS"]
ALLOWED_HEADERS = ["Authorization", "Content-Type"]
PREFLIGHT_CACHE_SECONDS = 600


def cors_config(allowed_origins: Sequence[str]) -> CORSConfig | None:
    """None (CORS off: browsers refuse cross-origin calls) unless origins are configured."""
    if not allowed_origins:
        return None
    return CORSConfig(
        allow_origins=list(allowed_origins),
        allow_methods=ALLOWED_METHODS,  # type: ignore[arg-type]
        allow_headers=ALLOWED_HEADERS,
        allow_credentials=False,
        max_age=PREFLIGHT_CACHE_SECONDS,
    )
