"""Risk flags shown in a patient's header and used to filter patient lists.

Derived from the same condition kinds and drug classes as the evaluation findings in
`sessions.safety`, so the header never says "no interaction risk" while evaluation warns.
Pure: callers pass the kinds and classes they already loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sessions.safety import (
    CARDIOVASCULAR_RISK_CONDITION_KINDS,
    DRUG_CLASSES,
    INTERACTING_DRUG_CLASSES,
    PANIC_RISK_CONDITION_KINDS,
    validated_condition_kinds,
)

PANIC_LABEL = "Panic risk"
CARDIOVASCULAR_LABEL = "Cardiovascular risk"
INTERACTION_LABEL = "Interaction risk"


@dataclass(frozen=True)
class RiskFlags:
    """Which of the three standing risks apply to a patient."""

    panic: bool
    cardiovascular: bool
    interaction: bool

    def labels(self) -> list[str]:
        """Human labels of the flags that are set, in a fixed order."""
        flags = (
            (self.panic, PANIC_LABEL),
            (self.cardiovascular, CARDIOVASCULAR_LABEL),
            (self.interaction, INTERACTION_LABEL),
        )
        return [label for is_set, label in flags if is_set]


def risk_flags(*, condition_kinds: Iterable[str], drug_classes: Iterable[str]) -> RiskFlags:
    """Risk flags from a patient's condition history and active medications' drug classes."""
    kinds = validated_condition_kinds(condition_kinds)
    classes = frozenset(drug_classes)
    unknown = sorted(classes.difference(DRUG_CLASSES))
    if unknown:
        # A typo here would silently hide an interaction risk, so refuse it.
        raise ValueError(
            f"Unknown drug class(es) {', '.join(map(repr, unknown))}; "
            f"expected any of {', '.join(DRUG_CLASSES)}."
        )
    return RiskFlags(
        panic=not kinds.isdisjoint(PANIC_RISK_CONDITION_KINDS),
        cardiovascular=not kinds.isdisjoint(CARDIOVASCULAR_RISK_CONDITION_KINDS),
        interaction=not classes.isdisjoint(INTERACTING_DRUG_CLASSES),
    )
