"""Consent forms (issue 22, part 3; issue 21's "consent through the API"): versioned texts,
signatures, the gate that refuses a course without one, the signed PDF, the standing photo
consent and its withdrawal reaching the photos, and the API."""

from __future__ import annotations

import base64
import datetime
import io
import re

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from pypdf import PdfReader

from audit.models import AuditEvent
from photos import services as photo_services
from photos.models import Comparison, Photo, Purpose
from tests.factories import PatientFactory, signature_png
from tests.photos.conftest import upload_file
from tests.records import arrive
from treatments import consents, gate, services
from treatments.consent_pdf import consent_pdf
from treatments.models import (
    ConsentSignature,
    Modality,
    PhotoConsent,
    PhotoPurpose,
    Session,
)

from .conftest import at

DAY = datetime.date(2026, 3, 10)


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def blank_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGBA", (300, 100), (255, 255, 255, 0)).save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def newcomer(db):
    """A patient who has signed nothing yet."""
    return PatientFactory(first_name="Nora", last_name="Kuipers", consents=False, with_account=True)


@pytest.fixture
def microdermabrasion(db) -> Modality:
    return Modality.objects.get(kind="microdermabrasion")


def sign(patient, modality, *, purposes=("clinical",), by=None, request=None, **kwargs):
    return consents.consent_sign(
        patient=patient,
        version=consents.current_version(modality),
        signed_name=kwargs.pop("signed_name", f"{patient.first_name} {patient.last_name}"),
        signature=kwargs.pop("signature", data_url(signature_png())),
        purposes=purposes,
        place=kwargs.pop("place", ConsentSignature.Place.PORTAL),
        by=by,
        request=request,
    )


def test_every_treatment_has_a_seeded_consent_form_and_consultations_need_none(db):
    for modality in Modality.objects.all():
        version = consents.current_version(modality)
        if modality.is_treatment:
            assert version is not None and version.number == 1, modality
            assert "consent" in version.title.lower() and len(version.paragraphs) >= 4
        else:
            assert not consents.consent_required(modality)


def test_photo_purposes_are_the_photos_purposes():
    assert PhotoPurpose.choices == Purpose.choices


def test_editing_the_text_publishes_a_new_version_and_signatures_keep_theirs(
    newcomer, microdermabrasion, admin_user
):
    first = consents.current_version(microdermabrasion)
    signed = sign(newcomer, microdermabrasion)
    same = consents.consent_publish(
        modality=microdermabrasion, title=first.title, text=first.text, by=admin_user
    )
    assert same == first  # nothing changed, nothing published
    second = consents.consent_publish(
        modality=microdermabrasion,
        title=first.title,
        text=first.text + "\n\nI know that level III leaves pinpoint bleeding.",
        by=admin_user,
    )
    assert second.number == 2 and consents.current_version(microdermabrasion) == second
    first.refresh_from_db()
    assert "pinpoint bleeding." not in first.text.splitlines()[-1]  # the old words, unchanged
    signed.refresh_from_db()
    assert signed.version == first
    with pytest.raises(ValidationError, match="never changed"):
        first.save()
    assert AuditEvent.objects.filter(
        action="create", object_type="treatments.ConsentVersion", object_id=str(second.pk)
    ).exists()
    # A form opened before the edit is refused at signing: the words read are no longer current.
    with pytest.raises(ValidationError, match="updated this consent text"):
        consents.consent_sign(
            patient=newcomer,
            version=first,
            signed_name="Nora Kuipers",
            signature=signature_png(),
            purposes=[],
            place="portal",
            by=newcomer.user,
        )


def test_the_admin_edit_publishes_a_version(client, microdermabrasion):
    from django.contrib.auth import get_user_model

    superuser = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(superuser)
    form = microdermabrasion.consent_form
    url = reverse("admin:treatments_consentform_change", args=[form.pk])
    page = client.get(url).content.decode()
    assert "Consent to microdermabrasion" in page
    first = form.versions.get()
    response = client.post(
        url,
        {
            "title": "Consent to microdermabrasion",
            "text": "New words.\n\nMore new words.",
            # The versions, shown read-only below the text.
            "versions-TOTAL_FORMS": "1",
            "versions-INITIAL_FORMS": "1",
            "versions-0-id": first.pk,
            "versions-0-form": form.pk,
        },
    )
    assert response.status_code == 302, response.context_data["errors"]
    assert [v.number for v in form.versions.all()] == [2, 1]
    assert form.versions.get(number=2).paragraphs == ["New words.", "More new words."]


