"""
The ``eventreg`` command: parse the arguments, call one public method, print the result.

Every command builds a :class:`eventreg.Registry` (or calls a module-level function such
as :func:`eventreg.copy`), calls one public method and formats what it returns: a rich
table for people, ``--json`` for machines. The command holds no registry logic; when it
seems to need some, the API is missing a method.

Errors are turned into exit codes in one place, :meth:`_Group.invoke`: every
:class:`eventreg.errors.EventregError` carries its ``exit_code`` (2 input, 3 not found,
4 conflict, 5 backend unavailable), click's own usage errors exit 2, a failed check
(``gate``, ``verify``) exits 1. docs/cli.md documents the codes and the JSON shapes.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timezone
from pathlib import PurePath
from typing import Any

import attrs
import click

import eventreg
from eventreg.errors import EventregError, FilterSyntaxError

#: Exit code of a check that ran and failed (``gate``, ``verify``).
EXIT_CHECK_FAILED = 1
#: Exit code of an unexpected error: a bug in eventreg (rerun with ``--debug``).
EXIT_INTERNAL = 70

#: click >= 8.2 raises this for a group called without a command (older: prints help, exits 0)
_NO_ARGS: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())
_CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


# -- settings and the registry ---------------------------------------------------------


@attrs.define
class _Settings:
    """
    The global options, and the registry opened from them on first use.
    """

    url: str | None
    artifacts: str | None
    actor: str | None
    json: bool
    debug: bool
    _registry: Any = None

    def registry(self, ctx: click.Context) -> Any:
        """
        The registry for these settings, opened once and closed when the command ends.
        """
        if self._registry is None:
            reg = eventreg.open(url=self.url, artifacts=self.artifacts, actor=self.actor)
            self._registry = ctx.with_resource(reg)
        return self._registry


def _settings(ctx: click.Context) -> _Settings:
    return ctx.find_object(_Settings)


def _registry() -> Any:
    ctx = click.get_current_context()
    return _settings(ctx).registry(ctx)


def _reader(as_of: str | None) -> Any:
    """
    The registry, or its read-only view ``as_of(WHEN)`` when ``--as-of`` was given.
    """
    reg = _registry()
    return reg if as_of is None else reg.as_of(_when(as_of))


def _when(text: str) -> Any:
    """
    A moment as the API takes it: a global position (digits) or an ISO-8601 string.
    """
    text = text.strip()
    return int(text) if text.isdigit() else text


def _ref(text: str) -> Any:
    """
    A version reference as the API takes it: a number, else a label or an alias.
    """
    text = text.strip()
    return int(text) if text.isdigit() else text


# -- errors: the one place where exceptions become exit codes --------------------------


class _Group(click.Group):
    """
    The root group: maps eventreg's errors to one line on stderr and an exit code.
    """

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except _NO_ARGS as error:  # a bare group: its help, exit 2
            click.echo(error.ctx.get_help() if error.ctx else error.format_message(), err=True)
            sys.exit(2)
        except click.UsageError as error:  # click's own: one line too, exit 2
            hint = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
            click.echo(f"error: {_one_line(error.format_message())}{hint}", err=True)
            sys.exit(2)
        except click.ClickException as error:
            click.echo(f"error: {_one_line(error.format_message())}", err=True)
            sys.exit(error.exit_code)
        except click.exceptions.Abort:
            click.echo("error: aborted", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except EventregError as error:
            _traceback(ctx)
            _fail(ctx, _message(error), getattr(error, "exit_code", 2))
        except KeyboardInterrupt:
            _fail(ctx, "interrupted", 130)
        except Exception as error:  # a bug: say so in one line; --debug shows the traceback
            _traceback(ctx)
            _fail(ctx, f"internal error: {type(error).__name__}: {_one_line(str(error))} "
                       "(rerun with --debug for the traceback)", EXIT_INTERNAL)


def _traceback(ctx: click.Context) -> None:
    if ctx.params.get("debug"):
        traceback.print_exc(file=sys.stderr)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _message(error: EventregError) -> str:
    text = str(error)
    if isinstance(error, FilterSyntaxError):  # the first line names the column; a caret follows
        text = text.splitlines()[0] if text else ""
    text = _one_line(text) or type(error).__name__
    if isinstance(error, FilterSyntaxError) and error.column and "column" not in text:
        text = f"{text} (at column {error.column})"
    return text


def _fail(ctx: click.Context, message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    ctx.exit(code)


# -- output ------------------------------------------------------------------------------


def to_json(value: Any) -> Any:
    """
    A JSON-ready copy of an API result: timestamps as ISO-8601 UTC with ``Z``, NaN and
    infinities as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.
    """
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if attrs.has(type(value)):
        return {f.name.lstrip("_"): to_json(getattr(value, f.name))
                for f in attrs.fields(type(value)) if not f.name.startswith("_")}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {key: to_json(item) for key, item in value._asdict().items()}
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((to_json(item) for item in value), key=repr)
    if isinstance(value, Iterable):
        return [to_json(item) for item in value]
    return str(value)


def _console(err: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if err else sys.stdout
    terminal = bool(getattr(stream, "isatty", lambda: False)())
    if terminal:
        return Console(file=stream, highlight=False)
    # not a terminal: no colour, no wrapping at 80 columns
    width = int(os.environ.get("COLUMNS", "0") or 0) or 200
    return Console(file=stream, highlight=False, no_color=True, color_system=None, width=width)


def _emit(data: Any, human: Callable[[Any, Any], None]) -> None:
    """
    Print ``data``: as JSON with ``--json``, else through ``human(console, data)``.
    """
    if _settings(click.get_current_context()).json:
        click.echo(json.dumps(to_json(data), indent=2, ensure_ascii=False, allow_nan=False))
    else:
        human(_console(), data)


def _field(obj: Any, name: str) -> Any:
    """
    ``obj.name`` or ``obj[name]``, following dots (``metrics.accuracy``); None if absent.
    """
    for part in name.split("."):
        if obj is None:
            return None
        if isinstance(obj, Mapping):
            obj = obj.get(part)
        else:
            obj = getattr(obj, part, None)
    return obj


def _cell(value: Any) -> str:
    """
    A short text for one table cell.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")
    if isinstance(value, Mapping):
        return "\n".join(f"{key}={_inner(_metric_value(item))}" for key, item in value.items())
    if isinstance(value, (list, tuple, set, frozenset)) and not hasattr(value, "_asdict"):
        return ", ".join(_cell(item) for item in value)
    if attrs.has(type(value)) or hasattr(value, "_asdict"):
        return json.dumps(to_json(value), ensure_ascii=False)
    return str(value)


