"""Many photos of one view (the reference that stands for them) and the clinician's hand
alignment of a comparison: services, pages and the sheet the worker draws (eager tasks)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connections, transaction
from django.urls import reverse

from audit.models import AuditEvent
from photos import services
from photos.models import Alignment, Comparison, Photo
from tests.photos import images, real_photos

SHARP = "stereo_motorcycle"


@pytest.fixture
def upload(clinician_user, django_capture_on_commit_callbacks):
    """Uploads pixels as a JPEG and runs the worker's tasks (derivatives, score, sheet)."""

    def add(session, pixels: np.ndarray, *, phase: str = "before", view: str = "frontal"):
        file = SimpleUploadedFile("photo.jpg", real_photos.jpeg(pixels), "image/jpeg")
        with django_capture_on_commit_callbacks(execute=True):
            return services.photo_upload(
                session=session,
                body_area=session.plan.body_area,
                view=view,
                phase=phase,
                file=file,
                by=clinician_user,
            )

    return add


def references(session, phase="before", view="frontal") -> list[int]:
    return list(
        Photo.objects.filter(session=session, phase=phase, view=view, is_reference=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


# --- the reference of a view ----------------------------------------------------------------


def test_the_first_photo_of_a_view_is_its_reference_and_only_one_can_be(alice_plan, add_photo):
    session = alice_plan.sessions.get(number=1)
    first = add_photo(session)
    second = add_photo(session)
    other_view = add_photo(session, view="left_45")
    assert references(session) == [first.pk]
    assert other_view.is_reference  # each view has its own
    with pytest.raises(IntegrityError), transaction.atomic():
        Photo.objects.filter(pk=second.pk).update(is_reference=True)


@pytest.mark.django_db(transaction=True)
def test_uploads_of_one_view_at_the_same_moment_all_land_with_one_reference(
    alice_plan, clinician_user
):
    session = alice_plan.sessions.get(number=1)
    count = 4
    barrier = threading.Barrier(count)
    failures: list[str] = []

    def attempt(n: int):
        try:
            barrier.wait(timeout=10)
            services.photo_upload(
                session=session,
                body_area=alice_plan.body_area,
                view="frontal",
                phase="before",
                file=SimpleUploadedFile(f"{n}.jpg", images.jpeg(), "image/jpeg"),
                by=clinician_user,
            )
        except Exception as error:  # noqa: BLE001 - the test reports whatever went wrong
            failures.append(repr(error))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    assert Photo.objects.filter(session=session).count() == count
    assert len(references(session)) == 1


def test_a_marked_reference_replaces_the_old_one_in_the_comparison_audited(
    alice_plan, add_photo, clinician_user
):
    first_session, _, last_session = alice_plan.sessions.order_by("number")
    before = add_photo(first_session)
    add_photo(last_session, phase="after")
    second_try = add_photo(last_session, phase="after")
    pair = Comparison.objects.get(kind=Comparison.Kind.PAIR)
    assert (pair.before_id, pair.after_id) != (before.pk, second_try.pk)  # the first one

    services.photo_reference_set(photo=second_try, by=clinician_user)

    assert references(last_session, "after") == [second_try.pk]
    second_try.refresh_from_db()
    assert second_try.reference_chosen_by == clinician_user
    pair.refresh_from_db()
    assert (pair.before_id, pair.after_id) == (before.pk, second_try.pk)
    event = AuditEvent.objects.get(action="change", object_id=str(second_try.pk))
    assert event.actor == clinician_user and event.detail.startswith("reference of its view")


def test_the_baseline_is_the_reference_of_the_first_session(alice_plan, add_photo, clinician_user):
    session = alice_plan.sessions.get(number=1)
    add_photo(session)
    better = add_photo(session)
    later = add_photo(alice_plan.sessions.get(number=2), phase="after")
    services.photo_reference_set(photo=better, by=clinician_user)
    assert services.photo_baseline(later) == better


def test_a_clinicians_own_pairing_stays_when_the_reference_moves(
    alice_plan, add_photo, clinician_user
):
    first_session, _, last_session = alice_plan.sessions.order_by("number")
    before = add_photo(first_session)
    after = add_photo(last_session, phase="after")
    pair = Comparison.objects.get(kind=Comparison.Kind.PAIR)
    services.comparison_update(comparison=pair, before=before, after=after, by=clinician_user)
    second_try = add_photo(last_session, phase="after")
    services.photo_reference_set(photo=second_try, by=clinician_user)
    pair.refresh_from_db()
    assert pair.after_id == after.pk  # what was decided is kept as decided


def test_a_good_retake_takes_the_place_of_a_shaken_reference(alice_plan, upload):
    session = alice_plan.sessions.get(number=1)
    photo = real_photos.photo(SHARP)
    shaken = upload(session, real_photos.shaken(photo, 15, 30))
    assert shaken.quality.retake
    retake = upload(session, photo)
    assert references(session) == [retake.pk]


def test_a_reference_chosen_by_hand_is_not_moved_by_the_scores(alice_plan, upload, clinician_user):
    session = alice_plan.sessions.get(number=1)
    photo = real_photos.photo(SHARP)
    shaken = upload(session, real_photos.shaken(photo, 15, 30))
    services.photo_reference_set(photo=shaken, by=clinician_user)
    upload(session, photo)
    assert references(session) == [shaken.pk]


# --- the session page -----------------------------------------------------------------------


def test_the_session_page_shows_every_photo_of_a_view_with_its_reference(
    client, clinician_user, alice_plan, add_photo, django_assert_max_num_queries
):
    session = alice_plan.sessions.get(number=1)
    photos = [add_photo(session) for _ in range(3)] + [add_photo(session, phase="after")]
    client.force_login(clinician_user)
    url = reverse("photos:session", args=[session.pk])
    with django_assert_max_num_queries(30):
        page = client.get(url).content.decode()
    for photo in photos:
        assert f'data-photo="{photo.pk}"' in page
    assert page.count('data-reference="yes"') == 1  # one view with several photos
    assert page.count("Use as reference") == 2
    # More photos, the same queries: none per photo.
    for _ in range(3):
        add_photo(session, view="left_45")
    with django_assert_max_num_queries(30) as more:
        client.get(url)
    with django_assert_max_num_queries(30) as fewer:
        client.get(url)
    assert len(more.captured_queries) == len(fewer.captured_queries)


def test_marking_a_reference_on_the_page(client, clinician_user, alice_plan, add_photo):
    session = alice_plan.sessions.get(number=1)
    add_photo(session)
    second = add_photo(session)
    client.force_login(clinician_user)
    response = client.post(reverse("photos:photo_reference", args=[second.pk]), follow=True)
    assert response.status_code == 200
    assert "is now the reference" in response.content.decode()
    assert references(session) == [second.pk]


def test_a_retake_link_preselects_the_view_and_phase(client, clinician_user, alice_plan):
    session = alice_plan.sessions.get(number=1)
    client.force_login(clinician_user)
    url = reverse("photos:session", args=[session.pk])
    page = client.get(url, {"view": "left_45", "phase": "after"}).content.decode()
    assert '<option value="left_45" selected>' in page
    assert '<option value="after" selected>' in page
    response = client.get(url, {"view": "upside_down"})
    assert response.status_code == 400
    assert "There is no view upside_down" in response.content.decode()


# --- the hand alignment ---------------------------------------------------------------------


@pytest.fixture
def aligned_pair(alice_plan, upload):
    before = real_photos.photo(SHARP)
    moved = real_photos.moved(before, real_photos.similarity(1.08, 4.0, -0.03, 0.01))
    upload(alice_plan.sessions.get(number=1), before)
    upload(alice_plan.sessions.get(number=3), moved, phase="after")
    pair = Comparison.objects.get(kind=Comparison.Kind.PAIR)
    assert pair.sheet_status == "ready"
    return pair


def sheet_bytes(comparison) -> bytes:
    comparison.refresh_from_db()
    with default_storage.open(comparison.sheet_jpeg_key, "rb") as handle:
        return handle.read()


def nudge_url(comparison) -> str:
    return reverse("photos:comparison_align", args=[comparison.pk])


def test_a_hand_nudge_is_stored_beside_the_workers_and_draws_the_sheet(
    client, clinician_user, aligned_pair, django_capture_on_commit_callbacks
):
    worker = Alignment.objects.get(source=Alignment.Source.WORKER)
    drawn_by_worker = sheet_bytes(aligned_pair)
    client.force_login(clinician_user)
    page = client.get(reverse("photos:comparison", args=[aligned_pair.pk])).content.decode()
    assert 'id="nudge-stage"' in page and 'name="tx"' in page

    values = {"scale": 1.1, "rotation_degrees": 5.5, "tx": worker.tx + 0.02, "ty": worker.ty}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(nudge_url(aligned_pair), values)
    assert response.status_code == 302

    manual = Alignment.objects.get(source=Alignment.Source.MANUAL)
    assert (manual.scale, manual.rotation_degrees, manual.tx) == (1.1, 5.5, values["tx"])
    assert manual.made_by == clinician_user and manual.ok
    kept = Alignment.objects.get(source=Alignment.Source.WORKER)
    assert (kept.pk, kept.scale, kept.tx) == (worker.pk, worker.scale, worker.tx)
    assert (
        services.alignment_for_sheet(reference=aligned_pair.before, moving=aligned_pair.after)
        == manual
    )
    assert sheet_bytes(aligned_pair) != drawn_by_worker  # redrawn with the nudge
    assert aligned_pair.sheet_status == "ready"
    event = AuditEvent.objects.get(action="change", detail__startswith="alignment by hand")
    assert event.actor == clinician_user and event.patient_id == aligned_pair.patient_id

    page = client.get(reverse("photos:comparison", args=[aligned_pair.pk])).content.decode()
    assert 'data-alignment="manual"' in page and "Aligned by hand" in page
    assert 'value="1.1"' in page  # the controls start from the saved nudge

    with django_capture_on_commit_callbacks(execute=True):
        client.post(nudge_url(aligned_pair), {"undo": "1"})
    assert not Alignment.objects.filter(source=Alignment.Source.MANUAL).exists()
    assert (
        services.alignment_for_sheet(reference=aligned_pair.before, moving=aligned_pair.after)
        == worker
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"scale": 2.5, "rotation_degrees": 0, "tx": 0, "ty": 0}, "outside 0.5–2.0"),
        ({"scale": 0.4, "rotation_degrees": 0, "tx": 0, "ty": 0}, "outside 0.5–2.0"),
        ({"scale": 1, "rotation_degrees": -50, "tx": 0, "ty": 0}, "more than ±45°"),
        ({"scale": 1, "rotation_degrees": 0, "tx": 1.5, "ty": 0}, "off the before photo"),
        ({"scale": 1, "rotation_degrees": 0, "tx": 0, "ty": -0.9}, "off the before photo"),
        ({"scale": "big", "rotation_degrees": 0, "tx": 0, "ty": 0}, "Enter a number"),
        ({"scale": "nan", "rotation_degrees": 0, "tx": 0, "ty": 0}, "Enter a number"),
        ({"rotation_degrees": 0, "tx": 0, "ty": 0}, "This field is required"),
    ],
)
def test_a_nudge_out_of_bounds_is_refused_with_a_message(
    client, clinician_user, alice_plan, add_photo, values, message
):
    add_photo(alice_plan.sessions.get(number=1))
    add_photo(alice_plan.sessions.get(number=3), phase="after")
    pair = Comparison.objects.get(kind=Comparison.Kind.PAIR)
    client.force_login(clinician_user)
    response = client.post(nudge_url(pair), values)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Alignment.objects.filter(source=Alignment.Source.MANUAL).exists()


