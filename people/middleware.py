"""Old links to a record merged into another lead to the record kept."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import redirect

from .models import Patient

FOLLOWED_METHODS = ("GET", "HEAD")


class MergedRecordRedirectMiddleware:
    """A page that names a `patient_id` and found no such record (merged records are left
    out of Patient.objects) is sent to the same page of the record it was merged into.

    Only when the view said 404: by then it has let the user in, so the redirect tells
    nobody more than the page would. A merge re-points the records merged earlier, so one
    step always reaches the record in use.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, Http404) or request.method not in FOLLOWED_METHODS:
            return None
        match = getattr(request, "resolver_match", None)
        patient_id = match.kwargs.get("patient_id") if match is not None else None
        if patient_id is None:
            return None
        kept = (
            Patient.all_records.filter(pk=patient_id, merged_into__isnull=False)
            .values_list("merged_into_id", flat=True)
            .first()
        )
        if kept is None:
            return None
        response = redirect(match.view_name, *match.args, **{**match.kwargs, "patient_id": kept})
        if query := request.META.get("QUERY_STRING"):
            response["Location"] += f"?{query}"
        return response
