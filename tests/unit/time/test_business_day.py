"""The business day's pure rules: which date an instant is in, when a date closes, what is due."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from domain.time.business_day import BusinessCalendar

UTC_MIDNIGHT = BusinessCalendar()
NEW_YORK_5PM = BusinessCalendar(timezone="America/New_York", closing_time=time(17))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_midnight_closing_is_the_end_of_the_date():
    assert UTC_MIDNIGHT.closing_of(date(2026, 3, 31)) == utc(2026, 4, 1)
    assert UTC_MIDNIGHT.date_of(utc(2026, 3, 31, 23, 59, 59, 999999)) == date(2026, 3, 31)
    assert UTC_MIDNIGHT.date_of(utc(2026, 4, 1)) == date(2026, 4, 1)  # the closing instant starts the next
    assert UTC_MIDNIGHT.next_closing(utc(2026, 3, 31, 12)) == utc(2026, 4, 1)
    assert UTC_MIDNIGHT.next_closing(utc(2026, 4, 1)) == utc(2026, 4, 2)


def test_an_afternoon_closing_moves_the_evening_to_the_next_date():
    # 17:00 in New York is 21:00 UTC in summer (EDT), 22:00 in winter (EST)
    assert NEW_YORK_5PM.closing_of(date(2026, 7, 1)) == utc(2026, 7, 1, 21)
    assert NEW_YORK_5PM.closing_of(date(2026, 12, 1)) == utc(2026, 12, 1, 22)
    assert NEW_YORK_5PM.date_of(utc(2026, 7, 1, 20, 59)) == date(2026, 7, 1)
    assert NEW_YORK_5PM.date_of(utc(2026, 7, 1, 21)) == date(2026, 7, 2)
    # 23:30 local on 1 July is already 2 July's business, though UTC says 2 July 03:30
    assert NEW_YORK_5PM.date_of(utc(2026, 7, 2, 3, 30)) == date(2026, 7, 2)


def test_a_zone_east_of_utc_is_ahead():
    tokyo = BusinessCalendar(timezone="Asia/Tokyo")
    assert tokyo.closing_of(date(2026, 1, 10)) == utc(2026, 1, 10, 15)  # midnight JST
    assert tokyo.date_of(utc(2026, 1, 10, 15, 1)) == date(2026, 1, 11)


def test_dst_days_are_23_and_25_hours_long():
    ny = BusinessCalendar(timezone="America/New_York")
    spring, autumn = date(2026, 3, 8), date(2026, 11, 1)
    assert ny.closing_of(spring) - ny.closing_of(spring - timedelta(days=1)) == timedelta(hours=23)
    assert ny.closing_of(autumn) - ny.closing_of(autumn - timedelta(days=1)) == timedelta(hours=25)


def test_a_closing_time_in_the_dst_gap_closes_when_the_clocks_jump_by():
    # 2026-03-08 02:30 does not exist in New York (02:00 → 03:00): it closes at 03:30 EDT = 07:30 UTC
    gap = BusinessCalendar(timezone="America/New_York", closing_time=time(2, 30))
    assert gap.closing_of(date(2026, 3, 8)) == utc(2026, 3, 8, 7, 30)
    assert gap.closing_of(date(2026, 3, 9)) == utc(2026, 3, 9, 6, 30)  # 02:30 EDT


def test_a_repeated_closing_time_closes_at_its_first_occurrence():
    # 2026-11-01 01:30 happens twice in New York: first at EDT (05:30 UTC), then at EST (06:30 UTC)
    repeated = BusinessCalendar(timezone="America/New_York", closing_time=time(1, 30))
    assert repeated.closing_of(date(2026, 11, 1)) == utc(2026, 11, 1, 5, 30)
    assert repeated.date_of(utc(2026, 11, 1, 6, 0)) == date(2026, 11, 2)  # the second 01:00 already belongs to the 2nd


def test_a_skipped_day_closes_with_its_predecessor():
    # Samoa moved across the date line: 29 December 2011 23:59:59 was followed by 31 December 00:00
    apia = BusinessCalendar(timezone="Pacific/Apia")
    assert apia.closing_of(date(2011, 12, 29)) == apia.closing_of(date(2011, 12, 30))
    assert apia.date_of(apia.closing_of(date(2011, 12, 29))) == date(2011, 12, 31)


def test_dates_to_close_catch_up_in_order_and_stop_at_the_last_closed():
    now = utc(2026, 5, 8, 10)
    assert UTC_MIDNIGHT.dates_to_close(date(2026, 5, 1), now) == [date(2026, 5, d) for d in range(2, 8)]
    assert UTC_MIDNIGHT.dates_to_close(date(2026, 5, 7), now) == []
    assert UTC_MIDNIGHT.dates_to_close(date(2026, 5, 1), now, limit=2) == [date(2026, 5, 2), date(2026, 5, 3)]
    assert UTC_MIDNIGHT.dates_to_close(None, now) == [date(2026, 5, 7)]  # a new bank starts at the last closed
    assert UTC_MIDNIGHT.dates_to_close(date(2026, 5, 9), now) == []  # a simulated clock once ahead


def test_instants_must_be_aware_and_zones_known():
    with pytest.raises(ValueError):
        UTC_MIDNIGHT.date_of(datetime(2026, 1, 1))
    with pytest.raises(ValidationError):
        BusinessCalendar(timezone="Mars/Olympus_Mons")


ZONES = st.sampled_from(["UTC", "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata",
                         "America/Santiago", "Pacific/Chatham", "Europe/Chisinau", "America/Havana"])
CLOSINGS = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))
INSTANTS = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(zone=ZONES, closing=CLOSINGS, instant=INSTANTS)
def test_an_instant_lies_between_its_dates_closings(zone, closing, instant):
    cal = BusinessCalendar(timezone=zone, closing_time=closing)
    day = cal.date_of(instant)
    assert cal.closing_of(day - timedelta(days=1)) <= instant < cal.closing_of(day)
    assert cal.next_closing(instant) > instant
    assert cal.date_of(cal.closing_of(day)) > day  # at its closing instant the date is over


@settings(max_examples=300, deadline=None)
@given(zone=ZONES, closing=CLOSINGS, day=st.dates(date(1990, 1, 1), date(2040, 1, 1)))
def test_closings_move_forward_between_20_and_28_hours(zone, closing, day):
    cal = BusinessCalendar(timezone=zone, closing_time=closing)
    length = cal.closing_of(day + timedelta(days=1)) - cal.closing_of(day)
    assert timedelta(hours=20) <= length <= timedelta(hours=28)  # DST shifts are at most a few hours


@settings(max_examples=200, deadline=None)
@given(zone=ZONES, closing=CLOSINGS, instant=INSTANTS, back=st.integers(0, 40))
def test_dates_to_close_are_consecutive_and_all_closed(zone, closing, instant, back):
    cal = BusinessCalendar(timezone=zone, closing_time=closing)
    last = cal.date_of(instant) - timedelta(days=back + 1)
    due = cal.dates_to_close(last, instant)
    assert due == [last + timedelta(days=i + 1) for i in range(len(due))]
    assert all(cal.closing_of(d) <= instant for d in due)
    assert cal.closing_of((due[-1] if due else last) + timedelta(days=1)) > instant
