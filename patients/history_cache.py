"""The history page's cache: a patient's charts and session list under the patient's change
stamp, each session's rendered card under the session's (sessions/change_stamps.py keeps the
stamps in the database's own triggers).

Opening a patient whose record has not changed since anyone last opened it costs a handful of
small queries; after a nurse records a vital only that session's card and the charts are
rebuilt. Two tiers: each web process's own memory (settings.CACHES["history"]) in front of a
table in the clinic's database (HistoryCacheEntry), which every process and every restart
shares, so a record opened once is not rebuilt by the next gunicorn worker or after a deploy.
Health information stays in the process and the database that holds it anyway.

A stamp is read before what is cached under it: the patient's with the patient row, the
sessions' with the patient's record, before any session is loaded. A change committed in
between can only leave newer content under an older stamp, which nobody asks for again. (A
patient's entry is one per patient, rewritten in place, and holds the stamp it was built
for.)
Every key also carries CONTENT_VERSION, a digest of the code and templates that shape what is
cached, so a deploy that changes how a card looks never shows cards of the old look.
"""

import hashlib
import pickle
import time
from datetime import timedelta
from pathlib import Path

import django
import jinja2
from django.conf import settings
from django.core.cache import caches
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from patients import selectors
from patients.models import HistoryCacheEntry, Patient

CACHE_ALIAS = "history"
CARD_TEMPLATE = "patients/_session_card.html"
CARD_ENGINE = "jinja2"  # rendered once per session shown (clinic/jinja2.py)
# What decides the content of a cached card or record: the card's template, the code that
# builds both (the selectors, the scales and safety rules they apply, the chart points the
# triggers work out, the models' fields and labels, this module's entry layout) and Django
# (templates, json_script). Only these: every change to them makes every patient's first view
# after the deploy a whole build, so a change elsewhere (a form, the reminders, the admin)
# must not. tests/patients/test_history_cache.py checks that nothing else the card template or
# the selectors import from the project is left out.
_ROOT = Path(settings.BASE_DIR)
CONTENT_SOURCES = tuple(_ROOT / name for name in (
    "templates/jinja2/patients/_session_card.html", "clinic/jinja2.py",
    "patients/selectors.py", "patients/history_cache.py",
    "sessions/models.py", "sessions/scales.py", "sessions/safety.py",
    "sessions/change_stamps.py"))


