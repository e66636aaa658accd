"""The built wheel installs one import root, `revocation`, beside the names it used to take.

A fresh virtual environment gets the wheel, PyPI's `entrypoints` package (which the old
top-level `entrypoints` broke) and a local package named `domain` (as the hexagonal apps that
mount our middleware have): all three import, and the library-mode example serves with the
installed package. The wheel's dependencies come from this test run's own environment (a path
line, not an install), so the test needs the package index only for `entrypoints`.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
import zipfile
from pathlib import Path

from tests.integration.servers import unavailable

REPO = Path(__file__).parents[2]

CHECK = textwrap.dedent(
    """
    import asyncio

    import entrypoints, domain, revocation, revocation.domain.model as model
    from litestar.testing import TestClient

    from orders_app import create_orders_app
    from revocation.entrypoints.containers import Container
    from revocation.entrypoints.settings import Settings

    assert entrypoints.get_group_all("no.such.group") == []  # PyPI's entrypoints works
    assert domain.WHOSE == "the team's own"
    assert "site-packages" in revocation.__file__, revocation.__file__
    assert model.parse_user_id("12345") == 12345

    settings = Settings.from_env({"REVOCATION_ENV": "development"})
    container = Container(settings=settings, in_memory=True)
    token = asyncio.run(container.issue_token()(user_id=7)).token
    with TestClient(app=create_orders_app(container)) as client:
        assert client.get("/orders").status_code == 401
        answer = client.get("/orders", headers={"Authorization": f"Bearer {token}"})
        assert answer.json()["user_id"] == 7, answer.text
    print("ok")
    """
)


def run(*command: str | Path, cwd: Path | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_wheel_imports_beside_entrypoints_and_a_domain_package(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, REPO)
    [wheel] = wheels.glob("token_revocation-*.whl")
    with zipfile.ZipFile(wheel) as contents:
        tops = {name.split("/")[0] for name in contents.namelist()}
    assert tops == {"revocation", wheel.name.split("-py3")[0] + ".dist-info"}

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", "--no-deps", wheel)
    fetched = subprocess.run(
        [python, "-m", "pip", "install", "-q", "entrypoints==0.4"], capture_output=True, check=False
    )
    if fetched.returncode != 0:
        unavailable("the package index is unreachable (pip install entrypoints==0.4)")
    # The dependencies: this run's site-packages as a plain path (its .pth files, the
    # editable install's among them, are not read from there).
    site = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip())
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")

    app = tmp_path / "app"
    (app / "domain").mkdir(parents=True)
    (app / "domain" / "__init__.py").write_text('WHOSE = "the team\'s own"\n')
    shutil.copy(REPO / "examples" / "library_app" / "app.py", app / "orders_app.py")
    (app / "check.py").write_text(CHECK)

    assert run(python, "check.py", cwd=app).strip().endswith("ok")
