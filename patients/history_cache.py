"""The history page's cache: a patient's charts and session list under the patient's change
stamp, each session's rendered card under the session's (sessions/change_stamps.py keeps the
stamps in the database's own triggers).

Opening a patient whose record has not changed since anyone last opened it costs a handful of
small queries; after a nurse records a vital only that session's card and the charts are
rebuilt. The cache is each web process's own memory (settings.CACHES["history"]): health
information never leaves the process, and a restart or deploy starts it empty.

A stamp is read before what is cached under it: the patient's with the patient row, the
sessions' with the patient's record, before any session is loaded. A change committed in
between can only leave newer content under an older stamp, which nobody asks for again.
"""

from django.core.cache import caches
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString

from patients import selectors
from patients.models import Patient

CACHE_ALIAS = "history"
CARD_TEMPLATE = "patients/_session_card.html"


def _key(kind: str, pk: int, stamp: int | str | None) -> str:
    # Times are shown in the active zone, so it is part of what was rendered. A session that
    # nothing has touched since the triggers were installed has no stamp yet: None.
    return f"{kind}:{pk}:{stamp}:{timezone.get_current_timezone_name()}"


def patient_record(patient: Patient) -> "selectors.PatientRecord":
    """`selectors.patient_record`, cached under `patient.change_stamp` (read with the patient).
    When it changed, the sessions' summaries of the last build are handed back in, so only the
    sessions whose own stamp changed are read again."""
    cache, key = caches[CACHE_ALIAS], _key("record", patient.pk, patient.change_stamp)
    record = cache.get(key)
    if record is None:
        summaries_key = _key("summaries", patient.pk, "any")
        record, summaries = selectors.patient_record(patient, known=cache.get(summaries_key))
        cache.set_many({key: record, summaries_key: summaries})
    return record


def session_cards(stamps: dict[int, int | None]) -> list[SafeString]:
    """The timeline cards of these sessions ({session id: change stamp}, in order): cached
    ones as they are, the rest loaded (three queries however many) and rendered.

    The stamps come with the patient's record: it was built after its own stamps were read,
    and while the patient's stamp is unchanged none of its sessions' has changed either (the
    triggers restamp both in one statement)."""
    session_ids = list(stamps)
    keys = {pk: _key("card", pk, stamps[pk]) for pk in session_ids}
    cache = caches[CACHE_ALIAS]
    cards = cache.get_many(list(keys.values()))
    missing = [pk for pk in session_ids if keys[pk] not in cards]
    if missing:
        rendered = {keys[pk]: render_to_string(CARD_TEMPLATE, {"item": entry})
                    for pk, entry in selectors.timeline_entries(missing).items()}
        cache.set_many(rendered)
        cards.update(rendered)
    # A session archived since the list was read has no card: it is simply not shown.
    return [cards[keys[pk]] for pk in session_ids if keys[pk] in cards]
