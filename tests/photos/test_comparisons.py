"""Pairing proposals, a clinician's changes, sheets, release and consent."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from PIL import Image

from photos import services
from photos.models import Comparison, Status


@pytest.fixture
def course_photos(alice_plan, add_photo, django_capture_on_commit_callbacks):
    sessions = {s.number: s for s in alice_plan.sessions.all()}
    portal = ("clinical", "portal")
    with django_capture_on_commit_callbacks(execute=True):
        photos = {
            "before1": add_photo(sessions[1], phase="before", purposes=portal),
            "after1": add_photo(sessions[1], phase="after", purposes=portal),
            "after2": add_photo(sessions[2], phase="after", purposes=portal),
            "after3": add_photo(sessions[3], phase="after", purposes=portal),
            "left45": add_photo(sessions[1], phase="before", view="left_45", purposes=portal),
        }
    return photos


def test_the_app_proposes_baseline_against_latest_and_a_series(course_photos, alice_plan):
    pair = Comparison.objects.get(plan=alice_plan, view="frontal", kind="pair")
    assert (pair.before, pair.after) == (course_photos["before1"], course_photos["after3"])
    series = Comparison.objects.get(plan=alice_plan, view="frontal", kind="series")
    assert (series.before, series.middle, series.after) == (
        course_photos["before1"],
        course_photos["after2"],
        course_photos["after3"],
    )
    assert not Comparison.objects.filter(view="left_45").exists()  # no after for that view


def test_sheets_are_made_as_jpeg_and_pdf_from_the_large_derivatives(course_photos, alice_plan):
    pair = Comparison.objects.get(plan=alice_plan, view="frontal", kind="pair")
    assert pair.sheet_status == Status.READY
    with default_storage.open(pair.sheet_jpeg_key, "rb") as handle:
        sheet = Image.open(handle)
        assert sheet.format == "JPEG" and sheet.width > sheet.height
    with default_storage.open(pair.sheet_pdf_key, "rb") as handle:
        assert handle.read(5) == b"%PDF-"


def test_a_clinicians_choice_stays_when_more_photos_arrive(
    course_photos, alice_plan, clinician_user, add_photo, django_capture_on_commit_callbacks
):
    pair = Comparison.objects.get(plan=alice_plan, view="frontal", kind="pair")
    with django_capture_on_commit_callbacks(execute=True):
        services.comparison_update(
            comparison=pair,
            before=course_photos["before1"],
            after=course_photos["after2"],
            by=clinician_user,
        )
    pair.refresh_from_db()
    assert pair.chosen_by == clinician_user and pair.sheet_status == Status.READY
    add_photo(alice_plan.sessions.get(number=3), phase="after")
    pair.refresh_from_db()
    assert pair.after == course_photos["after2"]


def test_pairs_must_be_in_time_order_and_of_one_view(course_photos, alice_plan, clinician_user):
    pair = Comparison.objects.get(plan=alice_plan, view="frontal", kind="pair")
    with pytest.raises(ValidationError, match="time order"):
        services.comparison_update(
            comparison=pair,
            before=course_photos["after3"],
            after=course_photos["before1"],
            by=clinician_user,
        )
    with pytest.raises(ValidationError, match="same patient, area and view"):
        services.comparison_update(
            comparison=pair,
            before=course_photos["left45"],
            after=course_photos["after3"],
            by=clinician_user,
        )


def test_withdrawing_portal_consent_hides_the_photo_and_its_sheets(
    course_photos, alice_plan, clinician_user
):
    pair = Comparison.objects.get(plan=alice_plan, view="frontal", kind="pair")
    services.comparison_release(comparison=pair, released=True, by=clinician_user)
    assert Comparison.objects.released().filter(pk=pair.pk).exists()
    services.photo_consent_update(
        photo=course_photos["after3"], purposes=["clinical"], by=clinician_user
    )
    assert not Comparison.objects.released().exists()
    assert not Comparison.objects.visible_for("portal").filter(pk=pair.pk).exists()
    assert Comparison.objects.visible_for("clinical").filter(pk=pair.pk).exists()
    with pytest.raises(ValidationError, match="not consented"):
        services.comparison_release(comparison=pair, released=True, by=clinician_user)


def test_a_sheet_dates_each_photo_by_its_session_not_the_cameras_clock(
    alice_plan, clinician_user, monkeypatch, django_capture_on_commit_callbacks
):
    """A camera set to 2008 made the after of a 2026 course older than its before."""
    from photos import imaging
    from tests.photos import images
    from tests.photos.conftest import upload_file

    drawn = []
    real_render = imaging.render_sheet

    def render_and_keep_captions(panels, **kwargs):
        drawn.append([panel.caption[0] for panel in panels])
        return real_render(panels, **kwargs)

    monkeypatch.setattr(imaging, "render_sheet", render_and_keep_captions)
    taken = {1: ("before", "2026:03:02 10:05:00"), 3: ("after", "2008:01:01 00:00:00")}
    with django_capture_on_commit_callbacks(execute=True):
        for number, (phase, when) in taken.items():
            services.photo_upload(
                session=alice_plan.sessions.get(number=number),
                body_area=alice_plan.body_area,
                view="frontal",
                phase=phase,
                file=upload_file("photo.jpg", images.jpeg(when=when)),
                by=clinician_user,
            )
    pair = Comparison.objects.get(plan=alice_plan, kind="pair")
    assert pair.sheet_status == Status.READY
    # Sessions 1 and 3 of the course are on 2 and 30 March 2026.
    assert drawn[-1] == ["Before · 2 Mar 2026", "After · 30 Mar 2026"]
