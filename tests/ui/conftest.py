"""
Registries and servers for the web UI's tests: the demo's registry plus a model with long
metric histories and one whose every text is hostile, served by uvicorn on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("starlette", reason="the web UI needs the ui extra: pip install -e '.[ui]'")
pytest.importorskip("sklearn", reason="the demo needs scikit-learn: pip install -e '.[demo]'")

import eventreg  # noqa: E402
import eventreg.ui  # noqa: E402
from eventreg.ui._server import BackgroundServer  # noqa: E402

#: a name that is HTML, quotes and right-to-left text at once (names may not hold "/")
HOSTILE = "<img src=x onerror=alert(1)> \"q' & نموذج"
#: a 10k-character note that is a script
HOSTILE_NOTE = "<script>alert('note')</script> ‮evil " + "x" * 10_000
LOSS_POINTS = 12_000
ACC_POINTS = 120


def build(folder: Path) -> dict[str, Any]:
    """
    The demo's registry in ``folder`` plus the ``charts`` and hostile models; what the
    tests need to know about it.
    """
    from eventreg.demo import run

    url, artifacts = f"sqlite:///{folder / 'ui.db'}", f"file://{folder / 'artifacts'}"
    demo = run(url=url, artifacts=artifacts, actor="ana")
    with eventreg.open(url, artifacts=artifacts, actor="bo") as reg:
        numbers = []
        for lr in (0.1, 0.01):
            with reg.start_run("charts", name=f"lr {lr}") as active:
                active.log_params({"lr": lr, "optimizer": "adam"})
                with active.metric_buffer() as buffer:
                    for step in range(LOSS_POINTS):
                        buffer.log_metric("loss", lr / (step + 1) + (5.0 if step == 7777 else 0.0), step=step)
                    for step in range(ACC_POINTS):
                        buffer.log_metric("acc", step / ACC_POINTS, step=step)
            if not numbers:
                reg.create_model("charts", description="two learning rates")
            numbers.append(reg.register_version("charts", run=active.info.id, label=f"lr-{lr}").version)
        with reg.start_run("hostile") as active:
            active.log_params({"<script>alert('p')<script>": "\"'><b>bold</b></td>", "rtl": "مرحبا بالعالم"})
        reg.create_model(HOSTILE, description=HOSTILE_NOTE, tags={"<i>tag<i>": "</td><script>x()</script>"})
        reg.register_version(HOSTILE, run=active.info.id, description=HOSTILE_NOTE)
        reg.promote(HOSTILE, 1, alias="prod", reason="<script>alert('why')</script>")
        return {"url": url, "artifacts": artifacts, "demo": demo, "charts": numbers,
                "before_rollback": demo["rollback"].position - 1, "head": reg.head()}


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build(tmp_path_factory.mktemp("ui-registry"))


@pytest.fixture(scope="session")
def registry(built: dict[str, Any]) -> Iterator[Any]:
    with eventreg.open(built["url"], artifacts=built["artifacts"], actor="viewer") as reg:
        yield reg


@pytest.fixture(scope="session")
def server(registry: Any) -> Iterator[BackgroundServer]:
    with BackgroundServer(eventreg.ui.app(registry)) as running:
        yield running