def _inner(value: Any) -> str:
    """
    A value inside a mapping cell: nested structures as compact JSON.
    """
    if isinstance(value, (Mapping, list, tuple)) or attrs.has(type(value)):
        return json.dumps(to_json(value), ensure_ascii=False, separators=(",", ":"))
    return _cell(value)


def _metric_value(value: Any) -> Any:
    """
    A metric's latest value when the API gives a point (``value``, ``step``, ...).
    """
    if attrs.has(type(value)) and hasattr(value, "value"):
        return value.value
    return value


def _table(title: str | None, rows: Iterable[Any], columns: list[tuple[str, Any]]) -> Any:
    """
    A rich table; each column is ``(header, field name or function of the row)``.
    """
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for header, _ in columns:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(get(row) if callable(get) else _field(row, get)) for _, get in columns))
    return table


def _record(title: str | None, obj: Any) -> Any:
    """
    A two-column table of every field of one result.
    """
    data = obj if isinstance(obj, Mapping) else to_json(obj)
    rows = data.items() if isinstance(data, Mapping) else [("value", data)]
    if isinstance(obj, Mapping):
        rows = obj.items()
    elif attrs.has(type(obj)):
        rows = [(f.name, getattr(obj, f.name)) for f in attrs.fields(type(obj))
                if not f.name.startswith("_")]
    return _table(title, rows, [("field", lambda r: r[0]), ("value", lambda r: r[1])])


def _print_record(title: str | None) -> Callable[[Any, Any], None]:
    return lambda console, obj: console.print(_record(title, obj))


def _done(text: str) -> Callable[[Any, Any], None]:
    return lambda console, _: console.print(text)


