"""
The ``eventreg`` command: parse the arguments, call one public method, print the result.

Every command builds a :class:`eventreg.Registry` (or calls a module-level function such
as :func:`eventreg.copy`), calls one public method and formats what it returns: a rich
table for people, ``--json`` for machines. The command holds no registry logic; when it
seems to need some, the API is missing a method.

Errors become exit codes in one place, ``_app._Group``: every
:class:`eventreg.errors.EventregError` carries its ``exit_code`` (2 input, 3 not found,
4 conflict, 5 backend unavailable), click's own usage errors exit 2, a failed check
(``gate``, ``verify``) exits 1. docs/cli.md documents the codes and the JSON shapes.
"""

from eventreg.cli import (  # noqa: F401  (they add their commands)
    _audit_commands,
    _governance_commands,
    _mlflow_command,
    _registry_commands,
    _reproduce_commands,
    _ui_command,
)
from eventreg.cli._app import EXIT_CHECK_FAILED, EXIT_INTERNAL, cli, main
from eventreg.cli._output import to_json

__all__ = ["EXIT_CHECK_FAILED", "EXIT_INTERNAL", "cli", "main", "to_json"]
