"""The migration that brings the reference photo marks one photo per view among those stored."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from photos.models import Photo

BEFORE = ("photos", "0003_quality_and_alignment")
AFTER = ("photos", "0004_reference_and_manual_alignment")


@pytest.mark.django_db(transaction=True)
def test_each_stored_view_gets_one_reference_the_first_good_one(alice_plan, clinician_user):
    executor = MigrationExecutor(connection)
    executor.migrate([BEFORE])  # unapplies whatever depends on it, put back below
    apps = executor.loader.project_state([BEFORE]).apps
    OldPhoto = apps.get_model("photos", "Photo")
    OldQuality = apps.get_model("photos", "PhotoQuality")
    session = alice_plan.sessions.get(number=1)

    def stored(n: int, **fields):
        return OldPhoto.objects.create(
            session_id=session.pk,
            patient_id=session.patient_id,
            body_area_id=alice_plan.body_area_id,
            view=fields.get("view", "frontal"),
            phase=fields.get("phase", "before"),
            storage_key=f"photos/originals/{n}.jpg",
            content_type="image/jpeg",
            sha256=f"{n:064d}",
            size_bytes=1,
            width=4,
            height=3,
            uploaded_by_id=clinician_user.pk,
        )

    shaken, good, later_good = stored(1), stored(2), stored(3)
    OldQuality.objects.create(photo=shaken, retake=True)
    OldQuality.objects.create(photo=good, retake=False)
    OldQuality.objects.create(photo=later_good, retake=False)
    only_after = stored(4, phase="after")
    other_view = stored(5, view="left_45")

    executor = MigrationExecutor(connection)
    try:
        executor.migrate([AFTER])
        marked = set(Photo.objects.filter(is_reference=True).values_list("pk", flat=True))
    finally:
        # Every later migration (of any app) back, for the tests that follow.
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert marked == {good.pk, only_after.pk, other_view.pk}
