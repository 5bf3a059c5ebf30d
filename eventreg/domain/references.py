"""
``models:/`` references, as MLflow users write them.

========================  ====================================
``models:/iris/3``         version 3 of ``iris``
``models:/iris@production`` the version the alias points at
``models:/iris/v1.1``      the version labelled ``v1.1``
``models:/iris/latest``    the highest version number
========================  ====================================
"""

from __future__ import annotations

from typing import Literal

import attrs

from eventreg.domain.validation import check_name
from eventreg.errors import InvalidReference, ValidationError

PREFIX = "models:/"

Kind = Literal["version", "alias", "label", "latest"]


@attrs.frozen
class ModelReference:
    """
    A parsed reference: the model name and how the version is chosen.

    ``value`` is the version number (kind ``"version"``), the alias or label name, or
    ``None`` for ``"latest"``.
    """

    model: str
    kind: Kind
    value: int | str | None = None

    def __str__(self) -> str:
        if self.kind == "alias":
            return f"{PREFIX}{self.model}@{self.value}"
        if self.kind == "latest":
            return f"{PREFIX}{self.model}/latest"
        return f"{PREFIX}{self.model}/{self.value}"


def parse_reference(text: str) -> ModelReference:
    """
    Parse a ``models:/`` reference.

    Raises:
        InvalidReference: the text is not one of the four forms, or a name in it is invalid.
    """
    if not isinstance(text, str):
        raise InvalidReference(f"a model reference must be a string, not {type(text).__name__}")
    if not text.startswith(PREFIX):
        raise InvalidReference(
            f"not a model reference: {text[:80]!r} (expected models:/NAME/VERSION, "
            "models:/NAME@ALIAS, models:/NAME/LABEL or models:/NAME/latest)"
        )
    rest = text[len(PREFIX):]
    try:
        if "@" in rest:
            model, alias = rest.split("@", 1)
            if "/" in model:
                raise InvalidReference(f"invalid model reference {text!r}: '/' before '@'")
            return ModelReference(check_name(model, "model name"), "alias", check_name(alias, "alias"))
        parts = rest.split("/")
        if len(parts) != 2:
            raise InvalidReference(
                f"invalid model reference {text!r}: expected models:/NAME/VERSION or models:/NAME@ALIAS"
            )
        model, selector = parts
        check_name(model, "model name")
        if selector.isdigit() and selector.isascii():
            number = int(selector)
            if number < 1:
                raise InvalidReference(f"invalid model reference {text!r}: versions start at 1")
            return ModelReference(model, "version", number)
        if selector == "latest":
            return ModelReference(model, "latest")
        return ModelReference(model, "label", check_name(selector, "label"))
    except ValidationError as e:
        raise InvalidReference(f"invalid model reference {text[:80]!r}: {e}") from None
