"""
``eventreg import-mlflow``: copy an MLflow store into a registry (needs ``pip install 'eventreg[mlflow]'``).
"""

from __future__ import annotations

from typing import Any

import click

from eventreg.cli._app import CONTEXT, _settings, cli
from eventreg.cli._output import _emit
from eventreg.errors import MissingDriver


@cli.command("import-mlflow", context_settings=CONTEXT)
@click.argument("source", metavar="[SOURCE_URI]", required=False)
@click.option("--from", "source_option", metavar="URI",
              help="MLflow's tracking URI (sqlite:///mlflow.db, a tracking server, ...); the same as SOURCE_URI.")
@click.option("--registry-from", metavar="URI", help="MLflow's model-registry URI, if not the tracking URI.")
@click.option("--artifacts-from", metavar="DIR",
              help="A folder that now holds MLflow's artifact root (its files moved since they were logged).")
@click.option("--to", "--url", "url", metavar="URL", help="The eventreg log to import into (overrides the global "
              "--url).")
@click.option("--artifacts", metavar="URL", help="eventreg's artifact store (default: where MLflow's eventreg+ "
              "plugin looks for the log: EVENTREG_ARTIFACTS, else eventreg-artifacts beside a SQLite file).")
@click.pass_context
def import_mlflow(ctx: click.Context, source: str | None, source_option: str | None, registry_from: str | None,
                  artifacts_from: str | None, url: str | None, artifacts: str | None) -> None:
    """
    Import an MLflow tracking store and model registry.

    Copies experiments, runs (params, full metric histories, tags, artifacts, logged
    models), registered models, versions with their files, stages and aliases, keeping
    the runs' and metric points' times and MLflow's user names as actors. Running it
    again adds nothing; after an interrupted import it completes what is missing. One
    line per imported item goes to stderr, a summary (with what MLflow cannot provide)
    to stdout. Exit codes: 3 no MLflow store or artifact at that place, 5 MLflow could
    not read it.
    """
    if source and source_option and source != source_option:
        raise click.UsageError("give the MLflow URI once: SOURCE_URI or --from")
    source = source or source_option
    if not source:
        raise click.UsageError("which MLflow store? give SOURCE_URI or --from (e.g. sqlite:///mlflow.db)")
    try:
        from eventreg.mlflow.importer import import_mlflow as run_import
    except ImportError as e:
        raise MissingDriver(f"eventreg import-mlflow needs MLflow: pip install 'eventreg[mlflow]' ({e})") from e
    settings = _settings(ctx)
    summary = run_import(source, to=url or settings.url, artifacts=artifacts or settings.artifacts,
                         registry_uri=registry_from, artifacts_from=artifacts_from, actor=settings.actor,
                         progress=lambda line: click.echo(f"imported {line}", err=True))
    _emit(summary.to_dict(), _print_summary)


def _print_summary(console: Any, s: dict[str, Any]) -> None:
    console.print(f"imported {s['experiments']} experiments, {s['runs']} runs ({s['metric_points']} metric points, "
                  f"{s['files']} files), {s['models']} models, {s['versions']} versions, {s['aliases']} aliases; "
                  f"completed {s['runs_completed']} interrupted runs; {s['skipped']} already imported",
                  markup=False, soft_wrap=True)
    for note in s["notes"]:
        console.print(f"note: {note}", markup=False, soft_wrap=True)
