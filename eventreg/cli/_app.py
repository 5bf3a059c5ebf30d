"""
The ``eventreg`` root command: global options, the registry they open, and the one place
where exceptions become exit codes.
"""

from __future__ import annotations

import difflib
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any

import attrs
import click

import eventreg
from eventreg.errors import EventregError, FilterSyntaxError, NotFound

#: Exit code of a check that ran and failed (``gate``, ``verify``).
EXIT_CHECK_FAILED = 1
#: Exit code of bad input: a usage error, an invalid value, a local path that cannot be used.
EXIT_USAGE = 2
#: Exit code of an unexpected error: a bug in eventreg (rerun with ``--debug``).
EXIT_INTERNAL = 70

#: click >= 8.2 raises this for a group called without a command (older: prints help, exits 0)
_NO_ARGS: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


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
    #: the running command's arguments, for "did you mean" hints
    params: dict[str, Any] = attrs.field(factory=dict)

    def registry(self, ctx: click.Context, *, create: bool = True) -> Any:
        """
        The registry for these settings, opened once and closed when the command ends.

        ``create=False`` (every read-only command): a URL naming no registry is an
        error (``RegistryNotFound``, exit 3), never a new empty store.
        """
        if self._registry is None:
            reg = eventreg.open(url=self.url, artifacts=self.artifacts, actor=self.actor, create=create)
            self._registry = ctx.with_resource(reg)
        return self._registry




def _settings(ctx: click.Context) -> _Settings:
    return ctx.find_object(_Settings)


def _registry(*, create: bool = True) -> Any:
    """
    The registry of the global options; ``create=False`` for a command that only reads.
    """
    ctx = click.get_current_context()
    settings = _settings(ctx)
    settings.params = dict(ctx.params)
    return settings.registry(ctx, create=create)


def _reader(as_of: str | None = None) -> Any:
    """
    The registry opened read-only (a missing store is an error, not created), or its
    view ``as_of(WHEN)`` when ``--as-of`` was given.
    """
    reg = _registry(create=False)
    return reg if as_of is None else reg.as_of(as_of)


# -- errors: the one place where exceptions become exit codes --------------------------


class _Group(click.Group):
    """
    The root group: maps eventreg's errors to one line on stderr and an exit code.
    """

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        """
        Run the command line; click's own errors become one ``error:`` line and exit 2.
        """
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
        """
        Run the chosen command; an eventreg error exits with its class's ``exit_code``.
        """
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except EventregError as error:
            _traceback(ctx)
            message = _message(error)
            if isinstance(error, NotFound) and "did you mean" not in message:
                message += _suggestion(ctx, message)
            _fail(ctx, message, getattr(error, "exit_code", 2))
        except KeyboardInterrupt:
            _fail(ctx, "interrupted", 130)
        except BrokenPipeError:  # the reader went away (eventreg history | head): not an error
            _silence_stdout()
            ctx.exit(0)
        except OSError as error:  # a path the user named: a missing folder, a file in the way
            _traceback(ctx)
            if error.filename is None or isinstance(error, ConnectionError):
                _fail(ctx, _internal(error), EXIT_INTERNAL)
            _fail(ctx, _file_message(error), EXIT_USAGE)
        except Exception as error:  # a bug: say so in one line; --debug shows the traceback
            _traceback(ctx)
            _fail(ctx, _internal(error), EXIT_INTERNAL)


def _internal(error: BaseException) -> str:
    return (f"internal error: {type(error).__name__}: {_one_line(str(error))} "
            "(rerun with --debug for the traceback)")


def _file_message(error: OSError) -> str:
    """
    ``PATH: what is wrong`` for a local file error, as shell tools print it.
    """
    reason = error.strerror or type(error).__name__
    return f"{error.filename}: {reason}"


def _suggestion(ctx: click.Context, message: str) -> str:
    """
    `` (did you mean 'iris'?)`` for a model, label or alias name close to one that
    exists; empty when nothing is close or the registry cannot say.
    """
    settings = _settings(ctx)
    params, reg = settings.params, settings._registry
    model = params.get("model") or params.get("name")
    if reg is None or not isinstance(model, str):
        return ""
    try:
        names = [m.name for m in reg.list_models()]
        if model not in names:
            wanted, candidates = model, names
        else:
            wanted = next((params[k] for k in ("alias", "ref", "to") if isinstance(params.get(k), str)), None)
            if wanted is None or repr(wanted) not in message:
                return ""
            candidates = list(reg.get_model(model).aliases)
            candidates += [v.label for v in reg.list_versions(model) if v.label]
    except Exception:  # a hint must never turn one error into another
        return ""
    close = difflib.get_close_matches(wanted, candidates, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _silence_stdout() -> None:
    """
    Point stdout at /dev/null so that Python's final flush does not fail again.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (tests)
        pass


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

# -- the root group ------------------------------------------------------------------------


@click.group(cls=_Group, context_settings=CONTEXT)
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
    3 not found, 4 conflict, 5 backend unavailable, 6 forbidden by governance.
    """
    ctx.obj = _Settings(url=url, artifacts=artifacts, actor=actor, json=as_json, debug=debug)


def main(argv: list[str] | None = None) -> None:
    """
    The ``eventreg`` console script.
    """
    cli.main(args=argv, prog_name="eventreg")
