"""Reading the input of signals, queries and updates sent from outside.

The Web UI's "Send a Signal" dialog and ``temporal workflow signal`` send whatever the
user typed: nothing, ``null``, a bare string, an object of the wrong shape, several
values. A handler declared with typed parameters turns each of those into a failed
workflow task (a missing argument) or a silently dropped signal (a payload that does not
validate). docbatch's handlers therefore take ``*args`` — decoded as plain JSON values,
never validated by the SDK — and read them here, where nothing can raise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

REASON_MAX_CHARS = 1000


@dataclass(frozen=True)
class CancelInput:
    """What a ``cancel`` signal or Update asked for, read from any payload."""

    reason: str | None
    well_formed: bool
    """Whether the payload was the documented ``{"reason": str | null}`` object (or an
    object without a usable ``reason``, which the first handlers accepted too)."""
    problem: str | None = None
    """Why the payload was not understood, for the worker's log."""


def read_cancel(args: Sequence[Any]) -> CancelInput:
    """The cancel reason in ``args``: an object's ``reason``, or a plain string.

    Every input cancels; a reason is optional. Anything that is neither is ignored and
    described in ``problem``.
    """
    if not args:
        return CancelInput(reason=None, well_formed=False, problem="no input")
    first = args[0]
    extra = f"; {len(args) - 1} further input(s) ignored" if len(args) > 1 else ""
    if isinstance(first, str):
        return CancelInput(
            reason=_clip(first) or None,
            well_formed=False,
            problem=f"a plain string, taken as the reason{extra}",
        )
    if isinstance(first, dict):
        reason = first.get("reason")
        if reason is None or isinstance(reason, str):
            return CancelInput(
                reason=_clip(reason) if reason else None,
                well_formed=not extra,
                problem=extra.removeprefix("; ") or None,
            )
        return CancelInput(
            reason=None,
            well_formed=False,
            problem=f"'reason' is {_kind(reason)}, not a string: ignored{extra}",
        )
    return CancelInput(
        reason=None, well_formed=False, problem=f"input is {_kind(first)}: ignored{extra}"
    )


def describe_ignored(args: Sequence[Any]) -> str | None:
    """Why the input of a handler that takes none is ignored (None when there is none)."""
    if not args or (len(args) == 1 and args[0] in (None, {}, "")):
        return None
    return f"{len(args)} input(s) ({', '.join(_kind(a) for a in args)}) ignored: none is needed"


def _clip(text: str) -> str:
    return text.strip()[:REASON_MAX_CHARS]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