def test_the_service_refuses_what_the_form_cannot_send(alice_plan, add_photo, clinician_user):
    add_photo(alice_plan.sessions.get(number=1))
    add_photo(alice_plan.sessions.get(number=3), phase="after")
    pair = Comparison.objects.get(kind=Comparison.Kind.PAIR)
    with pytest.raises(ValidationError, match="must be numbers"):
        services.alignment_nudge(
            comparison=pair, scale=float("inf"), rotation_degrees=0, tx=0, ty=0, by=clinician_user
        )


@pytest.mark.parametrize("who", ["alice", "bob", "front_desk"])
def test_no_patient_or_desk_can_nudge_or_mark_or_see_the_staff_pages(
    client, persona, alice_plan, add_photo, who
):
    before = add_photo(alice_plan.sessions.get(number=1))
    add_photo(alice_plan.sessions.get(number=3), phase="after")
    pair = Comparison.objects.get(kind=Comparison.Kind.PAIR)
    user = persona(who)
    client.force_login(user)
    nudge = {"scale": 1.05, "rotation_degrees": 1, "tx": 0.01, "ty": 0}
    assert client.post(nudge_url(pair), nudge).status_code == 403
    assert client.post(nudge_url(pair), {"undo": "1"}).status_code == 403
    assert client.post(reverse("photos:photo_reference", args=[before.pk])).status_code == 403
    assert client.get(reverse("photos:comparison", args=[pair.pk])).status_code == 403
    session_page = reverse("photos:session", args=[before.session_id])
    assert client.get(session_page).status_code == 403
    assert not Alignment.objects.filter(source=Alignment.Source.MANUAL).exists()
    assert AuditEvent.objects.filter(actor=user, allowed=False).count() == 5
