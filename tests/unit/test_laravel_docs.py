"""The PHP that docs/laravel.md shows is the PHP the integration test runs."""

from __future__ import annotations

import pytest

from tests.live_server import REPO

SHOWN = ["src/RevocationClient.php", "src/RevocationGuard.php", "src/Laravel/CheckRevocation.php"]


@pytest.mark.parametrize("path", SHOWN)
def test_the_guide_shows_the_tested_php_verbatim(path: str) -> None:
    code = (REPO / "examples" / "laravel" / path).read_text()
    assert f"```php\n{code}```" in (REPO / "docs" / "laravel.md").read_text()
