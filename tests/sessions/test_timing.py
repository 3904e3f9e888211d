"""The time rules as pure functions (sessions/timing.py): when a clinical time is in the future,
when it is before its session, when a discharge is possible, and how a refusal shows the times.
Equal to a limit is allowed; one second past it is not."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.test import override_settings
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from sessions import timing

NEW_YORK = ZoneInfo("America/New_York")
SECOND = timedelta(seconds=1)
# 14:05:30 in New York (EST), a Wednesday afternoon.
NOW = datetime(2026, 12, 2, 19, 5, 30, tzinfo=UTC)


def in_new_york(*fields: int, fold: int = 0) -> datetime:
    return datetime(*fields, tzinfo=NEW_YORK, fold=fold)


# --- nothing happens in the future ------------------------------------------------------------

def test_a_time_exactly_at_now_plus_the_clock_skew_allowance_is_accepted():
    assert timing.future_problem(NOW + timedelta(minutes=5), what="onset", now=NOW,
                                 clock_skew_minutes=5) is None


def test_a_time_one_second_beyond_the_clock_skew_allowance_is_refused():
    assert timing.future_problem(NOW + timedelta(minutes=5) + SECOND, what="onset", now=NOW,
                                 clock_skew_minutes=5) is not None


def test_a_time_in_the_past_is_not_in_the_future():
    assert timing.future_problem(NOW - timedelta(days=400), what="onset", now=NOW,
                                 clock_skew_minutes=0) is None


def test_with_no_clock_skew_allowance_now_is_the_latest_time_accepted():
    assert timing.future_problem(NOW, what="onset", now=NOW, clock_skew_minutes=0) is None
    assert timing.future_problem(NOW + SECOND, what="onset", now=NOW,
                                 clock_skew_minutes=0) is not None


def test_the_latest_time_allowed_is_now_plus_the_clock_skew_allowance():
    assert timing.latest_allowed(now=NOW, clock_skew_minutes=7) == NOW + timedelta(minutes=7)
    assert timing.latest_allowed(now=NOW, clock_skew_minutes=0) == NOW


@given(offset_seconds=st.integers(min_value=-10 * 24 * 3600, max_value=10 * 24 * 3600),
       clock_skew_minutes=st.integers(min_value=0, max_value=60))
def test_a_time_is_in_the_future_exactly_when_it_is_after_now_plus_the_allowance(
        offset_seconds, clock_skew_minutes):
    moment = NOW + timedelta(seconds=offset_seconds)
    refused = timing.future_problem(moment, what="onset", now=NOW,
                                    clock_skew_minutes=clock_skew_minutes) is not None
    assert refused == (moment > NOW + timedelta(minutes=clock_skew_minutes))


@override_settings(TIME_ZONE="America/New_York")
def test_a_future_time_is_refused_in_the_clinics_local_time():
    problem = timing.future_problem(NOW + timedelta(hours=2), what="time of these vitals",
                                    now=NOW, clock_skew_minutes=5)
    assert problem == ("The time of these vitals (16:05) is in the future: it is 14:05 now. "
                       "Enter the time it happened.")


@override_settings(TIME_ZONE="Asia/Tokyo")
def test_the_refusal_follows_the_clinics_zone():
    # 19:05 UTC is 04:05 the next morning in Tokyo: "today" is the clinic's today.
    problem = timing.future_problem(NOW + timedelta(hours=2), what="onset", now=NOW,
                                    clock_skew_minutes=5)
    assert problem == ("The onset (06:05) is in the future: it is 04:05 now. Enter the time it "
                       "happened.")


@override_settings(TIME_ZONE="America/New_York")
def test_a_future_time_on_another_day_is_shown_with_its_date():
    problem = timing.future_problem(NOW + timedelta(days=1), what="onset", now=NOW,
                                    clock_skew_minutes=5)
    assert problem.startswith("The onset (2026-12-03 14:05) is in the future: it is 14:05 now.")


@override_settings(TIME_ZONE="America/New_York")
def test_a_future_time_in_the_same_minute_as_now_is_shown_to_the_second():
    problem = timing.future_problem(NOW + SECOND, what="onset", now=NOW, clock_skew_minutes=0)
    assert problem.startswith("The onset (14:05:31) is in the future: it is 14:05:30 now.")


# --- nothing in a session happens before the session started ----------------------------------

def test_a_session_started_when_it_was_scheduled_unless_it_was_opened_earlier():
    scheduled_at = NOW.replace(second=0) - timedelta(hours=3)
    assert timing.session_opened_at(scheduled_at=scheduled_at, started_at=None) == scheduled_at
    assert timing.session_opened_at(scheduled_at=scheduled_at,
                                    started_at=scheduled_at + timedelta(hours=1)) == scheduled_at
    assert timing.session_opened_at(
        scheduled_at=scheduled_at,
        started_at=scheduled_at - timedelta(minutes=20)) == scheduled_at - timedelta(minutes=20)


def test_a_session_window_opens_at_the_start_of_its_minute():
    """Times are entered to the minute: a vital typed as 14:05 for a session opened at
    14:05:40 is not before it."""
    opened = NOW.replace(second=40)
    assert timing.session_opened_at(scheduled_at=NOW + timedelta(hours=1),
                                    started_at=opened) == opened.replace(second=0)


def test_a_time_exactly_when_the_session_started_is_accepted():
    opened_at = NOW - timedelta(hours=3)
    assert timing.before_session_problem(opened_at, what="onset", opened_at=opened_at,
                                         now=NOW) is None


def test_a_time_one_second_before_the_session_started_is_refused():
    opened_at = NOW - timedelta(hours=3)
    assert timing.before_session_problem(opened_at - SECOND, what="onset", opened_at=opened_at,
                                         now=NOW) is not None


@override_settings(TIME_ZONE="America/New_York")
def test_a_time_before_the_session_is_refused_in_local_time():
    opened_at = in_new_york(2026, 12, 2, 11, 0)
    problem = timing.before_session_problem(opened_at - SECOND, what="time of these vitals",
                                            opened_at=opened_at, now=NOW)
    assert problem == ("The time of these vitals (10:59) is before this session started "
                       "(11:00). Check the date and time.")


@override_settings(TIME_ZONE="America/New_York")
def test_a_time_before_the_session_within_the_same_minute_is_shown_to_the_second():
    opened_at = in_new_york(2026, 12, 2, 11, 0, 30)
    problem = timing.before_session_problem(opened_at - SECOND, what="time of these vitals",
                                            opened_at=opened_at, now=NOW)
    assert problem == ("The time of these vitals (11:00:29) is before this session started "
                       "(11:00:30). Check the date and time.")


@override_settings(TIME_ZONE="America/New_York")
def test_a_time_from_the_day_before_the_session_is_shown_with_its_date():
    opened_at = in_new_york(2026, 12, 2, 11, 0)
    problem = timing.before_session_problem(opened_at - timedelta(days=1), what="onset",
                                            opened_at=opened_at, now=NOW)
    assert problem == ("The onset (2026-12-01 11:00) is before this session started (11:00). "
                       "Check the date and time.")


def test_a_time_within_a_session_obeys_both_rules():
    opened_at = NOW - timedelta(hours=3)
    rules = dict(what="onset", opened_at=opened_at, now=NOW, clock_skew_minutes=5)
    assert timing.session_time_problem(opened_at, **rules) is None
    assert timing.session_time_problem(NOW + timedelta(minutes=5), **rules) is None
    assert "is before this session started" in timing.session_time_problem(
        opened_at - SECOND, **rules)
    assert "is in the future" in timing.session_time_problem(
        NOW + timedelta(minutes=5) + SECOND, **rules)


def test_a_time_in_the_future_is_refused_as_such_even_before_a_session_booked_later_still():
    problem = timing.session_time_problem(NOW + timedelta(hours=1), what="onset",
                                          opened_at=NOW + timedelta(hours=2), now=NOW,
                                          clock_skew_minutes=5)
    assert "is in the future" in problem


# --- discharge: between the first dose and the moment it is recorded --------------------------

def test_a_discharge_now_is_accepted():
    assert timing.discharge_problem(NOW, first_dose_at=NOW - timedelta(hours=2), now=NOW) is None


def test_a_discharge_one_second_in_the_future_is_refused_with_no_clock_skew_allowance():
    assert timing.discharge_problem(NOW + SECOND, first_dose_at=NOW - timedelta(hours=2),
                                    now=NOW) is not None


def test_a_discharge_exactly_at_the_first_dose_is_not_refused_as_before_it():
    # (The observation minimum refuses it: that rule is the service's.)
    first_dose_at = NOW - timedelta(hours=2)
    assert timing.discharge_problem(first_dose_at, first_dose_at=first_dose_at, now=NOW) is None


def test_a_discharge_one_second_before_the_first_dose_is_refused():
    first_dose_at = NOW - timedelta(hours=2)
    assert timing.discharge_problem(first_dose_at - SECOND, first_dose_at=first_dose_at,
                                    now=NOW) is not None


@override_settings(TIME_ZONE="America/New_York")
def test_a_future_discharge_is_refused_in_local_time():
    problem = timing.discharge_problem(NOW + timedelta(hours=2, minutes=5),
                                       first_dose_at=NOW - timedelta(minutes=5), now=NOW)
    assert problem == ("The end of monitoring (16:10) is in the future: it is 14:05 now. Record "
                       "the discharge when the patient leaves, with the time they left.")


@override_settings(TIME_ZONE="America/New_York")
def test_a_discharge_before_the_first_dose_is_refused_in_local_time():
    first_dose_at = in_new_york(2026, 12, 2, 11, 0, 30)
    problem = timing.discharge_problem(first_dose_at - SECOND, first_dose_at=first_dose_at,
                                       now=NOW)
    assert problem == ("The end of monitoring (11:00:29) cannot be before the first dose "
                       "(11:00:30).")
    problem = timing.discharge_problem(first_dose_at - timedelta(days=1),
                                       first_dose_at=first_dose_at, now=NOW)
    assert problem == ("The end of monitoring (2026-12-01 11:00) cannot be before the first "
                       "dose (11:00).")


def test_a_discharge_in_the_future_is_refused_as_such_before_anything_else():
    problem = timing.discharge_problem(NOW + timedelta(hours=1),
                                       first_dose_at=NOW + timedelta(hours=2), now=NOW)
    assert "is in the future" in problem


# --- local times in refusals ------------------------------------------------------------------

def test_a_time_today_is_shown_as_the_local_clock():
    with timezone.override(NEW_YORK):
        assert timing.local_text(NOW - timedelta(hours=1), now=NOW) == "13:05"
        assert timing.local_text(NOW - timedelta(hours=1), now=NOW, seconds=True) == "13:05:30"


def test_today_is_the_clinics_day_not_the_utc_day():
    # 03:30 UTC on 3 December is 22:30 on 2 December in New York: today there.
    late_evening = datetime(2026, 12, 3, 3, 30, tzinfo=UTC)
    with timezone.override(NEW_YORK):
        assert timing.local_text(late_evening, now=NOW) == "22:30"
    with timezone.override(UTC):
        assert timing.local_text(late_evening, now=NOW) == "2026-12-03 03:30"


def test_a_time_on_another_day_is_shown_with_its_date():
    with timezone.override(NEW_YORK):
        assert timing.local_text(NOW - timedelta(days=1), now=NOW) == "2026-12-01 14:05"
        assert timing.local_text(NOW + timedelta(days=365), now=NOW) == "2027-12-02 14:05"


# --- daylight saving time: instants, never wall clocks -----------------------------------------

def test_a_time_an_hour_later_in_real_time_at_the_fall_back_is_in_the_future():
    # 2026-11-01 01:30 happens twice in New York: first EDT, then, an hour later, EST.
    first_half_past_one = in_new_york(2026, 11, 1, 1, 30, fold=0)
    second_half_past_one = in_new_york(2026, 11, 1, 1, 30, fold=1)
    assert timing.future_problem(second_half_past_one.astimezone(UTC), what="onset",
                                 now=first_half_past_one.astimezone(UTC),
                                 clock_skew_minutes=5) is not None


def test_a_time_after_the_spring_forward_gap_is_only_an_hour_after_one_before_it():
    # 2026-03-08: 01:30 EST is followed one hour later by 03:30 EDT (02:00-03:00 never happens).
    now = in_new_york(2026, 3, 8, 1, 30).astimezone(UTC)
    assert timing.future_problem(in_new_york(2026, 3, 8, 3, 30), what="onset", now=now,
                                 clock_skew_minutes=60) is None
    assert timing.future_problem(in_new_york(2026, 3, 8, 3, 31), what="onset", now=now,
                                 clock_skew_minutes=60) is not None


# --- entered late -----------------------------------------------------------------------------

def test_an_entry_made_exactly_the_late_entry_minutes_after_is_not_late():
    assert not timing.entered_late(happened_at=NOW - timedelta(minutes=30), entered_at=NOW,
                                   late_entry_minutes=30)


def test_an_entry_made_one_second_beyond_the_late_entry_minutes_is_late():
    assert timing.entered_late(happened_at=NOW - timedelta(minutes=30) - SECOND, entered_at=NOW,
                               late_entry_minutes=30)


def test_an_entry_without_both_times_is_never_late():
    assert not timing.entered_late(happened_at=None, entered_at=NOW, late_entry_minutes=1)
    assert not timing.entered_late(happened_at=NOW - timedelta(days=3), entered_at=None,
                                   late_entry_minutes=1)


def test_lateness_counts_real_minutes_across_the_fall_back():
    # 00:50 EDT to 01:10 EST: 80 real minutes, though the wall clock moved 20.
    happened_at = in_new_york(2026, 11, 1, 0, 50)
    entered_at = in_new_york(2026, 11, 1, 1, 10, fold=1).astimezone(UTC)
    assert timing.entered_late(happened_at=happened_at, entered_at=entered_at,
                               late_entry_minutes=60)


@override_settings(TIME_ZONE="America/New_York")
def test_a_time_in_the_hour_that_happens_twice_is_shown_with_its_zone():
    # 01:30 EDT and 01:30 EST are an hour apart: the clock alone cannot tell them apart.
    first_half_past_one = in_new_york(2026, 11, 1, 1, 30, fold=0).astimezone(UTC)
    second_half_past_one = in_new_york(2026, 11, 1, 1, 30, fold=1).astimezone(UTC)
    problem = timing.discharge_problem(first_half_past_one, first_dose_at=second_half_past_one,
                                       now=NOW)
    assert problem == ("The end of monitoring (2026-11-01 01:30 EDT) cannot be before the first "
                       "dose (2026-11-01 01:30 EST).")
    with timezone.override(NEW_YORK):
        assert timing.local_text(in_new_york(2026, 11, 1, 0, 59), now=NOW) == "2026-11-01 00:59"
        assert timing.local_text(in_new_york(2026, 11, 1, 2, 0), now=NOW) == "2026-11-01 02:00"
