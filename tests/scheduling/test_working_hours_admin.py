"""Working hours are edited in the admin, a practitioner's week at a time: blocks that overlap
are refused in words, with nothing saved."""

from __future__ import annotations

import datetime as dt

from django.contrib import admin
from django.test import RequestFactory

from scheduling.admin import WorkingHoursInline
from scheduling.models import Practitioner, WorkingHours, overlapping_hours
from tests.scheduling.factories import PractitionerFactory


def week_formset(practitioner, superuser, blocks):
    inline = WorkingHoursInline(Practitioner, admin.site)
    request = RequestFactory().post("/")
    request.user = superuser
    FormSet = inline.get_formset(request, practitioner)
    prefix = FormSet.get_default_prefix()
    existing = list(practitioner.working_hours.all())
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(existing) + len(blocks)),
        f"{prefix}-INITIAL_FORMS": str(len(existing)),
    }
    for n, hours in enumerate(existing):  # the saved week, deleted
        data |= {f"{prefix}-{n}-id": str(hours.pk), f"{prefix}-{n}-DELETE": "on"}
        data |= {f"{prefix}-{n}-practitioner": str(practitioner.pk)}
        data |= {f"{prefix}-{n}-weekday": str(hours.weekday)}
        data |= {f"{prefix}-{n}-starts": f"{hours.starts:%H:%M}"}
        data |= {f"{prefix}-{n}-ends": f"{hours.ends:%H:%M}"}
    for n, (weekday, starts, ends) in enumerate(blocks, start=len(existing)):
        data |= {f"{prefix}-{n}-practitioner": str(practitioner.pk)}
        data |= {f"{prefix}-{n}-weekday": str(weekday)}
        data |= {f"{prefix}-{n}-starts": starts, f"{prefix}-{n}-ends": ends}
    return FormSet(data, instance=practitioner, prefix=prefix)


def test_overlapping_blocks_are_refused_in_words(db, admin_user):
    admin_user.is_superuser = admin_user.is_staff = True
    carla = PractitionerFactory(hours={})
    formset = week_formset(carla, admin_user, [(0, "09:00", "13:00"), (0, "12:00", "17:00")])
    assert not formset.is_valid()
    assert formset.non_form_errors() == [
        "Monday: 09:00-13:00 overlaps 12:00-17:00. Make them one block, or let one end when "
        "the next begins."
    ]
    assert not WorkingHours.objects.filter(practitioner=carla).exists()


def test_a_split_day_and_a_replaced_week_are_accepted(db, admin_user):
    admin_user.is_superuser = admin_user.is_staff = True
    carla = PractitionerFactory()  # Monday to Friday 9-17, replaced below
    blocks = [(0, "09:00", "12:00"), (0, "12:00", "17:00"), (1, "09:00", "17:00")]
    formset = week_formset(carla, admin_user, blocks)
    assert formset.is_valid(), formset.non_form_errors()
    formset.save()
    assert sorted(
        (h.weekday, h.starts, h.ends) for h in WorkingHours.objects.filter(practitioner=carla)
    ) == [(0, dt.time(9), dt.time(12)), (0, dt.time(12), dt.time(17)), (1, dt.time(9), dt.time(17))]


def test_an_end_before_the_start_is_explained(db, admin_user):
    admin_user.is_superuser = admin_user.is_staff = True
    carla = PractitionerFactory(hours={})
    formset = week_formset(carla, admin_user, [(2, "17:00", "09:00")])
    assert not formset.is_valid()
    assert "A block of working hours must end after it starts." in str(formset.errors)


def test_overlaps_are_found_per_weekday():
    nine, noon, one, five = dt.time(9), dt.time(12), dt.time(13), dt.time(17)
    assert overlapping_hours([(0, nine, one), (1, noon, five)]) == []
    assert overlapping_hours([(0, nine, noon), (0, noon, five)]) == []
    assert len(overlapping_hours([(4, noon, five), (4, nine, one)])) == 1