# -- parsing helpers -----------------------------------------------------------------------


def _pairs(values: Iterable[str], what: str, convert: Callable[[str], Any] = str) -> dict[str, Any]:
    """
    ``("k=v", ...)`` as a dict; a bad item is a usage error naming the option.
    """
    result: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint=what)
        try:
            result[key.strip()] = convert(raw)
        except ValueError:
            raise click.BadParameter(f"{raw!r} is not a number (in {item!r})", param_hint=what) from None
    return result


def _number(text: str) -> float:
    """
    A metric value: any float, including ``nan`` and ``inf``.
    """
    return float(text)


def _reason_option(required: bool = False) -> Callable:
    return click.option("--reason", required=required, help="Why: recorded in the log.")


_as_of_option = click.option(
    "--as-of", "as_of", metavar="WHEN",
    help="Answer as the registry stood at WHEN: an ISO-8601 time (UTC if no zone) or a log position.")

_model_columns = [
    ("name", "name"), ("description", "description"), ("status", "status"),
    ("latest", "latest_version"), ("aliases", "aliases"), ("tags", "tags"), ("created", "created_at"),
]
_version_columns = [
    ("model", "name"), ("version", "version"), ("label", "label"), ("aliases", "aliases"),
    ("status", "status"), ("metrics", "metrics"), ("created", "created_at"), ("by", "actor"),
]
_run_columns = [
    ("id", "id"), ("experiment", "experiment"), ("status", "status"), ("params", "params"),
    ("metrics", "metrics"), ("started", "started_at"), ("by", "actor"),
]
_event_columns = [
    ("position", "position"), ("recorded", "recorded_at"), ("actor", "actor"),
    ("type", "type"), ("model", "model"), ("version", "version"), ("alias", "alias"),
    ("reason", "reason"),
]


# -- the root group ------------------------------------------------------------------------


@click.group(cls=_Group, context_settings=_CONTEXT)
@click.version_option(eventreg.__version__, "-V", "--version", prog_name="eventreg")
@click.option("--url", metavar="URL",
              help="Event log URL [default: $EVENTREG_URL, else sqlite:///./eventreg.db].")
@click.option("--artifacts", metavar="URL",
              help="Artifact store URL [default: $EVENTREG_ARTIFACTS, else file://./eventreg-artifacts].")
@click.option("--actor", metavar="NAME",
              help="Who is acting, recorded on every event [default: $EVENTREG_ACTOR, else the OS user].")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables (see docs/cli.md).")
@click.option("--debug", is_flag=True, help="Show the full traceback on errors.")
@click.pass_context
def cli(ctx: click.Context, url: str | None, artifacts: str | None, actor: str | None,
        as_json: bool, debug: bool) -> None:
    """
    eventreg: a model registry whose history is an append-only, tamper-evident event log.

    Exit codes: 0 ok, 1 a check failed (gate, verify), 2 usage or input error,
    3 not found, 4 conflict, 5 backend unavailable.
    """
    ctx.obj = _Settings(url=url, artifacts=artifacts, actor=actor, json=as_json, debug=debug)


def main(argv: list[str] | None = None) -> None:
    """
    The ``eventreg`` console script.
    """
    cli.main(args=argv, prog_name="eventreg")


# -- models ----------------------------------------------------------------------------------


@cli.group(context_settings=_CONTEXT)
def models() -> None:
    """
    Create, list, show, tag and archive models.
    """


@models.command("list")
@_as_of_option
def models_list(as_of: str | None) -> None:
    """
    List the registered models.
    """
    _emit(_reader(as_of).list_models(),
          lambda console, rows: console.print(_table("models", rows, _model_columns)))


@models.command("create")
@click.argument("name")
@click.option("--description", help="What the model is for.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag (repeatable).")
def models_create(name: str, description: str | None, tags: tuple[str, ...]) -> None:
    """
    Create the model NAME.
    """
    model = _registry().create_model(name, description=description, tags=_pairs(tags, "--tag"))
    _emit(model, _done(f"created model {name}"))


