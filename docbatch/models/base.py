"""What request and response models share: the bases, the NUL check and error messages.

Request models forbid unknown fields so a typo is an error that names the field, never a
setting silently ignored; a validation error reads as one line per problem.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator


def contains_nul(value: object) -> bool:
    """Whether a string (or a string in a JSON value) contains a NUL character.

    No text field means anything with one, and PostgreSQL cannot store it: such input is
    refused at the edge instead of failing in the database.
    """
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(contains_nul(v) for v in value)
    return False


NUL_MESSAGE = "must not contain NUL (\\u0000) characters"


class _Request(BaseModel):
    """Base of request models: unknown fields are errors, not silently dropped."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if contains_nul(value):
            raise ValueError(NUL_MESSAGE)
        return value


class _Response(BaseModel):
    """Base of response models."""

    model_config = ConfigDict(from_attributes=True)


_UNION_TAGS = ("parse", "classify", "extract")


def format_validation_error(error: ValidationError) -> str:
    """One readable line per problem, each starting with the dotted field path."""
    lines = []
    for item in error.errors(include_url=False):
        loc = [str(p) for p in item["loc"] if p not in _UNION_TAGS]
        field = ".".join(loc)
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field"
        lines.append(f"{field}: {message}" if field else message)
    return "; ".join(lines)
