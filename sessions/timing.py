"""When things happened: the rules that keep every clinical time honest.

Pure rules, no database access. The services call them for every time a person enters (vitals,
dose start and end, side-effect onset and resolution, consent, discharge, follow-up contact),
so the session pages, the admin and any script refuse the same times with the same message.

- Nothing happens in the future. A clinical time may be ahead of the server's clock by at most
  the clinic's clock-skew allowance (`Thresholds.clock_skew_minutes`: a ward clock or tablet a
  few minutes fast), never more.
- Nothing in a session happens before the session started: the earlier of when it was
  scheduled and when it was opened in the system. Charting after the fact is allowed, so a
  session opened late in the system still accepts times from its appointment on.
- Discharge is never before the first dose, and never later than the moment it is recorded: a
  discharge "in two hours" would close the observation period while the patient is still in
  the chair.

Times are compared as instants (UTC), so a change to or from daylight saving time never adds
or removes a minute of observation; messages show the clinic's local time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone


def local_text(moment: datetime, *, now: datetime, seconds: bool = False) -> str:
    """"14:05", or "2026-03-07 14:05" when it is not today: a time a nurse can check. In the
    hour the clocks go back, which happens twice, the zone says which: "01:30 EST"."""
    local, today = timezone.localtime(moment), timezone.localtime(now).date()
    clock = f"{local:%H:%M:%S}" if seconds else f"{local:%H:%M}"
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        clock = f"{clock} {local.tzname()}"
    return clock if local.date() == today else f"{local:%Y-%m-%d} {clock}"


def _two_times(first: datetime, second: datetime, *, now: datetime) -> tuple[str, str]:
    """Both times as text, with seconds where the minutes alone would read the same."""
    texts = local_text(first, now=now), local_text(second, now=now)
    if texts[0] == texts[1]:
        texts = local_text(first, now=now, seconds=True), local_text(second, now=now, seconds=True)
    return texts


def session_opened_at(*, scheduled_at: datetime, started_at: datetime | None) -> datetime:
    """The earliest a session's clinical times may be: its appointment, or when it was opened
    in the system if that was earlier (a patient seen before the booked time), from the start
    of that minute: times are entered to the minute, and a vital taken in the minute the session
    was opened is not before it."""
    opened = min(scheduled_at, started_at) if started_at is not None else scheduled_at
    return opened.replace(second=0, microsecond=0)


def latest_allowed(*, now: datetime, clock_skew_minutes: int) -> datetime:
    return now + timedelta(minutes=clock_skew_minutes)


def future_problem(moment: datetime, *, what: str, now: datetime,
                   clock_skew_minutes: int) -> str | None:
    """The refusal for a time later than now plus the clock-skew allowance, else None."""
    if moment <= latest_allowed(now=now, clock_skew_minutes=clock_skew_minutes):
        return None
    moment_text, now_text = _two_times(moment, now, now=now)
    return (f"The {what} ({moment_text}) is in the future: it is {now_text} now. Enter the "
            "time it happened.")


def before_session_problem(moment: datetime, *, what: str, opened_at: datetime,
                           now: datetime) -> str | None:
    """The refusal for a time before the session started, else None."""
    if moment >= opened_at:
        return None
    moment_text, opened_text = _two_times(moment, opened_at, now=now)
    return (f"The {what} ({moment_text}) is before this session started ({opened_text}). "
            "Check the date and time.")


def session_time_problem(moment: datetime, *, what: str, opened_at: datetime, now: datetime,
                         clock_skew_minutes: int) -> str | None:
    """Both rules for a time within a session: not in the future, not before it started."""
    return (future_problem(moment, what=what, now=now, clock_skew_minutes=clock_skew_minutes)
            or before_session_problem(moment, what=what, opened_at=opened_at, now=now))


def discharge_problem(discharged_at: datetime, *, first_dose_at: datetime,
                      now: datetime) -> str | None:
    """Discharge is between the first dose and the moment it is recorded (no allowance: a
    discharge time ahead of the clock would count observation that has not happened)."""
    if discharged_at > now:
        discharge_text, now_text = _two_times(discharged_at, now, now=now)
        return (f"The end of monitoring ({discharge_text}) is in the future: it is {now_text} "
                "now. Record the discharge when the patient leaves, with the time they left.")
    if discharged_at < first_dose_at:
        discharge_text, dose_text = _two_times(discharged_at, first_dose_at, now=now)
        return (f"The end of monitoring ({discharge_text}) cannot be before the first dose "
                f"({dose_text}).")
    return None


def entered_late(*, happened_at: datetime | None, entered_at: datetime | None,
                 late_entry_minutes: int) -> bool:
    """An entry made this long after what it records: shown beside it as charted late."""
    if happened_at is None or entered_at is None:
        return False
    return entered_at - happened_at > timedelta(minutes=late_entry_minutes)