@models.command("show")
@click.argument("name")
@_as_of_option
def models_show(name: str, as_of: str | None) -> None:
    """
    Show the model NAME.
    """
    _emit(_reader(as_of).get_model(name), _print_record(f"model {name}"))


@models.command("tag")
@click.argument("name")
@click.argument("tags", nargs=-1, metavar="KEY=VALUE...")
@click.option("--delete", "deletes", multiple=True, metavar="KEY", help="Delete this tag (repeatable).")
def models_tag(name: str, tags: tuple[str, ...], deletes: tuple[str, ...]) -> None:
    """
    Set or delete tags of a model.
    """
    pairs = _pairs(tags, "KEY=VALUE")
    if not pairs and not deletes:
        raise click.UsageError("give at least one KEY=VALUE or --delete KEY")
    reg = _registry()
    for key, value in pairs.items():
        reg.set_model_tag(name, key, value)
    for key in deletes:
        reg.delete_model_tag(name, key)
    _emit({"model": name, "set": pairs, "deleted": list(deletes)},
          _done(f"model {name}: {len(pairs)} tag(s) set, {len(deletes)} deleted"))


@models.command("archive")
@click.argument("name")
@_reason_option()
def models_archive(name: str, reason: str | None) -> None:
    """
    Archive a model (its history stays).

    An archived model's versions can be promoted only with --force.
    """
    result = _registry().archive_model(name, reason=reason)
    _emit(result, _done(f"archived model {name}"))


# -- versions ------------------------------------------------------------------------------


@cli.group(context_settings=_CONTEXT)
def versions() -> None:
    """
    Register, list, show, tag and deprecate versions of a model.

    REF is a version number (3), a label (v1.1), an alias (production) or "latest".
    """


@versions.command("list")
@click.argument("model")
@click.option("--status", type=click.Choice(["READY", "DEPRECATED", "ARCHIVED"], case_sensitive=False),
              help="Only versions with this status.")
@_as_of_option
def versions_list(model: str, status: str | None, as_of: str | None) -> None:
    """
    List the versions of a model, oldest first.
    """
    _emit(_reader(as_of).list_versions(model, status=status and status.upper()),
          lambda console, rows: console.print(_table(f"versions of {model}", rows, _version_columns)))


@versions.command("show")
@click.argument("model")
@click.argument("ref")
@_as_of_option
def versions_show(model: str, ref: str, as_of: str | None) -> None:
    """
    Show a version with its whole lineage.
    """
    _emit(_reader(as_of).get_version(model, _ref(ref)), _print_record(f"{model} {ref}"))


@versions.command("register")
@click.argument("model")
@click.option("--run", "run_id", metavar="RUN_ID", help="Take params, metrics and artifacts from this run.")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A hyperparameter (repeatable; kept as text).")
@click.option("--metric", "metrics", multiple=True, metavar="KEY=NUMBER", help="A metric (repeatable; nan allowed).")
@click.option("--artifacts", "artifact_path", type=click.Path(exists=True), metavar="PATH",
              help="A file or directory to store as the version's artifacts.")
@click.option("--label", help="A unique human label, e.g. v1.1.")
@click.option("--description", help="Free-form notes.")
@click.option("--tag", "tags", multiple=True, metavar="KEY=VALUE", help="A tag (repeatable).")
@click.option("--data-uri", metavar="URI", help="Where the training data is.")
@click.option("--data-digest", metavar="DIGEST", help="Digest of the training data, e.g. sha256:...")
@click.option("--git", "git", type=click.Choice(["auto", "none"]), default="auto", show_default=True,
              help="auto: record the git repository, commit and dirty flag when run in a checkout.")