@time_machine.travel(at(DAY, 10), tick=False)
def test_the_gate_refuses_a_course_without_signed_consent_and_allows_it_after(
    client, newcomer, make_plan, clinician_user, microdermabrasion
):
    first = make_plan(newcomer, "microdermabrasion", DAY).sessions.get(number=1)
    arrive(first, at(DAY, 9, 45))
    services.session_check_and_screen(session=first, present=[], by=clinician_user)
    with pytest.raises(ValidationError, match="Consent not signed"):
        gate.screening_for_treatment(first, depth_level=first.depth_level)
    assert gate.state(first).code == gate.State.CONSENT
    # The record page answers the same, and records nothing.
    client.force_login(clinician_user)
    response = client.post(
        reverse("treatments:session_record", args=[first.pk]),
        {"depth_level": first.depth_level_id, "areas": [first.plan.body_area_id]},
    )
    assert response.status_code == 400
    assert "Consent not signed" in response.content.decode()
    first.refresh_from_db()
    assert first.status == Session.Status.CHECKED_IN
    # The session page says so and links to the tablet.
    page = client.get(reverse("treatments:session_detail", args=[first.pk])).content.decode()
    tablet = reverse("treatments:consent_tablet", args=[newcomer.pk, microdermabrasion.pk])
    assert "Consent not signed" in page and tablet in page

    sign(newcomer, microdermabrasion, by=newcomer.user)

    assert gate.screening_for_treatment(first, depth_level=first.depth_level)
    services.session_record(
        session=first,
        depth_level=first.depth_level,
        areas=[first.plan.body_area],
        by=clinician_user,
    )
    first.refresh_from_db()
    assert first.status == Session.Status.COMPLETED


@time_machine.travel(at(DAY, 10), tick=False)
def test_the_lists_show_consent_not_signed_in_one_query(
    newcomer, alice, make_plan, django_assert_num_queries
):
    """The check-in list's states: one query for the consents however many rows."""
    from scheduling.queries import check_in_rows

    sessions = []
    for patient in (newcomer, alice):
        session = make_plan(patient, "microdermabrasion", DAY).sessions.get(number=1)
        sessions.append(arrive(session, at(DAY, 9, 45)))
    rows = list(check_in_rows().filter(pk__in=[s.pk for s in sessions]))
    # the patients' signed consents, the day's screenings (none: no findings to fetch)
    with django_assert_num_queries(2):
        states = gate.list_states(rows)
    assert states[sessions[0].pk].code == gate.State.CONSENT
    assert "Consent not signed" in states[sessions[0].pk].label
    assert states[sessions[1].pk].code == gate.State.NOT_SCREENED


def test_a_blank_or_broken_signature_or_no_name_is_refused_and_nothing_is_saved(
    newcomer, microdermabrasion
):
    for signature, message in (
        (data_url(blank_png()), "Draw your signature"),
        ("", "Draw your signature"),
        ("data:image/png;base64,not-base64!", "Draw your signature"),
        (data_url(b"\x89PNG\r\n\x1a\n" + b"\0" * 40), "not a readable image"),
    ):
        with pytest.raises(ValidationError) as refused:
            sign(newcomer, microdermabrasion, signature=signature)
        assert message in refused.value.message_dict["signature"][0]
    with pytest.raises(ValidationError) as refused:
        sign(newcomer, microdermabrasion, signed_name="   ")
    assert refused.value.message_dict == {"signed_name": ["Type your full name."]}
    with pytest.raises(ValidationError, match="Unknown photo consent purpose: faces"):
        sign(newcomer, microdermabrasion, purposes=["faces"])
    assert not ConsentSignature.objects.filter(patient=newcomer).exists()
    assert not PhotoConsent.objects.filter(patient=newcomer).exists()


def test_the_signed_pdf_has_the_text_the_name_the_time_and_the_drawn_signature(
    newcomer, microdermabrasion, settings
):
    settings.TIME_ZONE = "Europe/Amsterdam"
    with time_machine.travel(at(DAY, 14, 5), tick=False):
        signed = sign(newcomer, microdermabrasion, purposes=("clinical", "portal"))
    reader = PdfReader(io.BytesIO(consent_pdf(signed)))
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    version = signed.version
    assert version.title in text and "Version 1" in text
    assert " ".join(version.paragraphs[0].split()) in text
    assert "Name: Nora Kuipers" in text
    assert "Signed: 10 March 2026 at 14:05" in text
    assert "[x] Clinical record" in text and "[ ] Marketing" in text
    images = [image for page in reader.pages for image in page.images]
    assert len(images) == 1


