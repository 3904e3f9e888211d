"""How clinic policy settings (`CLINIC_SAFETY`, `CLINIC_REMINDERS`) are checked.

A policy is a frozen dataclass: its fields are the keys, their defaults and, through
`policy_field`, the range a value must lie in. `field_errors` checks a mapping from settings
against it; each dataclass adds the rules that relate two keys (a warning threshold above the
hold threshold). Every problem is a `PolicyError`, the one error type of a bad policy: loading
the policy raises the first, and the system checks (clinic/checks.py) report them all when the
server starts, so a typo in a threshold fails `manage.py check` instead of being ignored or
discovered mid-session.

No database access and no settings access here: safety.py stays a pure module.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import field, fields
from typing import Any, get_type_hints

from django.core.exceptions import ImproperlyConfigured

UNKNOWN_KEY = "unknown key"
WRONG_TYPE = "wrong type"
OUT_OF_RANGE = "out of range"

HH_MM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")


class PolicyError(ImproperlyConfigured):
    """A clinic policy setting that cannot be used: which setting, which key, what is wrong."""

    def __init__(self, message: str, *, setting: str, key: str | None, problem: str):
        super().__init__(message)
        self.message = message
        self.setting = setting
        self.key = key
        self.problem = problem


def policy_field(default: Any, *, low: float | None = None, high: float | None = None,
                 pattern: re.Pattern | None = None, expects: str | None = None) -> Any:
    """A policy key with its default and the values it accepts (bounds are inclusive).

    `pattern` and `expects` describe text that must have a shape (a time of day "HH:MM").
    """
    return field(default=default, metadata={"low": low, "high": high, "pattern": pattern,
                                            "expects": expects})


# What each Python type is called in a message an operator reads, and the check for it. A bool
# is an int to Python, but `true` for a number of minutes is a typo, never an answer.
_TYPES: dict[type, tuple[str, Callable[[Any], bool]]] = {
    int: ("a whole number", lambda v: isinstance(v, int) and not isinstance(v, bool)),
    float: ("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
    str: ("text", lambda v: isinstance(v, str)),
}


def configured(value: object) -> object:
    """An unset policy setting means every default; anything else is checked as given."""
    return {} if value is None else value


def _range_text(low, high) -> str:
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


def field_errors(policy: type, mapping: object, *, setting: str) -> list[PolicyError]:
    """Every unknown key, wrongly typed value and value out of its range in `mapping`."""
    if not isinstance(mapping, Mapping):
        return [PolicyError(f"{setting} must be a dict (a JSON object) of settings, got "
                            f"{type(mapping).__name__}.", setting=setting, key=None,
                            problem=WRONG_TYPE)]
    known = {f.name: f for f in fields(policy)}
    hints = get_type_hints(policy)
    errors = []
    for key in sorted(str(key) for key in mapping if key not in known):
        close = difflib.get_close_matches(key, known, n=1)
        did_you_mean = f" (did you mean {close[0]!r}?)" if close else ""
        errors.append(PolicyError(
            f"{setting} has an unknown setting {key!r}{did_you_mean}; known settings are "
            f"{', '.join(known)}.", setting=setting, key=key, problem=UNKNOWN_KEY))
    for key, value in mapping.items():
        if key not in known:
            continue
        meta = known[key].metadata
        type_name, is_type = _TYPES[hints[key]]
        expects = meta.get("expects") or type_name
        pattern = meta.get("pattern")
        if not is_type(value) or (pattern is not None and not pattern.fullmatch(value)):
            errors.append(PolicyError(f"{setting}[{key!r}] must be {expects}, got {value!r}.",
                                      setting=setting, key=key, problem=WRONG_TYPE))
            continue
        low, high = meta.get("low"), meta.get("high")
        if (low is not None and value < low) or (high is not None and value > high):
            errors.append(PolicyError(
                f"{setting}[{key!r}] must be {_range_text(low, high)}, got {value!r}.",
                setting=setting, key=key, problem=OUT_OF_RANGE))
    return errors