@click.option("--parent", "parents", multiple=True, type=int, metavar="VERSION", help="A parent version (repeatable).")
def versions_register(model: str, run_id: str | None, params: tuple[str, ...], metrics: tuple[str, ...],
                      artifact_path: str | None, label: str | None, description: str | None,
                      tags: tuple[str, ...], data_uri: str | None, data_digest: str | None,
                      git: str, parents: tuple[int, ...]) -> None:
    """
    Register a new version of a model.

    With --run, params, metrics and artifacts come from that run; the options add to
    them. Who, when, Python and package versions are recorded automatically.
    """
    kwargs: dict[str, Any] = {}
    if run_id:
        kwargs["run"] = run_id
    if params:
        kwargs["params"] = _pairs(params, "--param")
    if metrics:
        kwargs["metrics"] = _pairs(metrics, "--metric", _number)
    if artifact_path:
        kwargs["artifacts"] = artifact_path
    if data_uri or data_digest:
        kwargs["data"] = {"uri": data_uri, "digest": data_digest}
    kwargs["code"] = "auto" if git == "auto" else None
    if tags:
        kwargs["tags"] = _pairs(tags, "--tag")
    if parents:
        kwargs["parents"] = list(parents)
    version = _registry().register_version(model, label=label, description=description, **kwargs)
    _emit(version, _done(f"registered {model} version {_field(version, 'version')}"))


@versions.command("tag")
@click.argument("model")
@click.argument("ref")
@click.argument("tags", nargs=-1, metavar="KEY=VALUE...")
@click.option("--delete", "deletes", multiple=True, metavar="KEY", help="Delete this tag (repeatable).")
def versions_tag(model: str, ref: str, tags: tuple[str, ...], deletes: tuple[str, ...]) -> None:
    """
    Set or delete tags of a version.
    """
    pairs = _pairs(tags, "KEY=VALUE")
    if not pairs and not deletes:
        raise click.UsageError("give at least one KEY=VALUE or --delete KEY")
    reg = _registry()
    for key, value in pairs.items():
        reg.set_version_tag(model, _ref(ref), key, value)
    for key in deletes:
        reg.delete_version_tag(model, _ref(ref), key)
    _emit({"model": model, "ref": ref, "set": pairs, "deleted": list(deletes)},
          _done(f"{model} {ref}: {len(pairs)} tag(s) set, {len(deletes)} deleted"))


@versions.command("deprecate")
@click.argument("model")
@click.argument("ref")
@_reason_option(required=True)
def versions_deprecate(model: str, ref: str, reason: str) -> None:
    """
    Deprecate a version (promote it then only with --force).
    """
    result = _registry().deprecate_version(model, _ref(ref), reason=reason)
    _emit(result, _done(f"deprecated {model} {ref}"))


# -- runs ------------------------------------------------------------------------------------


@cli.group(context_settings=_CONTEXT)
def runs() -> None:
    """
    List and show training runs.
    """


@runs.command("list")
@click.option("--experiment", help="Only runs of this experiment.")
@click.option("--filter", "filter_", metavar="FILTER", help='E.g. "metrics.accuracy > 0.9".')
@click.option("--order-by", "order_by", multiple=True, metavar="FIELD [ASC|DESC]",
              help='E.g. "metrics.accuracy DESC" (repeatable).')
@click.option("--limit", type=click.IntRange(min=1), help="At most this many runs.")
@_as_of_option
def runs_list(experiment: str | None, filter_: str | None, order_by: tuple[str, ...],
              limit: int | None, as_of: str | None) -> None:
    """
    List runs (oldest first unless --order-by).
    """
    _emit(_reader(as_of).search_runs(experiment=experiment, filter=filter_,
                                     order_by=list(order_by) or None, limit=limit),
          lambda console, rows: console.print(_table("runs", rows, _run_columns)))


@runs.command("show")
@click.argument("run_id")
@_as_of_option
def runs_show(run_id: str, as_of: str | None) -> None:
    """
    Show the run RUN_ID.
    """
    _emit(_reader(as_of).get_run(run_id), _print_record(f"run {run_id}"))


# -- metrics, promotion, rollback ----------------------------------------------------------


@cli.command("log-metric", context_settings=_CONTEXT)
@click.argument("model")
@click.argument("ref")
@click.argument("key")
@click.argument("value", type=float)
@click.option("--step", type=int, help="Training step or epoch of this value.")
def log_metric(model: str, ref: str, key: str, value: float, step: int | None) -> None:
    """
    Record a metric value on a version.

    Sets metric KEY of version REF of MODEL to VALUE (nan allowed); earlier values stay
    in the metric's history.
    """
    result = _registry().log_metric(model, _ref(ref), key, value, step=step)
    _emit(result, _done(f"{model} {ref}: {key} = {_cell(value)}"))


