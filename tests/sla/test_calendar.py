"""Business-time arithmetic on the China calendar (public holidays and make-up days)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from sla.calendar import add_business_minutes, business_minutes_between, is_working_day
from sla.models import BusinessCalendar

SH = ZoneInfo("Asia/Shanghai")


def at(*args):
    return datetime(*args, tzinfo=SH)


@pytest.fixture
def office():
    # Not saved: the maths needs no database.
    return BusinessCalendar(
        name="office",
        is_24x7=False,
        timezone="Asia/Shanghai",
        workday_start="09:00",
        workday_end="18:00",
        working_weekdays=[0, 1, 2, 3, 4],
        holiday_country="CN",
    )


def test_24x7_is_plain_arithmetic():
    assert add_business_minutes(at(2025, 10, 1, 23, 30), 60, None) == at(2025, 10, 2, 0, 30)
    assert business_minutes_between(at(2025, 10, 1), at(2025, 10, 2), None) == 24 * 60


def test_friday_evening_rolls_to_monday(office):
    assert add_business_minutes(at(2025, 11, 14, 17, 30), 60, office) == at(2025, 11, 17, 9, 30)
    assert add_business_minutes(at(2025, 11, 15, 12, 0), 15, office) == at(2025, 11, 17, 9, 15)


def test_national_day_is_skipped_and_makeup_saturday_works(office):
    # 2025-10-01..08 are holidays; Saturday 2025-10-11 is a make-up working day (调休).
    assert not is_working_day(at(2025, 10, 6).date(), office)
    assert is_working_day(at(2025, 10, 11).date(), office)
    assert is_working_day(at(2025, 9, 28).date(), office)  # Sunday, make-up day
    # 30 Sep 17:00 + 2 h: one hour that day, the next on Thursday 9 Oct.
    assert add_business_minutes(at(2025, 9, 30, 17, 0), 120, office) == at(2025, 10, 9, 10, 0)
    # Friday 10 Oct 17:00 + 2 h: the make-up Saturday counts.
    assert add_business_minutes(at(2025, 10, 10, 17, 0), 120, office) == at(2025, 10, 11, 10, 0)


def test_minutes_between_counts_only_working_time(office):
    # Friday 17:00 -> Monday 10:00: one hour Friday, one hour Monday.
    assert business_minutes_between(at(2025, 11, 14, 17), at(2025, 11, 17, 10), office) == 120
    assert business_minutes_between(at(2025, 11, 17, 10), at(2025, 11, 14, 17), office) == 0


def test_add_and_between_agree(office):
    start = at(2025, 9, 26, 16, 45)
    for minutes in (1, 30, 540, 541, 3000):
        end = add_business_minutes(start, minutes, office)
        assert business_minutes_between(start, end, office) == pytest.approx(minutes)
