"""One patient, one record: search as staff type it, likely duplicates shown before a second
record is saved (pages and API), and the merge that moves everything of a duplicate."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from audit.models import AuditEvent
from people import services
from people.matching import fold, phone_e164, typed_day
from people.models import Patient
from tests.factories import PatientFactory, StaffFactory
from tests.resilience.conftest import alice_file  # noqa: F401 - a file with every kind of row
from tests.services import AUDIT_WRITES

BORN = dt.date(1988, 4, 12)


def smit(**fields) -> dict:
    return {
        "first_name": "Alice",
        "last_name": "Smit",
        "date_of_birth": BORN,
        "phone": "+31 6 1234 5678",
        "email": "alice.smit@example.com",
        **fields,
    }


# --- search, as staff type it --------------------------------------------------------------


def test_phone_numbers_in_any_common_format_are_one_number(settings):
    settings.PHONE_REGION = "NL"
    for typed in ("0612345678", "06-12345678", "06 1234 5678", "+31 6 1234 5678", "0031612345678"):
        assert phone_e164(typed) == "+31612345678", typed
    assert phone_e164("(06) 12.34.56.78") == "+31612345678"
    assert phone_e164("not a number") == phone_e164("12") == phone_e164("") == ""
    settings.PHONE_REGION = "BE"
    assert phone_e164("0470 12 34 56") == "+32470123456"


def test_an_unknown_phone_region_fails_loudly(tmp_path):
    from tests.core.test_settings import load_settings

    result = load_settings(tmp_path, PHONE_REGION="Netherlands")
    assert result.returncode != 0
    assert "PHONE_REGION must be a country code such as NL" in result.stderr


def test_search_finds_a_phone_number_typed_another_way(db):
    """Seen: "0612345678" missed the patient stored as +31 6 1234 5678."""
    chloe = PatientFactory(phone="+31 6 1234 5678")
    PatientFactory(phone="+31 6 8765 4321")
    for typed in ("0612345678", "06-1234 5678", "+31612345678", "0031 6 12345678", "1234 5678"):
        assert list(Patient.objects.search(typed)) == [chloe], typed


def test_search_finds_a_name_without_its_accents_or_case(db):
    """Seen: "chloe" missed Chloé."""
    chloe = PatientFactory(first_name="Chloé", last_name="Çelik-Østergaard")
    PatientFactory(first_name="Chris", last_name="Jansen")
    assert fold("Chloé  Çelik-Østergaard") == "chloe celik ostergaard"
    for typed in ("chloe", "CHLOE", "Chloé", "celik", "ostergaard", "chloe celik"):
        assert list(Patient.objects.search(typed)) == [chloe], typed
    assert list(Patient.objects.search("chloe jansen")) == []


def test_search_finds_a_date_of_birth_as_staff_type_it(db, settings):
    """Seen: "12-04-1988" missed the patient born on 12 April 1988."""
    born = PatientFactory(last_name="Visser", date_of_birth=BORN)
    PatientFactory(last_name="Visser", date_of_birth=dt.date(1988, 12, 4))
    for typed in ("12-04-1988", "12/04/1988", "12.4.1988", "1988-04-12", "visser 12-4-1988"):
        assert list(Patient.objects.search(typed)) == [born], typed
    assert list(Patient.objects.search("31-02-1988")) == []  # no such day
    settings.DATE_DAY_FIRST = False
    assert typed_day("04/12/1988") == BORN


def test_search_of_punctuation_alone_finds_nobody(db):
    PatientFactory.create_batch(3)
    assert list(Patient.objects.search("- .")) == []


def test_the_search_page_queries_stay_the_same_with_ten_times_the_patients(
    client, front_desk_user, django_assert_num_queries
):
    client.force_login(front_desk_user)

    def search(typed: str) -> str:
        # session, user, the user's own and their groups' permissions, the matching patients,
        # and the looks at the patients shown (one append)
        with django_assert_num_queries(4 + AUDIT_WRITES):
            response = client.get(
                reverse("people:patient_list"), {"q": typed}, headers={"HX-Request": "true"}
            )
        return response.content.decode()

    PatientFactory.create_batch(3, first_name="Zoë", phone="+31 6 5555 0000")
    assert search("zoe").count("<li>") == 3
    assert search("06 5555 0000").count("<li>") == 3
    PatientFactory.create_batch(30, first_name="Zoë", phone="+31 6 5555 0000")
    assert search("zoe").count("<li>") == 25
    assert search("0655550000").count("<li>") == 25


# --- likely duplicates before a second record --------------------------------------------


def test_a_second_alice_smit_is_refused_until_confirmed(db, front_desk_user):
    """Seen: a second Alice Smit with the same date of birth and phone was created silently."""
    first = services.patient_create(**smit(), by=front_desk_user)
    with pytest.raises(services.LikelyDuplicate) as refused:
        services.patient_create(
            **smit(first_name="alice", last_name="SMIT", phone="0612345678", email=""),
            by=front_desk_user,
        )
    assert refused.value.candidates == [first]
    assert Patient.objects.count() == 1
    second = services.patient_create(**smit(), different_person=True, by=front_desk_user)
    assert Patient.objects.count() == 2 and second != first


@pytest.mark.parametrize(
    "typed, shared",
    [
        (smit(first_name="Alíce", phone="", email=""), ["name and date of birth"]),
        (smit(first_name="Ann", phone="06-1234 5678", email=""), ["phone"]),
        (smit(first_name="Ann", phone="", email="ALICE.SMIT@example.com"), ["email"]),
    ],
)
def test_each_sign_of_the_same_person_is_a_likely_duplicate(db, typed, shared):
    on_file = PatientFactory(**smit())
    with pytest.raises(services.LikelyDuplicate) as refused:
        services.patient_create(**typed)
    assert refused.value.candidates == [on_file]
    assert on_file.shared_with(Patient(**typed)) == shared


def test_not_a_duplicate_same_name_other_birthday_and_nothing_else_shared(db):
    PatientFactory(**smit())
    services.patient_create(**smit(date_of_birth=dt.date(1990, 1, 1), phone="", email=""))
    assert Patient.objects.count() == 2


def test_a_change_that_makes_a_record_look_like_another_is_refused_until_confirmed(db):
    on_file = PatientFactory(**smit())
    other = PatientFactory(first_name="Ann", last_name="Bakker", phone="", email="")
    with pytest.raises(services.LikelyDuplicate):
        services.patient_update(patient=other, phone="06 1234 5678")
    other.refresh_from_db()
    assert other.phone == ""
    services.patient_update(patient=other, phone="06 1234 5678", different_person=True)
    # Its other details change freely: the duplicate check looks at what changed.
    services.patient_update(patient=other, notes="Prefers mornings")
    assert on_file.shared_with(Patient.objects.get(pk=other.pk)) == ["phone"]


def test_a_bad_phone_number_is_refused_with_a_message(db):
    with pytest.raises(ValidationError) as refused:
        services.patient_create(**smit(phone="call me"))
    assert refused.value.message_dict == {
        "phone": ["Give a phone number such as 06 1234 5678 or +31 6 1234 5678."]
    }


def test_the_desk_sees_the_likely_duplicate_and_saves_nothing(client, front_desk_user):
    on_file = PatientFactory(**smit())
    client.force_login(front_desk_user)
    form = {
        "first_name": "Alice",
        "last_name": "Smit",
        "date_of_birth": "1988-04-12",
        "phone": "0612345678",
    }
    response = client.post(reverse("people:patient_create"), form)
    body = response.content.decode()
    assert response.status_code == 400
    assert "Already on file?" in body
    assert f'href="{on_file.get_absolute_url()}"' in body
    assert "Same name and date of birth, phone" in body
    assert Patient.objects.count() == 1
    looked = AuditEvent.objects.filter(patient_id=on_file.pk, detail="likely duplicates")
    assert looked.count() == 1
    response = client.post(reverse("people:patient_create"), {**form, "different_person": "on"})
    assert response.status_code == 302
    assert Patient.objects.count() == 2


def test_a_clinician_editing_details_sees_the_likely_duplicate(client, clinician_user):
    on_file = PatientFactory(**smit())
    other = PatientFactory(first_name="Ann", last_name="Bakker", phone="", email="")
    client.force_login(clinician_user)
    response = client.post(
        reverse("people:patient_edit", args=[other.pk]),
        {
            "first_name": "Ann",
            "last_name": "Bakker",
            "date_of_birth": other.date_of_birth.isoformat(),
            "phone": "+31 6 1234 5678",
        },
    )
    assert response.status_code == 400
    assert f'href="{on_file.get_absolute_url()}"' in response.content.decode()
    other.refresh_from_db()
    assert other.phone == ""


def test_the_api_answers_409_with_the_candidates_until_told_it_is_someone_else(
    client, front_desk_user
):
    on_file = PatientFactory(**smit())
    client.force_login(front_desk_user)
    body = {"first_name": "Alice", "last_name": "Smit", "date_of_birth": "1988-04-12"}
    response = client.post("/api/patients/", body, content_type="application/json")
    assert response.status_code == 409
    answer = response.json()
    assert "same person" in answer["detail"]
    assert answer["candidates"] == [
        {
            "id": on_file.pk,
            "first_name": "Alice",
            "last_name": "Smit",
            "date_of_birth": "1988-04-12",
            "email": on_file.email,
            "phone": on_file.phone,
            "shared": ["name and date of birth"],
        }
    ]
    assert Patient.objects.count() == 1
    assert AuditEvent.objects.filter(patient_id=on_file.pk, action="view").exists()
    response = client.post(
        "/api/patients/", {**body, "different_person": True}, content_type="application/json"
    )
    assert response.status_code == 201
    assert "different_person" not in response.json()
    created = Patient.objects.get(pk=response.json()["id"])
    response = client.patch(
        f"/api/patients/{created.pk}/", {"phone": on_file.phone}, content_type="application/json"
    )
    assert response.status_code == 409
    assert [c["shared"] for c in response.json()["candidates"]] == [
        ["name and date of birth", "phone"]
    ]


# --- merging a duplicate into the record kept ---------------------------------------------


@pytest.fixture
def merger(db):
    """A desk lead: front desk, and the merge permission given to them alone."""
    from django.contrib.auth.models import Permission

    user = StaffFactory(username="dana", role="Front desk")
    user.user_permissions.add(Permission.objects.get(codename="merge_patient"))
    return user


def fill_every_relation(patient, alice_file, clinician_user) -> None:  # noqa: F811
    """One more row of the kinds alice_file lacks: a pre-session check, a booking, a change
    request, a place on the waiting list, a data export, a health questionnaire, a photo
    consent, a record merged into this one earlier. (Her signed consent forms come with her,
    from the factory.)"""
    from people.models import DataExport
    from scheduling.models import Booking, ChangeRequest, WaitlistEntry
    from treatments.models import Intake, PhotoConsent, PreSessionCheck

    PreSessionCheck.objects.create(
        patient=patient, session=alice_file.session, checked_by=clinician_user
    )
    Booking.objects.create(session=alice_file.session, booked_by=clinician_user)
    ChangeRequest.objects.create(
        session=alice_file.session, patient=patient, kind=ChangeRequest.Kind.CHANGE
    )
    WaitlistEntry.objects.create(session=alice_file.session, patient=patient)
    DataExport.objects.create(
        patient=patient, requested_by=clinician_user, status=DataExport.Status.EXPIRED
    )
    Intake.objects.create(patient=patient, skin_type=Intake.SkinType.III)
    PhotoConsent.objects.create(patient=patient, clinical=True, source=PhotoConsent.Source.STAFF)
    earlier = PatientFactory(first_name="Alice", last_name="Smit", consents=False)
    Patient.all_records.filter(pk=earlier.pk).update(merged_into=patient)


def rows_by_relation(patient) -> dict[str, int]:
    return {
        relation.related_model._meta.label: relation.related_model._base_manager.filter(
            **{relation.field.name: patient}
        ).count()
        for relation in services.patient_relations()
    }


def test_the_merge_knows_every_model_that_points_to_a_patient():
    """A model added later with a foreign key to Patient is moved by the merge without being
    named in it; this lists them so that the merge test below must hold a row of each."""
    found = {r.related_model._meta.label for r in Patient._meta.related_objects}
    hidden = {r.related_model._meta.label for r in services.patient_relations()}
    assert found <= hidden  # related_objects leaves out related_name="+" (the screenings)
    assert hidden == {
        "people.DataExport",
        "people.Patient",
        "photos.Comparison",
        "photos.Photo",
        "scheduling.ChangeRequest",
        "scheduling.WaitlistEntry",
        "treatments.ConsentSignature",
        "treatments.HistoryEntry",
        "treatments.Intake",
        "treatments.PhotoConsent",
        "treatments.PreSessionCheck",
        "treatments.Screening",
        "treatments.Session",
        "treatments.TreatmentPlan",
    }


def test_a_merge_moves_every_row_of_the_duplicate_in_one_go(
    alice_file,  # noqa: F811
    clinician_user,
    merger,
    django_capture_on_commit_callbacks,
):
    duplicate = alice_file.patient
    fill_every_relation(duplicate, alice_file, clinician_user)
    kept = PatientFactory(first_name="Alice", last_name="Smit", phone="", email="", consents=False)
    before = rows_by_relation(duplicate)
    empty = [label for label, count in before.items() if not count]
    assert not empty, f"no row of {empty} to move: give the duplicate one in this test"
    login = duplicate.user

    moved = services.patient_merge(duplicate=duplicate, into=kept, by=merger)

    assert rows_by_relation(duplicate) == dict.fromkeys(before, 0)
    # The duplicate itself now points to the record kept, with the one merged into it before.
    assert rows_by_relation(kept) == {**before, "people.Patient": 2}
    assert sum(moved.values()) == sum(before.values())
    alice_file.session.refresh_from_db()
    assert alice_file.session.booking.session.patient_id == kept.pk
    assert alice_file.photo.consent_portal  # consents travel with their photos
    duplicate.refresh_from_db()
    kept.refresh_from_db()
    assert duplicate.merged_into == kept and duplicate.merged_at is not None
    assert (kept.user, kept.email, kept.phone) == (login, duplicate.email, duplicate.phone)
    assert duplicate.user is None
    assert list(Patient.objects.search("Alice Smit")) == [kept]
    assert not Patient.objects.filter(pk=duplicate.pk).exists()
    events = AuditEvent.objects.filter(action="change", actor=merger)
    assert events.get(patient_id=kept.pk).detail.startswith(
        f"merged record {duplicate.pk} into this record; moved: "
    )
    assert events.get(patient_id=duplicate.pk).detail == f"merged into record {kept.pk}"


def test_a_refused_merge_moves_nothing(alice_file, front_desk_user, merger):  # noqa: F811
    duplicate = alice_file.patient
    kept = PatientFactory()
    before = rows_by_relation(duplicate)
    with pytest.raises(ValidationError, match="clinic admin or a desk lead"):
        services.patient_merge(duplicate=duplicate, into=kept, by=front_desk_user)
    with pytest.raises(ValidationError, match="two different records"):
        services.patient_merge(duplicate=duplicate, into=duplicate, by=merger)
    assert rows_by_relation(duplicate) == before
    services.patient_merge(duplicate=kept, into=duplicate, by=merger)
    with pytest.raises(ValidationError, match="already merged"):
        services.patient_merge(duplicate=kept, into=duplicate, by=merger)
    with pytest.raises(ValidationError, match="already merged"):
        services.patient_merge(duplicate=duplicate, into=kept, by=merger)


def test_a_merge_that_fails_halfway_leaves_both_records_as_they_were(
    alice_file,  # noqa: F811
    merger,
    monkeypatch,
):
    duplicate = alice_file.patient
    kept = PatientFactory()
    before = rows_by_relation(duplicate)

    def audit_fails(**kwargs):
        raise RuntimeError("the audit log is unreachable")

    monkeypatch.setattr(services, "audit_log", audit_fails)
    with pytest.raises(RuntimeError):
        services.patient_merge(duplicate=duplicate, into=kept, by=merger)
    assert rows_by_relation(duplicate) == before
    duplicate.refresh_from_db()
    assert duplicate.merged_into is None and duplicate.user is not None


def test_when_both_have_a_portal_login_the_duplicates_is_switched_off(alice, bob, admin_user):
    bobs_login = bob.user
    services.patient_merge(duplicate=bob, into=alice, by=admin_user)
    alice.refresh_from_db()
    bobs_login.refresh_from_db()
    assert alice.user.username == "alice"
    assert not bobs_login.is_active
    assert AuditEvent.objects.filter(
        object_type="auth.User", object_id=str(bobs_login.pk), patient_id=alice.pk
    ).exists()


def test_old_links_of_a_merged_record_lead_to_the_record_kept(client, alice, admin_user):
    duplicate = PatientFactory()
    services.patient_merge(duplicate=duplicate, into=alice, by=admin_user)
    client.force_login(admin_user)
    for name in ("people:patient_detail", "people:patient_edit", "treatments:chart"):
        response = client.get(reverse(name, args=[duplicate.pk]))
        assert response.status_code == 302, name
        assert response.url == reverse(name, args=[alice.pk])
    assert client.get(reverse("people:patient_detail", args=[10**6])).status_code == 404
    assert client.get(f"/api/patients/{duplicate.pk}/").status_code == 404


def test_the_merge_page_shows_what_moves_and_merges_on_confirmation(
    client,
    alice_file,  # noqa: F811
    merger,
):
    duplicate = alice_file.patient
    kept = PatientFactory(
        first_name="Alice", last_name="Smit", date_of_birth=duplicate.date_of_birth
    )
    client.force_login(merger)
    url = reverse("people:patient_merge", args=[kept.pk])
    page = client.get(url).content.decode()
    assert "Likely duplicates of this record" in page and f"?duplicate={duplicate.pk}" in page
    page = client.get(url, {"duplicate": duplicate.pk}).content.decode()
    assert "2 treatment plans" in page or "1 treatment plan" in page
    assert "2 sessions" in page and "2 photos" in page
    assert client.post(url, {}).status_code == 400  # nothing chosen: nothing merged
    assert client.post(url, {"duplicate": "abc"}).status_code == 400
    response = client.post(url, {"duplicate": duplicate.pk})
    assert response.status_code == 302 and response.url == kept.get_absolute_url()
    assert alice_file.plan.__class__.objects.get(pk=alice_file.plan.pk).patient_id == kept.pk
    follow = client.get(kept.get_absolute_url()).content.decode()
    assert f"Record {duplicate.pk} was merged into this one" in follow
    assert f"Also holds record {duplicate.pk}, merged on" in follow


def test_only_those_with_the_merge_permission_reach_the_merge_page(
    client, alice, front_desk_user, clinician_user, admin_user
):
    url = reverse("people:patient_merge", args=[alice.pk])
    for user in (front_desk_user, clinician_user, alice.user):
        client.force_login(user)
        assert client.get(url).status_code == 403
    client.force_login(admin_user)
    assert client.get(url).status_code == 200