def content_version(sources) -> str:
    digest = hashlib.sha256(f"{django.get_version()} {jinja2.__version__}".encode())
    for path in sources:
        digest.update(b"\0" + path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


CONTENT_VERSION = content_version(CONTENT_SOURCES)


def _key(*parts) -> str:
    # Times are shown in the active zone, so it is part of what was rendered.
    return ":".join((CONTENT_VERSION, *map(str, parts), timezone.get_current_timezone_name()))


class HistoryCache:
    """What one history page reads from the cache and adds to it.

    A patient's entry is (patient's stamp, record), one per patient, rewritten when the stamp
    has changed. A card is under its session's stamp."""

    def __init__(self, *, in_memory: bool = True):
        self._memory = caches[CACHE_ALIAS] if in_memory else None  # False: the database only
        self._new: dict = {}

    def _get_many(self, keys: list[str]) -> dict:
        """What either tier holds of these keys; what only the database had is kept in
        memory from now on. Both tiers hold the same pickled bytes: one pickling serves
        both."""
        pickled = self._memory.get_many(keys) if self._memory is not None else {}
        missing = [key for key in keys if key not in pickled]
        if missing:
            shared = {key: bytes(value) for key, value in HistoryCacheEntry.objects
                      .filter(key__in=missing).values_list("key", "value")}
            if shared and self._memory is not None:
                self._memory.set_many(shared)
            pickled.update(shared)
        return {key: pickle.loads(value)  # noqa: S301 (bytes this module pickled)
                for key, value in pickled.items()}

    def _add(self, values: dict) -> None:
        pickled = {key: pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
                   for key, value in values.items()}
        if self._memory is not None:
            self._memory.set_many(pickled)
        self._new.update(pickled)

    def patient_record(self, patient: Patient) -> "selectors.PatientRecord":
        """`selectors.patient_record`, cached under `patient.change_stamp` (read with the
        patient)."""
        key = _key("patient", patient.pk)
        cached = self._get_many([key]).get(key)
        if cached is not None and cached[0] == patient.change_stamp:
            return cached[1]
        record = selectors.patient_record(patient)
        self._add({key: (patient.change_stamp, record)})
        return record

    def session_cards(self, stamps: dict[int, int]) -> list[SafeString]:
        """The timeline cards of these sessions ({session id: change stamp}, in order):
        cached ones as they are, the rest loaded (three queries however many) and rendered.

        The stamps come with the patient's record: it was built after the patient's stamp was
        read, and while the patient's stamp is unchanged none of its sessions' has changed
        either (the triggers restamp both in one statement)."""
        keys = {pk: _key("card", pk, stamp) for pk, stamp in stamps.items()}
        cards = self._get_many(list(keys.values()))
        missing = [pk for pk in stamps if keys[pk] not in cards]
        if missing:
            # mark_safe: Jinja2 escaped every value as it rendered, as Django's engine would
            # have; its backend returns a plain str, which the page would escape again.
            rendered = {
                keys[pk]: mark_safe(render_to_string(  # noqa: S308
                    CARD_TEMPLATE, {"item": entry}, using=CARD_ENGINE))
                for pk, entry in selectors.timeline_entries(missing).items()}
            self._add(rendered)
            cards.update(rendered)
        # A session archived since the list was read has no card: it is simply not shown.
        return [cards[keys[pk]] for pk in stamps if keys[pk] in cards]

    def save(self) -> None:
        """What this page built goes into the database in one statement, in the request's
        own transaction: a second transaction would cost a second commit, which waits for
        the disk. Rows in key order: two pages writing the same keys queue, never deadlock."""
        if self._new:
            now = timezone.now()
            HistoryCacheEntry.objects.bulk_create(
                [HistoryCacheEntry(key=key, value=self._new[key], stored_at=now)
                 for key in sorted(self._new)],
                update_conflicts=True, unique_fields=["key"], update_fields=["value", "stored_at"])
            self._new = {}


def warm(patients, *, page_size: int, time_budget_seconds: float | None = None) -> int:
    """Build what each patient's history shows first (the record and the first timeline page's
    cards) into both tiers where it is not there already, so a clinician's first view of it
    is a read, not a build: for the day's patients (`history_cache_warm_today`, beat) and
    after a deploy or a bulk load (`manage.py history_cache_warm`). `patients` carry their
    change stamps (selectors.with_change_stamp). Stops once `time_budget_seconds` are used
    (the next run goes on: what is built is skipped). Returns how many patients were built."""
    deadline = None if time_budget_seconds is None else time.monotonic() + time_budget_seconds
    built = 0
    for patient in patients:
        if deadline is not None and time.monotonic() >= deadline:
            break
        cache = HistoryCache(in_memory=False)  # a worker's memory serves no page
        record = cache.patient_record(patient)
        cache.session_cards({pk: record.session_stamps[pk]
                             for pk in record.session_ids[:page_size]})
        built += bool(cache._new)
        cache.save()
    return built


def prune(*, older_than_days: int) -> int:
    """Forget what no page will read again, or should not read as it is: entries built by
    code or templates of another CONTENT_VERSION, and entries stored more than
    `older_than_days` ago (cards of superseded stamps, patients nobody opened since). Returns
    how many. Whatever is still wanted is rebuilt on its next view."""
    cutoff = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = HistoryCacheEntry.objects.filter(
        ~Q(key__startswith=f"{CONTENT_VERSION}:") | Q(stored_at__lt=cutoff)).delete()
    return deleted


def clear() -> None:
    """Both tiers emptied (tests; the bench's "never viewed" case)."""
    caches[CACHE_ALIAS].clear()
    HistoryCacheEntry.objects.all().delete()
