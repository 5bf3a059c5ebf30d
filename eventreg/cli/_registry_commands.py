"""
Commands over models, versions, runs and aliases: each calls one ``Registry`` method.
"""

from __future__ import annotations

from typing import Any

import click

from eventreg.cli._app import CONTEXT, _as_of_option, _pairs, _number, _reader, _reason_option, _registry, cli
from eventreg.cli._output import _cell, _done, _emit, _field, _print_record, _table
from eventreg.reproduce import reproductions

_model_columns = [
    ("name", "name"), ("description", "description"), ("status", "status"),
    ("latest", "latest_version"), ("aliases", "aliases"), ("tags", "tags"), ("created", "created_at"),
]
_version_columns = [
    ("model", "name"), ("version", "version"), ("label", "label"), ("aliases", "aliases"),
    ("status", "status"), ("metrics", "metrics"), ("created", "created_at"), ("by", "actor"),
]
_run_columns = [
    # params and the actor are in `runs show` and --json: a run's id and name come whole
    ("id", "id"), ("name", "name"), ("experiment", "experiment"), ("status", "status"),
    ("metrics", "metrics"), ("started", "started_at"),
]

# -- models ----------------------------------------------------------------------------------


@cli.group(context_settings=CONTEXT)
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
@_reason_option(required=True)
def models_archive(name: str, reason: str) -> None:
    """
    Archive a model (its history stays).

    An archived model's versions can be promoted only with --force.
    """
    result = _registry().archive_model(name, reason=reason)
    _emit(result, _done(f"archived model {name}"))


# -- versions ------------------------------------------------------------------------------


@cli.group(context_settings=CONTEXT)
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
    reader = _reader(as_of)
    version = reader.get_version(model, ref)
    signed = reader.signatures(version.name, version.version)  # decisions on it, as signed records show them
    reproduced = reproductions(reader, version.name, version.version)  # eventreg reproduce's recorded outcomes

    def human(console: Any, data: Any) -> None:
        _print_record(f"{model} {ref}")(console, data)
        for signature in signed:
            console.print(f"signed: {signature} (request {signature.request_id}, {signature.alias})", markup=False)
        for r in reproduced:
            console.print(f"reproduction at position {r.position} by {r.actor}: {r.summary()}", markup=False,
                          soft_wrap=True)

    _emit(version, human)


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
        reg.set_version_tag(model, ref, key, value)
    for key in deletes:
        reg.delete_version_tag(model, ref, key)
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
    result = _registry().deprecate_version(model, ref, reason=reason)
    _emit(result, _done(f"deprecated {model} {ref}"))


# -- runs ------------------------------------------------------------------------------------


@cli.group(context_settings=CONTEXT)
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


@cli.command("log-metric", context_settings=CONTEXT)
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
    result = _registry().log_metric(model, ref, key, value, step=step)
    _emit(result, _done(f"{model} {ref}: {key} = {_cell(value)}"))


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.argument("ref")
@click.option("--alias", "alias", metavar="ALIAS", help="The alias to move, e.g. production.")
@click.option("--to", "to_alias", metavar="ALIAS", hidden=True)  # the spelling before --alias
@_reason_option()
@click.option("--force", is_flag=True, help="Allow a deprecated or archived version (recorded).")
def promote(model: str, ref: str, alias: str | None, to_alias: str | None, reason: str | None,
            force: bool) -> None:
    """
    Point an alias at a version.

    Moves --alias ALIAS of MODEL to version REF and prints the version it replaced; the
    log records it, so `eventreg rollback` can return to it.
    """
    if alias and to_alias and alias != to_alias:
        raise click.UsageError("give the alias once: --alias ALIAS")
    alias = alias or to_alias
    if not alias:
        raise click.UsageError("Missing option '--alias'.")
    result = _registry().promote(model, ref, alias=alias, reason=reason, force=force)
    previous = _field(result, "previous")
    was = "nothing" if previous is None else f"version {previous}"
    _emit(result, _done(f"{model}@{alias} -> version {_field(result, 'version') or ref} (was {was})"))


@cli.command(context_settings=CONTEXT)
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
    result = _registry().rollback(model, alias=alias, to=None if to is None else to, reason=reason,
                                  force=force)
    previous = _field(result, "previous")
    was = "" if previous is None else f" (was version {previous})"
    _emit(result, _done(f"{model}@{alias} rolled back to version {_field(result, 'version')}{was}"))


# -- search, compare, download -----------------------------------------------------------


@cli.command(context_settings=CONTEXT)
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


@cli.command(context_settings=CONTEXT)
@click.argument("model")
@click.argument("refs", nargs=-1, required=True, metavar="REF...")
@_as_of_option
def compare(model: str, refs: tuple[str, ...], as_of: str | None) -> None:
    """
    Show versions' params and metrics side by side.

    Rows whose values differ between the versions REF... of MODEL are marked.
    """
    _emit(_reader(as_of).compare(model, list(refs)), _print_comparison)


def _print_comparison(console: Any, comparison: Any) -> None:
    columns: list[tuple[str, Any]] = [("field", lambda row: f"{row.section}.{row.key}")]
    columns += [(f"version {number}", lambda row, i=i: row.values[i])
                for i, number in enumerate(comparison.versions)]
    columns.append(("differs", lambda row: "*" if row.differs else ""))
    console.print(_table(f"{comparison.model}: params and metrics", comparison.rows, columns))


@cli.command(context_settings=CONTEXT)
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
    written = _reader(as_of).download(model, ref, dest)
    _emit({"model": model, "ref": ref, "dest": str(written)}, _done(f"downloaded {model} {ref} to {written}"))
