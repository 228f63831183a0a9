"""What the session's photo panel is built from, read without a request."""

from __future__ import annotations

from django.urls import reverse

from photos import queries, services
from photos.models import Photo


def guide_for(session, view="frontal"):
    guides = {g["view"]: g["url"] for g in queries.framing_guides(session)}
    return guides.get(view)


def screen(photo):
    return reverse("photos:image", args=[photo.pk, "screen"])


def test_the_first_session_without_photos_has_no_guide(alice_plan):
    assert queries.framing_guides(alice_plan.sessions.get(number=1)) == []


def test_the_guide_is_the_baseline_of_the_view_for_before_and_after_alike(alice_plan, add_photo):
    """The live guide shows what the framing score and the comparisons measure against."""
    first, second, third = alice_plan.sessions.order_by("number")
    baseline = add_photo(first, phase="before")
    add_photo(second, phase="before")
    add_photo(second, phase="after")
    add_photo(second, phase="before", view="left_45")
    for session in (first, second, third):
        assert guide_for(session) == screen(baseline)
    assert guide_for(third, "left_45") is not None
    assert guide_for(third, "right_45") is None
    [frontal] = [g for g in queries.framing_guides(third) if g["view"] == "frontal"]
    assert frontal["caption"] == "Baseline: session 1, before"


def test_the_guide_follows_the_reference_the_clinician_marks(alice_plan, add_photo, clinician_user):
    first = alice_plan.sessions.get(number=1)
    add_photo(first, phase="before")
    retake = add_photo(first, phase="before")
    services.photo_reference_set(photo=retake, by=clinician_user)
    assert guide_for(alice_plan.sessions.get(number=2)) == screen(retake)


def test_an_after_photo_alone_is_no_guide(alice_plan, add_photo):
    first, second, _ = alice_plan.sessions.order_by("number")
    add_photo(first, phase="after")
    assert guide_for(second) is None


def test_the_grid_has_a_row_per_expected_view_and_one_per_extra_view(alice_plan, add_photo):
    session = alice_plan.sessions.get(number=1)
    before = add_photo(session, phase="before")
    extra = add_photo(session, phase="after", view="area")
    photos = list(Photo.objects.filter(session=session).prefetch_related("derivatives"))
    grid = queries.session_grid(session, photos)
    assert [row["view"] for row in grid] == [
        "Frontal",
        "Left 45°",
        "Right 45°",
        "Left profile",
        "Right profile",
        "Area-specific: Face",  # named after the area when no name is given
    ]
    assert grid[0]["before"] == [before] and grid[0]["after"] == []
    assert grid[-1]["after"] == [extra] and not grid[-1]["expected"]
    assert queries.derivatives_pending(photos)  # nothing has made the thumbnails yet