@cli.command(context_settings=_CONTEXT)
@click.argument("model")
@click.argument("ref")
@click.option("--to", "alias", required=True, metavar="ALIAS", help="The alias to move, e.g. production.")
@_reason_option()
@click.option("--force", is_flag=True, help="Allow a deprecated or archived version (recorded).")
def promote(model: str, ref: str, alias: str, reason: str | None, force: bool) -> None:
    """
    Point an alias at a version.

    Moves --to ALIAS of MODEL to version REF; the log records the version it replaced,
    so `eventreg rollback` can return to it.
    """
    result = _registry().promote(model, _ref(ref), alias=alias, reason=reason, force=force)
    _emit(result, _done(f"{model}@{alias} -> version {_field(result, 'version') or ref}"))


@cli.command(context_settings=_CONTEXT)
@click.argument("model")
@click.option("--alias", required=True, metavar="ALIAS", help="The alias to move back.")
@click.option("--to", "to", metavar="REF", help="Move it to this version [default: the previous holder].")
@_reason_option()
@click.option("--force", is_flag=True, help="Allow a deprecated or archived version (recorded).")
def rollback(model: str, alias: str, to: str | None, reason: str | None, force: bool) -> None:
    """
    Move an alias back to its previous holder.

    Without --to, ALIAS of MODEL returns to the version that held it before the current
    one; a second rollback goes one further back.
    """
    result = _registry().rollback(model, alias=alias, to=None if to is None else _ref(to), reason=reason,
                                  force=force)
    _emit(result, _done(f"{model}@{alias} rolled back to version {_field(result, 'version')}"))


# -- search, compare, download -----------------------------------------------------------


@cli.command(context_settings=_CONTEXT)
@click.argument("filter_", metavar="FILTER")
@click.option("--order-by", "order_by", multiple=True, metavar="FIELD [ASC|DESC]",
              help='E.g. "metrics.accuracy DESC" (repeatable).')
@click.option("--limit", type=click.IntRange(min=1), help="At most this many versions.")
@_as_of_option
def search(filter_: str, order_by: tuple[str, ...], limit: int | None, as_of: str | None) -> None:
    """
    Find versions matching a filter.

    FILTER is e.g. "model = 'iris' and metrics.accuracy >= 0.9" (see docs/search.md).
    """
    rows = _reader(as_of).search_versions(filter_, order_by=list(order_by) or None, limit=limit)
    _emit(rows, lambda console, r: console.print(_table("versions", r, _version_columns)))


@cli.command(context_settings=_CONTEXT)
@click.argument("model")
@click.argument("refs", nargs=-1, required=True, metavar="REF...")
@_as_of_option
def compare(model: str, refs: tuple[str, ...], as_of: str | None) -> None:
    """
    Show versions' params and metrics side by side.

    Rows whose values differ between the versions REF... of MODEL are marked.
    """
    _emit(_reader(as_of).compare(model, [_ref(r) for r in refs]), _print_comparison)


def _print_comparison(console: Any, comparison: Any) -> None:
    from rich.table import Table

    versions_ = _field(comparison, "versions") or []
    rows = _field(comparison, "rows")
    if rows is None:
        console.print(_record("comparison", comparison))
        return
    table = Table(title="comparison", title_justify="left")
    table.add_column("field")
    for version in versions_:
        table.add_column(f"v{version}")
    table.add_column("differs")
    for row in rows:
        values = _field(row, "values") or []
        table.add_row(f"{_field(row, 'section')}.{_field(row, 'key')}", *(_cell(v) for v in values),
                      "*" if _field(row, "differs") else "")
    console.print(table)


@cli.command(context_settings=_CONTEXT)
@click.argument("model")
@click.argument("ref")
@click.argument("dest", type=click.Path(file_okay=False))
@_as_of_option
def download(model: str, ref: str, dest: str, as_of: str | None) -> None:
    """
    Download a version's artifacts, verifying every byte.

    Writes the artifacts of version REF of MODEL under DEST; a file whose size or sha256
    does not match the record is an error (exit 1).
    """
    result = _reader(as_of).download(model, _ref(ref), dest)
    _emit({"model": model, "ref": ref, "dest": dest, "files": result},
          _done(f"downloaded {model} {ref} to {dest}"))