def test_signing_keeps_version_time_address_and_the_standing_photo_consent(
    client, newcomer, microdermabrasion
):
    client.force_login(newcomer.user)
    url = reverse("portal:consent_sign", args=[microdermabrasion.pk])
    page = client.get(url).content.decode()
    assert "Consent to microdermabrasion" in page and 'id="signature-pad"' in page
    version = consents.current_version(microdermabrasion)
    form = {
        "version": version.pk,
        "purposes": ["clinical", "portal"],
        "agree": "on",
        "signed_name": "Nora Kuipers",
        "signature": data_url(signature_png()),
    }
    # Without the tick, the page again with the message, and what was typed is kept.
    response = client.post(url, {**form, "agree": ""}, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 400
    body = response.content.decode()
    assert "Tick the box to say you have read and agree." in body
    assert 'value="Nora Kuipers"' in body and "data:image/png;base64," in body
    assert not ConsentSignature.objects.exists()

    response = client.post(url, form, REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 302
    signed = ConsentSignature.objects.get(patient=newcomer)
    assert (signed.version, signed.place, signed.ip_address) == (version, "portal", "203.0.113.9")
    assert bytes(signed.signature_png).startswith(b"\x89PNG")
    assert signed.photo_consent.purposes == ["clinical", "portal"]
    assert consents.standing_purposes(newcomer) == ["clinical", "portal"]
    event = AuditEvent.objects.get(object_type="treatments.ConsentSignature")
    assert event.patient_id == newcomer.pk and event.ip_address == "203.0.113.9"
    assert "microdermabrasion version 1" in event.detail
    # Her PDF, downloaded: on the record as a download of her signed form.
    response = client.get(reverse("portal:consent_pdf", args=[signed.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert AuditEvent.objects.filter(
        action="download", patient_id=newcomer.pk, object_id=str(signed.pk)
    ).exists()


def test_the_tablet_page_signs_for_the_patient_and_goes_back(
    client, newcomer, microdermabrasion, front_desk_user
):
    client.force_login(front_desk_user)
    back = "/desk/today/"
    url = reverse("treatments:consent_tablet", args=[newcomer.pk, microdermabrasion.pk])
    assert client.get(url, {"next": back}).status_code == 200
    response = client.post(
        f"{url}?next={back}",
        {
            "version": consents.current_version(microdermabrasion).pk,
            "agree": "on",
            "signed_name": "Nora Kuipers",
            "signature": data_url(signature_png()),
        },
    )
    assert response.status_code == 302 and response["Location"] == back
    signed = ConsentSignature.objects.get(patient=newcomer)
    assert signed.place == "tablet" and signed.signed_by == front_desk_user
    assert signed.photo_consent.purposes == []
    # A version id of another form is refused with a message, nothing saved.
    other = consents.current_version(Modality.objects.get(kind="laser_peel"))
    response = client.post(url, {"version": other.pk, "agree": "on", "signed_name": "N K"})
    assert response.status_code == 400
    assert "not a version of this consent form" in response.content.decode()
    assert ConsentSignature.objects.filter(patient=newcomer).count() == 1


def test_withdrawing_in_the_portal_is_a_new_record_and_reaches_every_photo(
    client, alice, make_plan, clinician_user, microdermabrasion, django_capture_on_commit_callbacks
):
    sign(alice, microdermabrasion, purposes=("clinical", "portal", "marketing"), by=alice.user)
    plan = make_plan(alice, "microdermabrasion", DAY)
    session = plan.sessions.get(number=1)
    with django_capture_on_commit_callbacks(execute=True):
        photos = [
            photo_services.photo_upload(
                session=session,
                body_area=plan.body_area,
                view="frontal",
                phase=phase,
                file=upload_file(),
                by=clinician_user,
            )
            for phase in ("before", "after")
        ]
    # New photos take the standing consent.
    assert all(sorted(p.purposes) == ["clinical", "marketing", "portal"] for p in photos)
    assert Photo.objects.consented_for("marketing").count() == 2
    comparison = Comparison.objects.get(plan=plan, before=photos[0], after=photos[1])
    Comparison.objects.filter(pk=comparison.pk).update(released_to_portal=True)
    assert list(Comparison.objects.released()) == [comparison]
    standing = consents.standing_photo_consent(alice)

    client.force_login(alice.user)
    response = client.post(reverse("portal:photo_consent"), {"purposes": ["clinical"]})
    assert response.status_code == 302

    standing.refresh_from_db()
    assert standing.purposes == ["clinical", "portal", "marketing"]  # kept as decided
    now = consents.standing_photo_consent(alice)
    assert now != standing and now.source == "portal" and now.purposes == ["clinical"]
    assert Photo.objects.consented_for("marketing").count() == 0
    assert Photo.objects.consented_for("portal").count() == 0
    assert list(Comparison.objects.released()) == []
    for photo in photos:
        assert AuditEvent.objects.filter(
            object_type="photos.Photo",
            object_id=str(photo.pk),
            detail="consent given: -; withdrawn: marketing,portal",
        ).exists()
    assert AuditEvent.objects.filter(
        object_type="treatments.PhotoConsent",
        detail="photo consent (portal) given: -; withdrawn: marketing,portal",
    ).exists()
    page = client.get(reverse("portal:consents")).content.decode()
    ticked = set(re.findall(r'<input[^>]*value="(\w+)"[^>]*checked', page))
    assert ticked == {"clinical"}


def test_the_api_changes_a_photos_purposes_and_says_what_is_wrong(
    client, alice, make_plan, clinician_user
):
    plan = make_plan(alice, "microdermabrasion", DAY)
    photo = photo_services.photo_upload(
        session=plan.sessions.get(number=1),
        body_area=plan.body_area,
        view="frontal",
        phase="before",
        purposes=["clinical", "portal"],
        file=upload_file(),
        by=clinician_user,
    )
    client.force_login(clinician_user)
    url = f"/api/photos/{photo.pk}/consent/"
    assert client.get(url).json() == {"purposes": ["clinical", "portal"]}
    for bad, message in (
        ({"purposes": ["clinical", "faces"]}, '"faces" is not a valid choice.'),
        ({"purposes": "clinical"}, 'Expected a list of items but got type "str".'),
        ({}, "This field is required."),
    ):
        response = client.put(url, bad, content_type="application/json")
        assert response.status_code == 400, bad
        assert response.json() == {"purposes": [message]}
    photo.refresh_from_db()
    assert sorted(photo.purposes) == ["clinical", "portal"]
    response = client.put(url, {"purposes": ["clinical"]}, content_type="application/json")
    assert response.status_code == 200 and response.json() == {"purposes": ["clinical"]}
    photo.refresh_from_db()
    assert photo.purposes == ["clinical"]
    assert AuditEvent.objects.filter(
        actor=clinician_user, object_id=str(photo.pk), detail="consent given: -; withdrawn: portal"
    ).exists()


def test_the_api_records_a_standing_consent_change_and_it_reaches_the_photos(
    client, alice, make_plan, clinician_user, front_desk_user
):
    plan = make_plan(alice, "microdermabrasion", DAY)
    photo = photo_services.photo_upload(
        session=plan.sessions.get(number=1),
        body_area=plan.body_area,
        view="frontal",
        phase="before",
        purposes=["clinical", "education"],
        file=upload_file(),
        by=clinician_user,
    )
    client.force_login(front_desk_user)
    body = {"patient": alice.pk, "purposes": ["clinical", "education"]}
    response = client.post("/api/photo-consents/", body, content_type="application/json")
    assert response.status_code == 201
    assert response.json()["purposes"] == ["clinical", "education"]
    assert response.json()["source"] == "staff"
    response = client.post(
        "/api/photo-consents/",
        {"patient": alice.pk, "purposes": ["clinical", "adverts"]},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert response.json() == {"purposes": ['"adverts" is not a valid choice.']}
    response = client.post(
        "/api/photo-consents/",
        {"patient": alice.pk, "purposes": ["clinical"]},
        content_type="application/json",
    )
    assert response.status_code == 201
    photo.refresh_from_db()
    assert photo.purposes == ["clinical"]
    listed = client.get("/api/photo-consents/", {"patient": alice.pk}).json()["results"]
    assert [row["purposes"] for row in listed] == [["clinical"], ["clinical", "education"]]
    signatures = client.get("/api/consent-signatures/", {"patient": alice.pk}).json()["results"]
    assert len(signatures) == ConsentSignature.objects.filter(patient=alice).count() == 4
    assert "signature_png" not in signatures[0]
    # Patients do not use the staff API.
    client.force_login(alice.user)
    assert client.get("/api/photo-consents/").status_code == 403


def test_the_tablet_goes_back_only_to_a_page_of_ours(
    client, front_desk_user, newcomer, microdermabrasion
):
    """?next= on the tablet's form: another site's address is not followed (one helper with
    the history confirmations, which already refused it)."""
    client.force_login(front_desk_user)
    url = reverse("treatments:consent_tablet", args=[newcomer.pk, microdermabrasion.pk])
    response = client.post(
        f"{url}?next=https://evil.example/",
        {
            "version": consents.current_version(microdermabrasion).pk,
            "agree": "on",
            "signed_name": "Nora Kuipers",
            "signature": data_url(signature_png()),
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("treatments:patient_consents", args=[newcomer.pk])


def test_the_consent_pages_answer_only_get_and_post(
    client, front_desk_user, newcomer, microdermabrasion
):
    tablet = reverse("treatments:consent_tablet", args=[newcomer.pk, microdermabrasion.pk])
    portal = reverse("portal:consent_sign", args=[microdermabrasion.pk])
    client.force_login(front_desk_user)
    assert client.put(tablet).status_code == 405
    client.force_login(newcomer.user)
    assert client.delete(portal).status_code == 405
    assert not ConsentSignature.objects.filter(patient=newcomer).exists()
