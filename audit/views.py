from __future__ import annotations

from django.core.paginator import Paginator
from django.shortcuts import render

from core.decorators import role_required

from .forms import AuditFilterForm
from .models import AuditEvent

PAGE_SIZE = 50


@role_required("people.manage_clinic")
def audit_list(request):
    """The audit log for clinic admins, newest first, filtered by patient, user, action, dates."""
    form = AuditFilterForm(request.GET or None)
    events = AuditEvent.objects.none()
    if not form.is_bound:
        events = AuditEvent.objects.all()
    elif form.is_valid():
        events = AuditEvent.objects.filtered(**form.filters())
    events = events.select_related("actor").order_by("-id")
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    status = 400 if form.is_bound and form.errors else 200
    return render(
        request,
        "audit/audit_list.html",
        {"form": form, "page": page, "query": query.urlencode()},
        status=status,
    )
