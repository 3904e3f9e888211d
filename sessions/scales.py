"""PHQ-9, GAD-7, MOAA/S and CADSS scoring.

This is the one place totals and severity bands are derived. Models store every item answer;
forms, views, charts and exports call these functions instead of adding numbers themselves,
so a band boundary can never differ between two pages. Pure functions, no database access.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

PHQ9_ITEM_COUNT = 9
GAD7_ITEM_COUNT = 7
ITEM_MIN = 0
ITEM_MAX = 3
PHQ9_TOTAL_MAX = PHQ9_ITEM_COUNT * ITEM_MAX
GAD7_TOTAL_MAX = GAD7_ITEM_COUNT * ITEM_MAX
CADSS_MIN, CADSS_MAX = 0, 92
MOAAS_MIN, MOAAS_MAX = 0, 5

# PHQ-9 item 9 asks about thoughts of self-harm; it is the ninth answer (index 8).
PHQ9_SELF_HARM_ITEM_INDEX = 8


@dataclass(frozen=True)
class Band:
    """A severity band of a questionnaire total, inclusive at both ends."""

    code: str
    label: str
    low: int
    high: int

    def __contains__(self, total: object) -> bool:
        return _is_whole_number(total) and self.low <= total <= self.high  # type: ignore[operator]


PHQ9_BANDS: tuple[Band, ...] = (
    Band("minimal", "Minimal", 0, 4),
    Band("mild", "Mild", 5, 9),
    Band("moderate", "Moderate", 10, 14),
    Band("moderately_severe", "Moderately severe", 15, 19),
    Band("severe", "Severe", 20, 27),
)

GAD7_BANDS: tuple[Band, ...] = (
    Band("minimal", "Minimal", 0, 4),
    Band("mild", "Mild", 5, 9),
    Band("moderate", "Moderate", 10, 14),
    Band("severe", "Severe", 15, 21),
)

# Modified Observer's Assessment of Alertness/Sedation, as used on the esketamine REMS form.
MOAAS_LABELS: dict[int, str] = {
    5: "Responds readily to name spoken in normal tone",
    4: "Lethargic response to name spoken in normal tone",
    3: "Responds only after name is called loudly and/or repeatedly",
    2: "Responds only after mild prodding or shaking",
    1: "Responds only to painful stimulus (trapezius squeeze)",
    0: "No response to painful stimulus (trapezius squeeze)",
}


def _is_whole_number(value: object) -> bool:
    # bool is a subclass of int; True must not silently count as an answer of 1.
    return isinstance(value, int) and not isinstance(value, bool)


def _validated_items(items: Sequence[int], *, scale: str, count: int) -> list[int]:
    """Return the answers as a list, or raise ValueError saying what is wrong and where."""
    if (type(items) in (list, tuple) and len(items) == count
            and {type(answer) for answer in items} == {int}
            and min(items) >= ITEM_MIN and max(items) <= ITEM_MAX):
        # Fast path for well-formed answers (every chart point of a long history comes here);
        # anything else takes the item-by-item check below, which says what is wrong.
        return list(items)
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise ValueError(f"{scale} answers must be a list of {count} numbers.")
    if len(items) != count:
        raise ValueError(f"{scale} needs exactly {count} item answers, got {len(items)}.")
    for number, answer in enumerate(items, start=1):
        if not _is_whole_number(answer) or not ITEM_MIN <= answer <= ITEM_MAX:
            raise ValueError(
                f"{scale} item {number} must be a whole number from {ITEM_MIN} to {ITEM_MAX}, "
                f"got {answer!r}."
            )
    return list(items)


def _band_for(total: int, *, scale: str, bands: tuple[Band, ...]) -> Band:
    for band in bands:
        if total in band:
            return band
    raise ValueError(
        f"{scale} total must be a whole number from {bands[0].low} to {bands[-1].high}, "
        f"got {total!r}."
    )


def phq9_total(items: Sequence[int]) -> int:
    """Sum of the nine PHQ-9 answers (0–27)."""
    return sum(_validated_items(items, scale="PHQ-9", count=PHQ9_ITEM_COUNT))


def phq9_band(total: int) -> Band:
    """Depression severity band of a PHQ-9 total."""
    return _band_for(total, scale="PHQ-9", bands=PHQ9_BANDS)


def phq9_self_harm_flag(items: Sequence[int]) -> bool:
    """True when item 9 (thoughts of self-harm) is above 0: a same-day safety alert."""
    answers = _validated_items(items, scale="PHQ-9", count=PHQ9_ITEM_COUNT)
    return answers[PHQ9_SELF_HARM_ITEM_INDEX] > 0


def gad7_total(items: Sequence[int]) -> int:
    """Sum of the seven GAD-7 answers (0–21)."""
    return sum(_validated_items(items, scale="GAD-7", count=GAD7_ITEM_COUNT))


def gad7_band(total: int) -> Band:
    """Anxiety severity band of a GAD-7 total."""
    return _band_for(total, scale="GAD-7", bands=GAD7_BANDS)


def moaas_label(score: int) -> str:
    """Human description of a MOAA/S sedation score (5 = alert, 0 = unresponsive)."""
    if not _is_whole_number(score) or score not in MOAAS_LABELS:
        raise ValueError(
            f"MOAA/S score must be a whole number from {MOAAS_MIN} to {MOAAS_MAX}, got {score!r}."
        )
    return MOAAS_LABELS[score]


def cadss_in_range(score: int) -> bool:
    """True when a CADSS dissociation total is a whole number within 0–92."""
    return _is_whole_number(score) and CADSS_MIN <= score <= CADSS_MAX
