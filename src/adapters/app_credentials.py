"""The internal callers' app id and key, from settings."""

from __future__ import annotations

import hmac


class StaticAppCredentials:
    """One configured pair, compared in constant time on UTF-8 bytes.

    `hmac.compare_digest` raises on non-ASCII `str`, and a caller controls what it sends.
    """

    def __init__(self, app_id: str, app_key: str) -> None:
        self._app_id = app_id.encode()
        self._app_key = app_key.encode()

    def matches(self, app_id: str, app_key: str) -> bool:
        id_ok = hmac.compare_digest(app_id.encode("utf-8", "surrogatepass"), self._app_id)
        key_ok = hmac.compare_digest(app_key.encode("utf-8", "surrogatepass"), self._app_key)
        return id_ok & key_ok  # both compared, always: no early exit on a wrong id
