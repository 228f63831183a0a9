"""The desk in a real Chromium: a second Alice Smit is caught before it is saved, and two
records of one person are merged."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from people.models import Patient
from tests.browser.test_login import sign_in
from tests.factories import PatientFactory, StaffFactory
from tests.scheduling.factories import PlanFactory

pytestmark = pytest.mark.browser

BORN = dt.date(1988, 4, 12)


@pytest.fixture
def desk_lead(transactional_db):
    user = StaffFactory(username="dana", role="Front desk")
    user.user_permissions.add(Permission.objects.get(codename="merge_patient"))
    return user


@pytest.fixture
def alice_on_file(transactional_db):
    return PatientFactory(
        first_name="Alice", last_name="Smit", date_of_birth=BORN, phone="+31 6 1234 5678"
    )


def test_the_desk_opens_the_record_on_file_instead_of_a_second_alice_smit(
    page, desk_lead, alice_on_file
):
    sign_in(page, desk_lead.username)
    page.wait_for_url("**/desk/")
    page.goto("/patients/new/")
    page.get_by_label("First name").fill("Alice")
    page.get_by_label("Last name").fill("Smit")
    page.get_by_label("Date of birth").fill("1988-04-12")
    page.get_by_label("Phone").fill("0612345678")
    page.get_by_role("button", name="Save").click()

    duplicates = page.get_by_role("region", name="Already on file?")
    expect(duplicates).to_be_visible()
    expect(duplicates).to_contain_text("Same name and date of birth, phone")
    assert page.get_by_label("This is a different person").is_visible()
    duplicates.get_by_role("link", name="Open Alice Smit").click()
    page.wait_for_url(f"**/patients/{alice_on_file.pk}/")
    expect(page.get_by_role("heading", name="Alice Smit")).to_be_visible()
    assert Patient.objects.count() == 1

    # The same person found again the way the desk types it.
    page.goto("/patients/")
    page.get_by_label("Name, phone or date of birth").fill("12-04-1988")
    expect(page.locator("#patient-results")).to_contain_text("Smit, Alice")
    # The form sent back with the duplicates is a 400, which Chromium logs; nothing else.
    assert page.console_errors == [
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"
    ]


def test_the_desk_lead_merges_two_records_of_one_person(page, desk_lead, alice_on_file):
    split = PatientFactory(first_name="Alíce", last_name="Smit", date_of_birth=BORN, phone="")
    course = PlanFactory(patient=split, session_count=2)
    sign_in(page, desk_lead.username)
    page.wait_for_url("**/desk/")
    page.goto(f"/patients/{alice_on_file.pk}/")
    page.get_by_role("link", name="Merge a duplicate").click()

    page.get_by_role("link", name=f"Smit, Alíce (record {split.pk})").click()
    preview = page.get_by_role("region", name=f"Record {split.pk} into record {alice_on_file.pk}")
    expect(preview).to_contain_text("2 sessions")
    expect(preview).to_contain_text("They share the name and date of birth.")
    preview.get_by_role("button", name=f"Merge record {split.pk} into this record").click()

    page.wait_for_url(f"**/patients/{alice_on_file.pk}/")
    expect(page.get_by_text(f"Record {split.pk} was merged into this one")).to_be_visible()
    course.refresh_from_db()
    assert course.patient_id == alice_on_file.pk
    assert course.sessions.filter(patient=alice_on_file).count() == 2

    # An old link to the merged record leads to the one kept.
    page.goto(f"/patients/{split.pk}/")
    page.wait_for_url(f"**/patients/{alice_on_file.pk}/")
    assert page.console_errors == []