# -- audit ----------------------------------------------------------------------------------


@cli.command(context_settings=_CONTEXT)
@click.argument("model", required=False)
@click.option("--since", metavar="WHEN", help="Only events at or after WHEN (ISO-8601 or position).")
@click.option("--until", metavar="WHEN", help="Only events at or before WHEN (ISO-8601 or position).")
@click.option("--by", "actor", metavar="ACTOR", help="Only events recorded by ACTOR.")
@click.option("--type", "types", multiple=True, metavar="TYPE", help="Only this event type, e.g. alias.promoted (repeatable).")
@_as_of_option
def history(model: str | None, since: str | None, until: str | None, actor: str | None,
            types: tuple[str, ...], as_of: str | None) -> None:
    """
    Show who changed what, when and why.

    Lists the events of MODEL (or of the whole registry), oldest first.
    """
    events = _reader(as_of).history(
        model, since=None if since is None else _when(since), until=None if until is None else _when(until),
        actor=actor, types=list(types) or None)
    _emit(events, lambda console, rows: console.print(_table("history", rows, _event_columns)))


@cli.command(context_settings=_CONTEXT)
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
def diff(a: str, b: str) -> None:
    """
    Show what changed between two moments.

    A and B are ISO-8601 times (UTC if no zone) or log positions: models and versions
    added, aliases moved, tags and metrics changed.
    """
    _emit(_registry().diff(_when(a), _when(b)), _print_record(f"changes from {a} to {b}"))


@cli.command(context_settings=_CONTEXT)
@click.option("--expected-head", metavar="POS:HASH",
              help="Also prove the log up to POS is unchanged (a head printed earlier by `eventreg head`).")
@click.option("--check-artifacts", is_flag=True, help="Also re-hash every stored artifact (slower).")
def verify(expected_head: str | None, check_artifacts: bool) -> None:
    """
    Check the log's hash chain; exit 1 if it is broken.
    """
    kwargs: dict[str, Any] = {}
    if expected_head is not None:
        kwargs["expected_head"] = eventreg.Head.parse(expected_head)
    if check_artifacts:
        kwargs["artifacts"] = True
    result = _registry().verify(**kwargs)
    _emit(result, _print_verify)
    if not _field(result, "ok"):
        click.get_current_context().exit(EXIT_CHECK_FAILED)


def _print_verify(console: Any, result: Any) -> None:
    if _field(result, "ok"):
        console.print(f"ok: {_field(result, 'checked')} events checked, head {_field(result, 'head')}")
    else:
        console.print(f"FAILED at position {_field(result, 'first_bad_position')}: {_field(result, 'problem')}")


@cli.command(context_settings=_CONTEXT)
def head() -> None:
    """
    Print the log's head as POS:HASH.

    Publish it (CI log, ticket, git tag); later `eventreg verify --expected-head POS:HASH`
    proves the log up to POS unchanged.
    """
    _emit(_registry().head(), lambda console, h: console.print(str(h)))


@cli.command(context_settings=_CONTEXT)
@click.argument("model")
@click.option("--format", "fmt", type=click.Choice(["html", "json", "csv"]), default="html", show_default=True)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True), metavar="FILE")
@click.option("--since", metavar="WHEN", help="Start of the period (ISO-8601 or position).")
@click.option("--until", metavar="WHEN", help="End of the period (ISO-8601 or position).")
def report(model: str, fmt: str, output: str, since: str | None, until: str | None) -> None:
    """
    Write an audit report of a model.

    A timeline of promotions and rollbacks of MODEL and each version's lineage (data,
    code, params, metrics, who and when), as a self-contained HTML page, JSON or CSV.
    """
    result = _registry().audit_report(
        model, since=None if since is None else _when(since), until=None if until is None else _when(until),
        format=fmt, path=output)
    _emit({"model": model, "format": fmt, "output": output, "result": result},
          _done(f"wrote {fmt} audit report of {model} to {output}"))


