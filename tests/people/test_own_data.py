"""A patient's own data: the export of everything held about them, and the erasure of the
record once its retention period has ended (people.export, people.erasure)."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from pathlib import Path

import pytest
import time_machine
from dateutil.relativedelta import relativedelta
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test.utils import isolate_apps
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_verify
from people import erasure, export
from people.models import DataExport, Patient
from people.services import patient_relations
from tests.people.test_one_record import fill_every_relation
from tests.resilience.conftest import alice_file  # noqa: F401 - a file with every kind of row
from tests.services import AUDIT_WRITES
from treatments.models import Session


def stored_files(settings) -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def export_for(patient, by, committed) -> DataExport:
    """Asks for the export and lets the worker (eager here) build it."""
    with committed():
        made = export.data_export_request(patient=patient, by=by)
    made.refresh_from_db()
    assert made.status == DataExport.Status.READY, made.reason
    return made


def archive_of(made: DataExport) -> zipfile.ZipFile:
    with default_storage.open(made.storage_key, "rb") as handle:
        return zipfile.ZipFile(io.BytesIO(handle.read()))


# --- the export ------------------------------------------------------------------------------


@pytest.fixture
def full_file(alice_file, clinician_user):  # noqa: F811
    fill_every_relation(alice_file.patient, alice_file, clinician_user)
    return alice_file


def test_the_export_holds_a_row_of_every_relation_and_the_released_photos(
    full_file, committed, settings
):
    alice = full_file.patient
    made = export_for(alice, alice.user, committed)
    archive = archive_of(made)
    data = json.loads(archive.read("data.json"))

    assert data["You"]["First name"] == "Alice" and data["You"]["Last name"] == "Smit"
    assert data["You"]["Date of birth"] == alice.date_of_birth.isoformat()
    records = data["Records"]
    for relation in patient_relations():
        model = relation.related_model
        label = (
            "Records merged into yours"
            if model is Patient
            else str(model._meta.verbose_name_plural).capitalize()
        )
        assert records.get(label), f"no rows of {model._meta.label} in the export"
    # Rows hanging from those come along: the session's booking, the photos' derivatives.
    assert records["Bookings"] and records["Derivatives"]
    session = next(s for s in records["Sessions"] if s["ID"] == full_file.session.pk)
    assert session["Status"] == full_file.session.get_status_display()  # in words
    assert session["Patient"] == "you"

    photos = [name for name in archive.namelist() if name.startswith("photos/")]
    assert len(photos) == 2  # the before and the after of the released comparison
    for name in photos:
        assert archive.read(name)[:2] == b"\xff\xd8", name  # JPEG
    listed = {entry["File"] for entry in data["Files"]}
    assert set(photos) <= listed
    assert any(name.startswith("comparisons/") for name in archive.namelist())
    assert any(event["What"] == "Created" for event in data["Access log"])
    # Her signed consent forms, as she downloads them; the drawn signature is in them, not
    # bytes in data.json.
    forms = [name for name in archive.namelist() if name.startswith("consents/")]
    assert forms and len(forms) == alice.consent_signatures.count()
    assert all(archive.read(name)[:5] == b"%PDF-" for name in forms)
    assert set(forms) <= listed
    signatures = records["Consent signatures"]
    assert all(row["Signature png"].startswith("binary data, ") for row in signatures)


def test_an_export_that_fails_says_so_and_may_be_asked_again(client, alice, committed, monkeypatch):
    def storage_down(patient, now=None):
        raise OSError("storage unreachable")

    monkeypatch.setattr(export, "patient_data", storage_down)
    client.force_login(alice.user)
    with committed():
        client.post(reverse("portal:my_data"))
    assert DataExport.objects.get(patient=alice).status == DataExport.Status.FAILED
    page = client.get(reverse("portal:my_data"))
    assert page.status_code == 200
    body = page.content.decode()
    assert "did not work" in body and "Prepare a new download" in body


def test_the_export_leaves_out_secrets(full_file, committed):
    from knox.models import AuthToken

    alice = full_file.patient
    _, token = AuthToken.objects.create(user=alice.user)
    alice.user.refresh_from_db()
    made = export_for(alice, alice.user, committed)
    text = archive_of(made).read("data.json").decode()
    photo = full_file.photo
    for secret in (alice.user.password, token, photo.storage_key, photo.sha256, made.storage_key):
        assert secret and secret not in text
    for name in ("Storage key", "Sha256", "Password", "Name folded", "Sheet claimed by"):
        assert f'"{name}"' not in text


def test_an_app_adds_its_files_to_the_export(alice, committed, monkeypatch):
    """Signed forms: an app registers what it keeps of a patient, and it is in the ZIP."""
    key = default_storage.save("consents/alice-signed.pdf", ContentFile(b"%PDF-1.7 signed"))
    monkeypatch.setattr(export, "_file_providers", list(export._file_providers))
    export.export_files_register(
        lambda patient: [export.ExportFile("forms/consent.pdf", key, "signed consent")]
    )
    made = export_for(alice, alice.user, committed)
    archive = archive_of(made)
    assert archive.read("forms/consent.pdf") == b"%PDF-1.7 signed"
    data = json.loads(archive.read("data.json"))
    assert {"File": "forms/consent.pdf", "What": "signed consent"} in data["Files"]


@isolate_apps("people")
def test_a_rows_file_field_is_found_without_being_named():
    """A signed consent's PDF, say: any FileField of a row pointing to the patient goes into
    the archive, and data.json names it where the row holds it."""
    from django.db import models

    class SignedForm(models.Model):
        pdf = models.FileField(verbose_name="signed PDF")

        class Meta:
            app_label = "people"

        def __str__(self) -> str:
            return f"signed form {self.pk}"

    key = default_storage.save("forms/form-1.pdf", ContentFile(b"%PDF-1.7 consent"))
    row = SignedForm(pk=7, pdf=key)
    found = dict(export._field_files(SignedForm, [row]))
    item = found[("people.SignedForm", 7, "pdf")]
    assert item.path == "files/signedform/7-pdf-form-1.pdf" and item.key == key
    fields = export.exported_fields(SignedForm)
    patient = Patient(pk=1)
    paths = {k: f.path for k, f in found.items()}
    assert export._record(row, fields, patient, paths)["Signed PDF"] == item.path
    contents = export.Contents(data={"Files": []}, files=[item])
    target = io.BytesIO()
    export.archive_write(contents, target, now=timezone.now())
    archive = zipfile.ZipFile(target)
    assert archive.read(item.path) == b"%PDF-1.7 consent"
    assert json.loads(archive.read("data.json"))["Files"][0]["File"] == item.path


def test_the_export_is_audited_requested_and_downloaded(client, alice, committed):
    client.force_login(alice.user)
    with committed():
        response = client.post(reverse("portal:my_data"))
    assert response.status_code == 302
    made = DataExport.objects.get(patient=alice)
    requested = AuditEvent.objects.get(object_type="people.DataExport", action="create")
    assert (requested.patient_id, requested.actor_id) == (alice.pk, alice.user.pk)
    page = client.get(reverse("portal:my_data")).content.decode()
    url = reverse("portal:my_data_download", args=[made.pk])
    assert f'href="{url}"' in page
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    assert "data.json" in zipfile.ZipFile(io.BytesIO(body)).namelist()
    downloaded = AuditEvent.objects.get(object_type="people.DataExport", action="download")
    assert downloaded.patient_id == alice.pk and downloaded.object_id == str(made.pk)


def test_the_my_data_page_reads_a_fixed_number_of_queries(
    client, alice, committed, django_assert_num_queries
):
    client.force_login(alice.user)
    for _ in range(3):
        export_for(alice, alice.user, committed)
    # session, user, the permissions (one union), the patient, the latest export, and the
    # look at the page (one append)
    with django_assert_num_queries(5 + AUDIT_WRITES):
        page = client.get(reverse("portal:my_data"))
    assert "Download my data" in page.content.decode()
    # htmx asks for the status alone while the export is under way
    partial = client.get(reverse("portal:my_data"), headers={"HX-Request": "true"})
    assert partial.content.decode().lstrip().startswith('<section id="my-data-status"')


def test_an_expired_export_is_gone_and_its_file_deleted(client, alice, committed, settings):
    made = export_for(alice, alice.user, committed)
    url = reverse("portal:my_data_download", args=[made.pk])
    later = made.expires_at + dt.timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        client.force_login(alice.user)
        response = client.get(url)
        assert response.status_code == 410
        assert "expired" in response.content.decode()
        assert export.data_exports_purge() == 1
    made.refresh_from_db()
    assert made.status == DataExport.Status.EXPIRED and made.storage_key == ""
    assert not [name for name in stored_files(settings) if name.startswith("exports/")]


def test_a_second_request_while_one_is_under_way_makes_no_second_export(alice):
    first = export.data_export_request(patient=alice, by=alice.user)
    assert export.data_export_request(patient=alice, by=alice.user) == first
    assert DataExport.objects.filter(patient=alice).count() == 1


def test_staff_produce_the_export_with_the_permission_only(
    client, alice, admin_user, front_desk_user, committed
):
    url = reverse("people:patient_export", args=[alice.pk])
    client.force_login(front_desk_user)
    assert client.post(url).status_code == 403
    assert client.get(reverse("people:patient_detail", args=[alice.pk])).status_code == 200
    client.force_login(admin_user)
    assert client.get(url).status_code == 405
    with committed():
        response = client.post(url)
    assert response.status_code == 302
    made = DataExport.objects.get(patient=alice)
    assert made.requested_by == admin_user and made.status == DataExport.Status.READY
    page = client.get(reverse("people:patient_detail", args=[alice.pk])).content.decode()
    download = reverse("people:patient_export_download", args=[alice.pk, made.pk])
    assert download in page
    assert client.get(download).status_code == 200


# --- erasure ---------------------------------------------------------------------------------


def after_retention(settings) -> dt.datetime:
    return timezone.now() + dt.timedelta(days=366 * settings.PATIENT_RETENTION_YEARS + 2)


def test_the_default_retention_is_the_dutch_twenty_years(settings):
    assert settings.PATIENT_RETENTION_YEARS == 20


def test_a_retention_of_no_years_fails_loudly(tmp_path):
    from tests.core.test_settings import load_settings

    result = load_settings(tmp_path, PATIENT_RETENTION_YEARS="0")
    assert result.returncode != 0
    assert "PATIENT_RETENTION_YEARS and PATIENT_EXPORT_HOURS must be whole numbers" in (
        result.stderr
    )


def test_erasure_is_refused_before_the_retention_period_ends(full_file, admin_user):
    alice = full_file.patient
    ends = erasure.retention_ends(alice)
    assert ends == timezone.localdate() + relativedelta(years=20)  # changed today
    with pytest.raises(ValidationError) as refused:
        erasure.patient_erase(patient=alice, typed_name="Alice Smit", by=admin_user)
    assert f"may be erased from {ends.day} {ends:%B %Y}." in refused.value.messages[0]
    alice.refresh_from_db()
    assert alice.first_name == "Alice" and alice.erased_at is None
    assert AuditEvent.objects.filter(
        action="delete", allowed=False, patient_id=alice.pk, detail="erasure refused"
    ).exists()


def test_a_later_change_to_the_record_moves_the_retention_end(alice_file):  # noqa: F811
    alice = alice_file.patient
    with time_machine.travel(timezone.now() + dt.timedelta(days=400), tick=False):
        alice.notes = "moved house"
        alice.save()
        assert erasure.retention_ends(alice) == timezone.localdate() + relativedelta(years=20)


def test_erasure_after_retention_cascades_and_keeps_the_audit_chain(
    full_file, admin_user, client, committed, settings
):
    from knox.models import AuthToken

    alice = full_file.patient
    login = alice.user
    AuthToken.objects.create(user=login)
    export_for(alice, login, committed)
    merged = Patient.all_records.get(merged_into=alice)
    Session.objects.filter(pk=full_file.session.pk).update(notes="Alice Smit prefers mornings")
    client.force_login(login)
    assert client.get(reverse("portal:home")).status_code == 200
    assert stored_files(settings)  # photos, derivatives, sheets, the export

    with time_machine.travel(after_retention(settings), tick=False), committed():
        done = erasure.patient_erase(patient=alice, typed_name=" alice  SMIT ", by=admin_user)

    assert stored_files(settings) == set()
    assert done.files > 0 and done.records == 2
    alice.refresh_from_db()
    assert alice.full_name == f"Erased patient #{alice.pk}"
    assert (alice.date_of_birth, alice.email, alice.phone, alice.notes, alice.user) == (
        None,
        "",
        "",
        "",
        None,
    )
    assert (alice.name_folded, alice.phone_e164, alice.email_folded) == ("", "", "")
    merged.refresh_from_db()
    assert merged.first_name == "Erased" and merged.date_of_birth is None
    assert not list(Patient.objects.search("Alice"))
    # Photos, their derivatives and comparisons, and the exports are gone; sessions stay.
    assert not alice.photos.exists() and not alice.photo_comparisons.exists()
    assert not DataExport.objects.filter(patient=alice).exists()
    session = Session.objects.get(pk=full_file.session.pk)
    assert session.patient_id == alice.pk and session.notes == ""
    # The login is closed: deactivated, anonymised, its sessions and tokens ended.
    login.refresh_from_db()
    assert not login.is_active and not login.has_usable_password()
    assert login.username == f"erased-patient-{login.pk}" and login.email == ""
    assert not AuthToken.objects.filter(user=login).exists()
    assert client.get(reverse("portal:home")).status_code == 302
    # The chain verifies, and holds the erasure.
    assert audit_verify().ok
    event = AuditEvent.objects.get(action="delete", allowed=True, patient_id=alice.pk)
    assert event.actor == admin_user and event.detail.startswith("erased after the retention")
    assert "Alice" not in event.detail and "Smit" not in event.detail


def test_an_erasure_that_fails_halfway_leaves_everything_as_it_was(
    full_file, admin_user, committed, settings, monkeypatch
):
    alice = full_file.patient
    files = stored_files(settings)
    photos = alice.photos.count()

    def fails(patient):
        raise RuntimeError("storage unreachable")

    monkeypatch.setattr(erasure, "_erasers", [*erasure._erasers, fails])
    with (
        time_machine.travel(after_retention(settings), tick=False),
        committed(),
        pytest.raises(RuntimeError),
    ):
        erasure.patient_erase(patient=alice, typed_name="Alice Smit", by=admin_user)
    assert stored_files(settings) == files
    alice.refresh_from_db()
    assert alice.first_name == "Alice" and alice.erased_at is None and alice.user is not None
    assert alice.photos.count() == photos
    assert alice.user.is_active
    assert not AuditEvent.objects.filter(action="delete", allowed=True).exists()


def test_the_erase_page_asks_for_the_typed_name_and_says_when(
    client,
    alice_file,  # noqa: F811
    admin_user,
    front_desk_user,
    settings,
):
    alice = alice_file.patient
    url = reverse("people:patient_erase", args=[alice.pk])
    client.force_login(front_desk_user)
    assert client.get(url).status_code == 403
    client.force_login(admin_user)
    page = client.get(url).content.decode()
    assert "may be erased from" in page and "typed_name" not in page
    with time_machine.travel(after_retention(settings), tick=False):
        client.force_login(admin_user)
        page = client.get(url).content.decode()
        assert 'name="typed_name"' in page
        response = client.post(url, {"typed_name": "Bob Mulder"})
        assert response.status_code == 400
        assert "Type the patient&#x27;s full name" in response.content.decode()
        response = client.post(url, {"typed_name": "Alice Smit"})
        assert response.status_code == 302
        follow = client.get(response.url).content.decode()
    assert "The record was erased" in follow and f"Erased patient #{alice.pk}" in follow


def test_records_past_retention_are_listed_never_erased(alice, bob, settings, caplog):
    from people.tasks import list_past_retention

    with time_machine.travel(after_retention(settings), tick=False):
        bob.notes = "a late change"
        bob.save()
        out = io.StringIO()
        call_command("patients_past_retention", stdout=out)
        assert f"record {alice.pk}:" in out.getvalue()
        assert f"record {bob.pk}:" not in out.getvalue()
        assert "Alice" not in out.getvalue()
        assert list_past_retention() == [alice.pk]
    assert "Smit" not in caplog.text
    alice.refresh_from_db()
    assert alice.erased_at is None


def test_the_beat_tasks_are_registered(settings):
    from clinic.celery import app

    for entry in ("people-data-exports-purge", "people-past-retention"):
        assert settings.CELERY_BEAT_SCHEDULE[entry]["task"] in app.tasks, entry


def test_erasure_takes_the_course_sheets_and_the_signed_names_and_signatures(
    full_file, admin_user, committed, settings
):
    """Course sheets (photos app) and signed consent forms (treatments) came after erasure was
    written: a course sheet's files and a signature's typed name, drawing and address go too,
    or the clinic keeps the patient's face and name after erasing them."""
    from photos.models import CourseSheet
    from treatments.models import ConsentSignature

    alice = full_file.patient
    jpeg = default_storage.save("photos/course-sheets/1/clinical.jpg", ContentFile(b"\xff\xd8"))
    pdf = default_storage.save("photos/course-sheets/1/clinical.pdf", ContentFile(b"%PDF-1.4"))
    CourseSheet.objects.create(
        plan=full_file.plan,
        body_area=full_file.plan.body_area,
        view="frontal",
        sheet_status="ready",
        sheet_jpeg_key=jpeg,
        sheet_pdf_key=pdf,
        requested_by=admin_user,
    )
    ConsentSignature.objects.filter(patient=alice).update(ip_address="192.0.2.7")
    assert ConsentSignature.objects.filter(patient=alice).exists()

    with time_machine.travel(after_retention(settings), tick=False), committed():
        erasure.patient_erase(patient=alice, typed_name="Alice Smit", by=admin_user)

    assert stored_files(settings) == set()
    assert not CourseSheet.objects.filter(plan__patient=alice).exists()
    for signature in ConsentSignature.objects.filter(patient=alice):
        assert "Alice" not in signature.signed_name and "Smit" not in signature.signed_name
        assert bytes(signature.signature_png) == b"" and signature.ip_address is None
