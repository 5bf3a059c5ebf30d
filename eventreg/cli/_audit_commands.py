"""
Audit, transfer, gate and demo commands.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import click

import eventreg
from eventreg.cli._app import (CONTEXT, EXIT_CHECK_FAILED, _as_of_option, _reader, _reason_option, _registry,
                               _settings, cli)
from eventreg.cli._output import _console, _done, _emit, _table, to_json

_event_columns = [
    ("position", "position"), ("recorded (UTC)", "recorded_at"), ("actor", "actor"),
    ("what", "summary"), ("why", "reason"),
]
_change_columns = [
    ("change", "what"), ("model", "model"), ("version", "version"), ("key", "key"),
    ("before", "before"), ("after", "after"),
]


# -- audit ----------------------------------------------------------------------------------


@cli.command(context_settings=CONTEXT)
@click.argument("model", required=False)
@click.option("--since", metavar="WHEN", help="Only events at or after WHEN.")
@click.option("--until", metavar="WHEN", help="Only events at or before WHEN.")
@click.option("--by", "actor", metavar="ACTOR", help="Only events recorded by ACTOR.")
@click.option("--type", "types", multiple=True, metavar="TYPE",
              help="Only events of this type, e.g. alias.promoted (repeatable).")
@_as_of_option
def history(model: str | None, since: str | None, until: str | None, actor: str | None,
            types: tuple[str, ...], as_of: str | None) -> None:
    """
    Show who changed what, when and why.

    Lists the events of MODEL (or of the whole registry), oldest first. WHEN is an
    ISO-8601 time (UTC if no zone) or a log position.
    """
    events = _reader(as_of).history(model, since=since, until=until, actor=actor, types=list(types) or None)
    # PostgreSQL and MySQL record who inserted each event (the database user) themselves
    columns = [*_event_columns, ("db user", "database_user")] if any(e.database_user for e in events) \
        else _event_columns
    _emit(events, lambda console, rows: console.print(
        _table(f"history of {model}" if model else "history", rows, columns)))


@cli.command(context_settings=CONTEXT)
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
def diff(a: str, b: str) -> None:
    """
    Show what changed between two moments.

    A and B are ISO-8601 times (UTC if no zone) or log positions: models and versions
    added or removed, aliases moved, tags, metrics, statuses and descriptions changed.
    """
    _emit(_reader().diff(a, b), _print_diff)


def _print_diff(console: Any, found: Any) -> None:
    title = f"changes from position {found.a_position} to {found.b_position}"
    if not found.changes:
        console.print(f"no changes ({title})", markup=False, soft_wrap=True)
    else:
        console.print(_table(title, found.changes, _change_columns))


@cli.command(context_settings=CONTEXT)
@click.option("--expected-head", metavar="POS:HASH",
              help="Also prove the log up to POS unchanged (a head printed earlier by `eventreg head`).")
@click.option("--check-artifacts", is_flag=True, help="Also re-hash every stored artifact (slower).")
def verify(expected_head: str | None, check_artifacts: bool) -> None:
    """
    Check the log's hash chain; exit 1 if it is broken.

    With --expected-head, the log must still hold that hash at that position even if it
    has grown since; with --check-artifacts, every stored artifact must match its digest.
    """
    result = _reader().verify(expected_head=expected_head, artifacts=check_artifacts)
    _emit(result, _print_verify)
    if not result.ok:
        click.get_current_context().exit(EXIT_CHECK_FAILED)


def _print_verify(console: Any, result: Any) -> None:
    if result.ok:
        extra = f", {result.artifacts_checked} artifact objects" if result.artifacts_checked is not None else ""
        proved = f"; contains {result.expected_head}" if result.expected_head is not None else ""
        console.print(f"ok: {result.checked} events checked{extra}, head {result.head}{proved}", markup=False, soft_wrap=True)
        return
    console.print(f"FAILED at position {result.first_bad_position}: {result.problem}", markup=False, soft_wrap=True)
    for finding in result.artifact_problems:
        console.print(f"  {finding}", markup=False, soft_wrap=True)


@cli.command(context_settings=CONTEXT)
def head() -> None:
    """
    Print the log's head as POS:HASH.

    Publish it (CI log, ticket, git tag); later `eventreg verify --expected-head POS:HASH`
    proves the log up to POS unchanged.
    """
    _emit(_reader().head(), lambda console, h: console.print(str(h), markup=False, soft_wrap=True))


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.option("--format", "fmt", type=click.Choice(["html", "json", "csv"]), default="html", show_default=True)
@click.option("-o", "--output", required=True, metavar="PATH",
              help="The file to write; a folder (existing, or ending in /) gets MODEL-audit-report.FORMAT.")
@click.option("--since", metavar="WHEN", help="Start of the period (ISO-8601 time or log position).")
@click.option("--until", metavar="WHEN", help="End of the period; versions and aliases as they stood then.")
def report(model: str, fmt: str, output: str, since: str | None, until: str | None) -> None:
    """
    Write an audit report of a model.

    A timeline of promotions and rollbacks of MODEL and each version's lineage (data,
    code, params, metrics, who and when), as a self-contained HTML page, JSON or CSV.
    """
    written = _reader().audit_report(model, since=since, until=until, format=fmt,
                                     path=_report_path(output, model, fmt))
    _emit({"model": model, "format": fmt, "output": str(written)},
          _done(f"wrote the {fmt} audit report of {model} to {written}"))


def _report_path(output: str, model: str, fmt: str) -> Path:
    """
    Where ``report -o OUTPUT`` writes: OUTPUT itself, or a file named after the model
    inside OUTPUT when it is a folder (one that exists, or a new one ending in a slash).
    """
    target = Path(output)
    if output.endswith(("/", os.sep)) or target.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return target / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', model)}-audit-report.{fmt}"
    return target


@cli.command(context_settings=CONTEXT)
@click.argument("src_url", metavar="SRC_URL")
@click.argument("dst_url", metavar="DST_URL")
@click.option("--artifacts", "dest_artifacts", metavar="URL",
              help="Also copy every artifact object the log refers to into this store (the source "
                   "store is the global --artifacts).")
@click.pass_context
def copy(ctx: click.Context, src_url: str, dst_url: str, dest_artifacts: str | None) -> None:
    """
    Copy a whole log into another, empty backend.

    Positions, timestamps, actors and hashes are kept, so the copy verifies and has the
    same head. A destination holding a prefix of the source (an interrupted copy) is
    resumed; any other non-empty destination is refused.

    The model files stay in their store unless --artifacts URL is given: then each object
    the log refers to is copied there and checked against its sha256; objects already
    there are checked and skipped, so a second run resumes.
    """
    result = eventreg.copy(src_url, dst_url, artifacts=dest_artifacts,
                           source_artifacts=_settings(ctx).artifacts)
    _emit(result, _print_copy)


def _print_copy(console: Any, result: Any) -> None:
    console.print(f"copied {result.copied} events ({result.skipped} already there), head {result.head}",
                  markup=False, soft_wrap=True)
    if result.artifacts_copied is None:
        console.print("artifacts were not copied: they stay in their store (copy them with --artifacts URL)",
                      markup=False, soft_wrap=True)
    else:
        console.print(f"copied {result.artifacts_copied} artifact objects ({result.artifacts_bytes} bytes), "
                      f"{result.artifacts_skipped} already there and verified", markup=False, soft_wrap=True)


# -- gate and demo ----------------------------------------------------------------------------


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.argument("ref")
@click.option("--require", "requires", multiple=True, metavar="CONDITION",
              help='A search filter the version must match, e.g. "metrics.accuracy >= 0.9" (repeatable).')
@click.option("--better-than", "better", multiple=True, metavar="ALIAS:FIELD",
              help="FIELD must be greater than on the version ALIAS points at, e.g. "
                   "production:metrics.accuracy (repeatable; holds when nothing holds ALIAS yet).")
@click.option("--promote-to", metavar="ALIAS", help="When every condition holds, promote the version to ALIAS "
              "(a protected ALIAS: file a promotion request instead).")
@_reason_option()
def gate(model: str, ref: str, requires: tuple[str, ...], better: tuple[str, ...],
         promote_to: str | None, reason: str | None) -> None:
    """
    CI/CD gate: check a version, optionally promote it.

    Exits 0 (and, with --promote-to, promotes) when version REF of MODEL meets every
    condition; else exits 1 with a table of what failed. Each --require is a search
    filter evaluated on this version only.
    """
    if not requires and not better:
        raise click.UsageError("give at least one --require or --better-than")
    for item in better:
        if not all(item.partition(":")[::2]) or ":" not in item:
            raise click.BadParameter(f"expected ALIAS:FIELD, got {item!r}", param_hint="--better-than")
    result = _registry().check(model, ref, require=requires, better_than=better,
                               promote_to=promote_to, reason=reason)
    _emit({"ok": result.ok, "model": result.model, "version": result.version,
           "checks": [{"condition": c.condition, "ok": c.ok, "note": c.note} for c in result.checks],
           "promoted_to": result.promoted_to, "request_id": result.request_id},
          _print_gate)
    if not result.ok:
        click.get_current_context().exit(EXIT_CHECK_FAILED)


def _print_gate(console: Any, data: Any) -> None:
    title = f"gate {data['model']} version {data['version']}"
    console.print(_table(title, data["checks"], [("condition", "condition"), ("ok", "ok"), ("note", "note")]))
    if data["ok"]:
        console.print("gate passed" + (f"; promoted to {data['promoted_to']}" if data["promoted_to"] else ""),
                      markup=False, soft_wrap=True)
        if data.get("request_id"):  # a protected alias: a request instead of a promotion
            console.print(f"the alias is protected: filed promotion request {data['request_id']} instead of "
                          "promoting; it needs approval (eventreg approve)", markup=False)
    else:
        failed = [c["condition"] for c in data["checks"] if not c["ok"]]
        console.print(f"gate FAILED: {'; '.join(failed)}", markup=False, soft_wrap=True)


@cli.command(context_settings=CONTEXT)
@click.pass_context
def demo(ctx: click.Context) -> None:
    """
    Train an iris model and walk through the registry.

    Trains two RandomForests, logs them as runs, registers two versions, promotes both,
    rolls production back, shows the history and verifies the log: in ./eventreg.db and
    ./eventreg-artifacts unless --url/--artifacts say otherwise. Needs scikit-learn
    (pip install 'eventreg[demo]'); safe to run again in the same folder.
    """
    from eventreg.demo import run

    settings = _settings(ctx)
    result = run(url=settings.url, artifacts=settings.artifacts, actor=settings.actor,
                 console=None if settings.json else _console())
    if settings.json:
        click.echo(json.dumps(to_json(result), indent=2, ensure_ascii=False, allow_nan=False))
