from __future__ import annotations

from people import demo as people_demo
from photos import demo
from photos.models import Photo


def test_demo_photos_need_alices_sessions_and_load_once(db, make_plan):
    people_demo.load()
    demo.load()  # no course yet: nothing to hang photos on
    assert not Photo.objects.exists()
    from people.models import Patient

    make_plan(Patient.objects.get(user__username="alice"), sessions=3)
    demo.load()
    demo.load()
    assert Photo.objects.count() == 6
    assert set(Photo.objects.values_list("phase", flat=True)) == {"before", "after"}
