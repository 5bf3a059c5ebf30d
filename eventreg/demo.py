"""
``eventreg demo``: the seed's story end to end, printed as it happens.

Trains two RandomForest classifiers on sklearn's iris data, logs each as a run (the
``n_estimators`` param, the ``accuracy`` metric and the model itself), registers both as
versions of the model ``iris``, promotes them to ``production`` one after the other,
rolls ``production`` back, shows the history and verifies the log. Everything goes
through the public API, into ``./eventreg.db`` and ``./eventreg-artifacts`` unless told
otherwise, and it can be run again in the same folder (it then adds two more versions).
"""

from __future__ import annotations

from typing import Any

import eventreg
from eventreg.config import redact_url
from eventreg.errors import AlreadyExists, MissingDriver

MODEL = "iris"
EXPERIMENT = "iris_classifier_project"
ALIAS = "production"


def _train(n_estimators: int, max_depth: int | None) -> tuple[Any, float]:
    """
    Fit a RandomForest on 70% of iris; return it and its accuracy on the other 30%.
    """
    try:
        from sklearn.datasets import load_iris
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.metrics import accuracy_score
        from sklearn.model_selection import train_test_split
    except ImportError as e:
        raise MissingDriver("the demo needs scikit-learn: pip install 'eventreg[demo]'") from e
    features, labels = load_iris(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        features, labels, test_size=0.3, random_state=42)
    model = RandomForestClassifier(n_estimators=n_estimators, max_depth=max_depth, random_state=42)
    model.fit(x_train, y_train)
    return model, float(accuracy_score(y_test, model.predict(x_test)))


class _Say:
    """
    Prints the demo's narration on a rich console, or nothing (``--json``).
    """

    def __init__(self, console: Any) -> None:
        self.console = console
        self.step = 0

    def __call__(self, text: str) -> None:
        if self.console is not None:
            self.step += 1
            self.console.print(f"\n[bold]{self.step}.[/bold] {text}")

    def detail(self, text: str) -> None:
        if self.console is not None:
            self.console.print(f"   {text}")

    def table(self, table: Any) -> None:
        if self.console is not None:
            self.console.print(table)


def _train_and_log(reg: Any, say: _Say, n_estimators: int, max_depth: int | None) -> tuple[str, float]:
    say(f"Train a RandomForest on iris (n_estimators={n_estimators}"
        + (f", max_depth={max_depth}" if max_depth else "") + ") and log it as a run")
    model, accuracy = _train(n_estimators, max_depth)
    with reg.start_run(experiment=EXPERIMENT) as run:
        run.log_param("n_estimators", n_estimators)
        if max_depth:
            run.log_param("max_depth", max_depth)
        run.log_metric("accuracy", accuracy)
        run.log_model(model, "model")
    say.detail(f"accuracy {accuracy:.3f}; run {run.id} in experiment {EXPERIMENT!r} "
               "(params, metric and the pickled model, stored by sha256)")
    return run.id, accuracy


def _table(title: str, headers: tuple[str, ...], rows: list[tuple[Any, ...]]) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(title), title_justify="left")
    for header in headers:
        table.add_column(header)
    for row in rows:
        table.add_row(*(Text("" if cell is None else str(cell)) for cell in row))
    return table


def _when(moment: Any) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment is not None else ""


def run(url: str | None = None, artifacts: str | None = None, actor: str | None = None,
        console: Any = None) -> dict[str, Any]:
    """
    Run the demo against the registry at ``url`` (default: the embedded default).

    Args:
        url: the event log URL (default: ``EVENTREG_URL``, else ``sqlite:///./eventreg.db``).
        artifacts: the artifact store URL (default: ``EVENTREG_ARTIFACTS``, else
            ``file://./eventreg-artifacts``).
        actor: who is acting (default: ``EVENTREG_ACTOR``, else the OS user).
        console: a rich console to narrate on; None prints nothing.

    Returns:
        What was done: the runs, the two new versions, who holds ``production`` now, and
        the result of verifying the log.

    Raises:
        MissingDriver: scikit-learn is not installed.
    """
    say = _Say(console)
    with eventreg.open(url=url, artifacts=artifacts, actor=actor) as reg:
        if console is not None:
            console.print(f"[bold]eventreg demo[/bold]: registry {redact_url(reg.log.url)}, "
                          f"artifacts {reg.artifacts_url}, acting as {reg.actor!r}")
        say(f"Create the model {MODEL!r}")
        try:
            reg.create_model(MODEL, description="RandomForest classifiers of iris flowers",
                             tags={"team": "demo"})
            say.detail("created")
        except AlreadyExists:
            say.detail("it exists already (an earlier demo in this folder): adding versions to it")

        first_run, _ = _train_and_log(reg, say, 100, None)
        first = reg.register_version(MODEL, run=first_run, code="auto",
                                     description="100 trees, no depth limit")
        say(f"Register that run as {MODEL!r} version {first.version}")
        params = ", ".join(f"{k}={v}" for k, v in first.params.items())
        metrics = ", ".join(f"{k}={v:.3f}" for k, v in first.metrics.items())
        say.detail(f"it records params ({params}), metrics ({metrics}), {len(first.artifacts)} artifact "
                   "file(s) with their sha256, the run, who and when, Python and package versions")

        second_run, _ = _train_and_log(reg, say, 5, 2)
        second = reg.register_version(MODEL, run=second_run, code="auto",
                                      description="5 shallow trees: as accurate here, smaller and faster")
        say(f"Register it as {MODEL!r} version {second.version}")

        reg.promote(MODEL, first.version, alias=ALIAS, reason="first model to serve")
        say(f"Promote version {first.version} to {ALIAS!r}")
        reg.promote(MODEL, second.version, alias=ALIAS, reason="smaller model, cheaper to serve")
        say(f"Promote version {second.version} to {ALIAS!r} (the log remembers it replaced "
            f"version {first.version})")
        back = reg.rollback(MODEL, alias=ALIAS, reason="latency regression seen in the canary")
        now = reg.get_version(MODEL, ALIAS)
        say(f"Roll {ALIAS!r} back: it points at version {now.version} again")

        events = reg.history(MODEL)[-7:]
        say(f"The history of {MODEL!r}: every change, who made it, when and why")
        say.table(_table(f"the last {len(events)} events of {MODEL!r} (all: eventreg history {MODEL})",
                         ("position", "when (UTC)", "who", "what", "why"),
                         [(e.position, _when(e.recorded_at), e.actor, e.summary, e.reason) for e in events]))
        tenures = reg.alias_history(MODEL, ALIAS)
        say.table(_table(f"who held {ALIAS!r}", ("version", "from (UTC)", "until (UTC)", "moved by", "how", "why"),
                         [(t.version, _when(t.since), _when(t.until) or "now", t.actor, t.action, t.reason)
                          for t in tenures[-4:]]))

        check = reg.verify()
        head = reg.head()
        say("Verify the log's hash chain")
        say.detail(f"{'ok' if check.ok else 'FAILED'}: {check.checked} events checked; "
                   f"head {head} (publish it, then prove the log unchanged with "
                   f"`eventreg verify --expected-head {head}`)")
        if console is not None:
            console.print("\nTry next:  eventreg models list   eventreg versions list iris   "
                          "eventreg history iris   eventreg compare iris "
                          f"{first.version} {second.version}")
        return {
            "url": redact_url(reg.log.url),
            "model": MODEL,
            "runs": [first_run, second_run],
            "versions": [first.version, second.version],
            "rollback": back,
            ALIAS: now.version,
            "verify": check,
            "head": head,
        }
