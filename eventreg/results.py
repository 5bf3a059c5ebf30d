"""
Search results as a list, or as a pandas DataFrame (as MLflow's ``search_runs`` gives them).

``reg.search_runs(...)`` and ``reg.search_versions(...)`` return :class:`Results`, a
plain list with one more method, :meth:`Results.to_pandas`; ``output="pandas"`` returns
the DataFrame directly. pandas is optional: only these calls need it.
"""

from __future__ import annotations

from typing import Any

from eventreg.domain.views import ModelVersion, Run
from eventreg.errors import MissingDriver, ValidationError

__all__ = ["OUTPUTS", "Results"]

#: What ``output=`` accepts.
OUTPUTS = ("list", "pandas")

_RUN_COLUMNS = ("run_id", "experiment_id", "run_name", "status", "start_time", "end_time", "actor")
_VERSION_COLUMNS = ("name", "version", "label", "status", "aliases", "created_at", "actor", "run_id",
                    "description")


class Results(list):  # type: ignore[type-arg]
    """
    A list of runs or versions, with :meth:`to_pandas`.
    """

    @staticmethod
    def check_output(output: str) -> None:
        """
        Raises:
            ValidationError: ``output`` is not one of :data:`OUTPUTS`.
        """
        if output not in OUTPUTS:
            raise ValidationError(f"output must be one of {', '.join(map(repr, OUTPUTS))}, not {output!r}")

    def output(self, output: str) -> Any:
        """
        These results as ``output`` asks: the list itself, or a DataFrame.
        """
        return self if output == "list" else self.to_pandas()

    def to_pandas(self) -> Any:
        """
        A pandas DataFrame with one row per result: the attributes first, then one
        column per metric (``metrics.accuracy``), param (``params.lr``) and tag
        (``tags.team``), as MLflow names them; a missing value is NaN/None.

        Raises:
            MissingDriver: pandas is not installed (``pip install pandas``).
        """
        try:
            import pandas
        except ImportError as e:
            raise MissingDriver("a DataFrame needs pandas, which is not installed: pip install pandas "
                                "(or pip install 'eventreg[pandas]')") from e
        rows = [_row(item) for item in self]
        base = _VERSION_COLUMNS if self and isinstance(self[0], ModelVersion) else _RUN_COLUMNS
        columns = list(base)
        for group in ("metrics", "params", "tags"):
            keys = sorted({key for row in rows for key in row if key.startswith(group + ".")})
            columns.extend(keys)
        return pandas.DataFrame(rows, columns=columns)


def _row(item: Any) -> dict[str, Any]:
    if isinstance(item, Run):
        row: dict[str, Any] = {
            "run_id": item.id, "experiment_id": item.experiment, "run_name": item.name, "status": item.status,
            "start_time": item.started_at, "end_time": item.ended_at, "actor": item.actor,
        }
    elif isinstance(item, ModelVersion):
        row = {
            "name": item.name, "version": item.version, "label": item.label, "status": item.status,
            "aliases": list(item.aliases), "created_at": item.created_at, "actor": item.actor,
            "run_id": item.run_id, "description": item.description,
        }
    else:
        raise TypeError(f"cannot make a DataFrame row of a {type(item).__name__}")
    for group in ("metrics", "params", "tags"):
        for key, value in getattr(item, group).items():
            row[f"{group}.{key}"] = value
    return row
