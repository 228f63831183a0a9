from __future__ import annotations

from io import StringIO

from django.core.files.storage import default_storage
from django.core.management import call_command

from photos.models import DERIVATIVE_VERSION, Comparison, Derivative, Status


def test_missing_and_outdated_derivatives_are_made_again(
    alice_plan, add_photo, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        before = add_photo(alice_plan.sessions.get(number=1))
        add_photo(alice_plan.sessions.get(number=2), phase="after")
    grid = before.derivatives.get(size=320)
    default_storage.delete(grid.storage_key)  # a lost file
    Derivative.objects.filter(pk=before.derivatives.get(size=1024).pk).update(version=0)
    out = StringIO()
    call_command("photos_regenerate", "--now", stdout=out)
    assert "1 photo(s)" in out.getvalue()
    assert default_storage.exists(grid.storage_key)
    assert set(Derivative.objects.values_list("status", "version")) == {
        (Status.READY, DERIVATIVE_VERSION)
    }
    assert Comparison.objects.get().sheet_status == Status.READY
    out = StringIO()
    call_command("photos_regenerate", "--now", stdout=out)
    assert "0 photo(s) and 0 sheet(s)" in out.getvalue()
