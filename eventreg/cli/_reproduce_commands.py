"""
``eventreg env`` and ``eventreg reproduce``: a version's environment as a requirements
file, and a version rebuilt, re-run and compared (docs/reproducibility.md).
"""

from __future__ import annotations

import sys

import click

from eventreg.capture.environment import load_environment, requirements
from eventreg.cli._app import CONTEXT, EXIT_CHECK_FAILED, _registry, cli
from eventreg.cli._output import _emit


@cli.command("env", context_settings=CONTEXT)
@click.argument("model")
@click.argument("ref")
@click.option("--format", "fmt", type=click.Choice(["pip", "uv"]), default="pip", show_default=True,
              help="pip: for `pip install -r`; uv: the same lines with the `uv venv --python` to use.")
def env_command(model: str, ref: str, fmt: str) -> None:
    """
    Print the environment a version was made in as a requirements file.
    """
    reg = _registry()
    version = reg.get_version(model, ref)
    document = load_environment(reg._artifact_store(), version.environment)
    click.echo(requirements(document, fmt), nl=False)


@cli.command("reproduce", context_settings=CONTEXT)
@click.argument("model")
@click.argument("ref")
@click.option("--workdir", type=click.Path(file_okay=False), help="An empty or new folder to rebuild in.")
@click.option("--rtol", type=float, default=0.0, show_default=True, help="Relative tolerance of each metric.")
@click.option("--env", "env", type=click.Choice(["auto", "current", "venv"]), default="auto", show_default=True,
              help="auto: this interpreter when it matches the record, else a new venv.")
@click.option("--dry-run", is_flag=True, help="Print what would be fetched, installed and run; change nothing.")
def reproduce_command(model: str, ref: str, workdir: str | None, rtol: float, env: str, dry_run: bool) -> None:
    """
    Rebuild a version from its record, re-run it and compare; exit 1 when it differs.
    """
    report = _registry().reproduce(model, ref, workdir=workdir, rtol=rtol, dry_run=dry_run, env=env)

    def human(console, r):  # noqa: ANN001
        if r.plan and (dry_run or not r.ok):
            for step in r.plan:
                console.print(step, markup=False, soft_wrap=True)
        if r.differences:
            console.print(f"not reproduced: {len(r.differences)} difference(s)", markup=False, soft_wrap=True)
            for difference in r.differences:
                console.print(f"  {difference}", markup=False, soft_wrap=True)
        else:
            console.print(r.summary(), markup=False, soft_wrap=True)
        if r.run_id:
            console.print(f"re-run: run {r.run_id}", markup=False, soft_wrap=True)

    _emit(report, human)
    if not dry_run and not report.ok:
        sys.exit(EXIT_CHECK_FAILED)
