"""
Namespaces of the SQL log: several logs in one database, told apart by a PostgreSQL
schema (``?schema=team_a``) or a table-name prefix (``?prefix=team_a_``, every dialect).

The two query parameters are eventreg's own: they are taken off the URL here, and the
rest of the query goes to the driver as it would without them. Names are checked so
that they need no quoting anywhere (lower-case letters, digits, ``_``): the same
spelling then works in eventreg's URL, in ``GRANT ... ON SCHEMA team_a`` and in a
``psql`` or ``mysql`` session.
"""

from __future__ import annotations

import re
from typing import NamedTuple
from urllib.parse import parse_qsl, urlencode

from eventreg.backends.sql_statements import PREFIX
from eventreg.config import redact_url
from eventreg.errors import ConfigurationError

#: a name that needs no quoting in PostgreSQL, MySQL or SQLite, and whose case no server
#: changes (PostgreSQL folds unquoted names to lower case; MySQL may not, by platform)
_NAME = re.compile(r"[a-z_][a-z0-9_]*\Z")
#: PostgreSQL's identifier limit (63 bytes); MySQL's is 64
_SCHEMA_MAX = 63
#: the longest name eventreg gives an object is ``eventreg_uq_stream_version`` (26
#: characters): a prefix up to 32 keeps every name within PostgreSQL's 63
_PREFIX_MAX = 32
#: the query parameters eventreg reads itself; the others are the driver's
PARAMETERS = ("prefix", "schema")


class Namespace(NamedTuple):
    """
    Where one log's tables live in a database: an optional PostgreSQL schema and a
    prefix put before eventreg's own table names (``team_a_`` + ``eventreg_events``).
    """

    schema: str | None = None
    prefix: str = ""

    def name(self, table: str) -> str:
        """
        The unqualified name of one of the log's tables (``events`` -> ``team_a_eventreg_events``).
        """
        return f"{self.prefix}{PREFIX}{table}"

    def qualified(self, table: str) -> str:
        """
        The name to write in SQL text: schema-qualified when the namespace has a schema.
        """
        name = self.name(table)
        return f"{self.schema}.{name}" if self.schema else name

    def describe(self) -> str:
        """
        ``", schema 'team_a'"`` and/or ``", table prefix 'team_a_'"``, or ``""`` for the default.
        """
        parts = []
        if self.schema:
            parts.append(f"schema {self.schema!r}")
        if self.prefix:
            parts.append(f"table prefix {self.prefix!r}")
        return "".join(f", {part}" for part in parts)


DEFAULT = Namespace()


def with_namespace(url: str, ns: Namespace) -> str:
    """
    ``url`` (one :func:`split_namespace` returned) with the namespace's parameters put back.
    """
    params = [(key, value) for key, value in (("schema", ns.schema), ("prefix", ns.prefix)) if value]
    if not params:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


def _checked(kind: str, value: str, longest: int, url: str) -> str:
    if not _NAME.match(value) or len(value) > longest:
        raise ConfigurationError(
            f"{redact_url(url)}: {kind}={value!r} is not a usable name: use lower-case letters, digits "
            f"and '_', starting with a letter or '_', at most {longest} characters"
        )
    return value


def split_namespace(url: str, dialect: str) -> tuple[str, Namespace]:
    """
    ``url`` without eventreg's ``schema`` and ``prefix`` parameters, and the namespace they name.

    Args:
        url: the log's URL as the user wrote it.
        dialect: ``sqlite``, ``postgresql``, ``mysql`` or ``mariadb``.

    Raises:
        ConfigurationError: a parameter given twice or empty, a name that is not usable,
            or ``schema`` on a database other than PostgreSQL.
    """
    base, mark, query = url.partition("?")
    if not mark:
        return url, DEFAULT
    pairs = parse_qsl(query, keep_blank_values=True)
    ours: dict[str, str] = {}
    rest = []
    for key, value in pairs:
        if key not in PARAMETERS:
            rest.append((key, value))
        elif key in ours:
            raise ConfigurationError(f"{redact_url(url)}: {key}= is given twice")
        else:
            ours[key] = value
    if not ours:
        return url, DEFAULT
    schema = ours.get("schema")
    if schema is not None:
        if dialect != "postgresql":
            where = "a SQLite file" if dialect == "sqlite" else "MySQL/MariaDB (there a schema is a database)"
            raise ConfigurationError(
                f"{redact_url(url)}: schema= is for PostgreSQL; on {where} keep logs apart with "
                f"prefix=team_a_ instead")
        _checked("schema", schema, _SCHEMA_MAX, url)
    prefix = ours.get("prefix", "")
    if "prefix" in ours:
        _checked("prefix", prefix, _PREFIX_MAX, url)
    return (f"{base}?{urlencode(rest)}" if rest else base), Namespace(schema, prefix)


def unknown_parameter(url: str, message: str) -> ConfigurationError:
    """
    The error for a query parameter the driver refused (``message`` is the driver's words).
    """
    return ConfigurationError(
        f"{redact_url(url)}: a URL parameter is unknown to eventreg and to the database driver "
        f"({message}); eventreg's own are {' and '.join(f'{p}=' for p in PARAMETERS)}"
    )