@cli.command(context_settings=_CONTEXT)
@click.argument("src_url", metavar="SRC_URL")
@click.argument("dst_url", metavar="DST_URL")
def copy(src_url: str, dst_url: str) -> None:
    """
    Copy a whole log into another, empty backend.

    Positions, timestamps, actors and hashes are kept, so the copy verifies and has the
    same head. A destination holding a prefix of the source (an interrupted copy) is
    resumed; any other non-empty destination is refused.
    """
    result = eventreg.copy(src_url, dst_url)
    _emit(result, lambda console, r: console.print(
        f"copied {_field(r, 'copied')} events ({_field(r, 'skipped')} already there), head {_field(r, 'head')}"))


# -- gate and demo ----------------------------------------------------------------------------


@cli.command(context_settings=_CONTEXT)
@click.argument("model")
@click.argument("ref")
@click.option("--require", "requires", multiple=True, metavar="CONDITION",
              help='A search filter the version must match, e.g. "metrics.accuracy >= 0.9" (repeatable).')
@click.option("--better-than", "better", multiple=True, metavar="ALIAS:FIELD",
              help="FIELD must be greater than on the version ALIAS points at, e.g. "
                   "production:metrics.accuracy (repeatable; holds when nothing holds ALIAS yet).")
@click.option("--promote-to", metavar="ALIAS", help="When every condition holds, promote the version to ALIAS.")
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
    baselines = []
    for item in better:
        alias, sep, field = item.partition(":")
        if not sep or not alias or not field:
            raise click.BadParameter(f"expected ALIAS:FIELD, got {item!r}", param_hint="--better-than")
        baselines.append((alias, field))
    reg = _registry()
    version = _field(reg.get_version(model, _ref(ref)), "version")
    this = f"model = {_quote(model)} and version = {version}"
    checks = []
    for condition in requires:
        ok = bool(reg.search_versions(f"{this} and ({condition})", limit=1))
        checks.append({"condition": condition, "ok": ok, "note": None})
    for alias, field in baselines:
        condition = f"{field} > {alias}"
        holder = _version_or_none(reg, model, alias)
        if holder is None:
            checks.append({"condition": condition, "ok": True, "note": f"nothing holds {alias} yet"})
            continue
        baseline = _metric_value(_field(holder, field))
        if not isinstance(baseline, (int, float)) or isinstance(baseline, bool) or math.isnan(baseline):
            checks.append({"condition": condition, "ok": False,
                           "note": f"{alias} (version {_field(holder, 'version')}) has no number in {field}"})
            continue
        ok = bool(reg.search_versions(f"{this} and {field} > {baseline!r}", limit=1))
        checks.append({"condition": condition, "ok": ok,
                       "note": f"{alias} is version {_field(holder, 'version')} with {field} = {_cell(baseline)}"})
    passed = all(check["ok"] for check in checks)
    promoted = None
    if passed and promote_to:
        promoted = reg.promote(model, version, alias=promote_to,
                               reason=reason or "passed gate: " + "; ".join(c["condition"] for c in checks))
    _emit({"ok": passed, "model": model, "version": version, "checks": checks,
           "promoted_to": promote_to if promoted is not None else None},
          _print_gate)
    if not passed:
        click.get_current_context().exit(EXIT_CHECK_FAILED)


def _quote(text: str) -> str:
    """
    A string literal of the filter language.
    """
    return "'" + text.replace("'", "''") + "'"


def _version_or_none(reg: Any, model: str, ref: str) -> Any:
    try:
        return reg.get_version(model, ref)
    except eventreg.NotFound:
        return None


def _print_gate(console: Any, data: Any) -> None:
    title = f"gate {data['model']} version {data['version']}"
    console.print(_table(title, data["checks"], [("condition", "condition"), ("ok", "ok"), ("note", "note")]))
    if data["ok"]:
        console.print("gate passed" + (f"; promoted to {data['promoted_to']}" if data["promoted_to"] else ""))
    else:
        failed = [c["condition"] for c in data["checks"] if not c["ok"]]
        console.print(f"gate FAILED: {'; '.join(failed)}")


@cli.command(context_settings=_CONTEXT)
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


if __name__ == "__main__":  # pragma: no cover
    main()
