from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from . import outbox
from .decorators import role_required
from .health import readiness, run_checks
from .models import OutboxMessage

# Where each role starts, in order of precedence for a user who holds several.
ROLE_HOMES = (
    ("people.manage_clinic", "admin_home"),
    ("people.use_front_desk", "desk_home"),
    ("people.use_clinical", "clinical_home"),
    ("people.use_portal", "portal:home"),
)


def form_status(form) -> int:
    """A form sent back with errors is a client error (400), not a success."""
    return 400 if form.is_bound and form.errors else 200


def confirmed(request) -> bool:
    """The person answered "yes" on the confirmation step (core/confirm.html)."""
    return request.POST.get("confirmed") == "yes"


def confirm_page(
    request,
    *,
    question: str,
    button: str,
    back: str,
    consequences: tuple[str, ...] | list[str] = (),
    template: str = "core/confirm.html",
    extra: dict | None = None,
):
    """A confirmation step before an action that is hard to take back: the same POST again,
    its fields kept, with confirmed=yes. Works without JavaScript."""
    kept = [
        (name, value)
        for name, values in request.POST.lists()
        if name not in ("csrfmiddlewaretoken", "confirmed")
        for value in values
    ]
    return render(
        request,
        template,
        {
            "question": question,
            "consequences": consequences,
            "action": request.get_full_path(),
            "kept": kept,
            "button": button,
            "back": back,
            **(extra or {}),
        },
    )


@login_required
def home(request):
    for permission, url_name in ROLE_HOMES:
        if request.user.has_perm(permission):
            return redirect(url_name)
    return render(request, "core/no_role.html", status=403)


@role_required("people.manage_clinic")
def admin_home(request):
    return render(request, "core/admin_home.html")


@never_cache
def liveness(request):
    """For a process supervisor: the process answers, so it needs no restart. Says nothing of
    its dependencies (a restart mends none of them); the load balancer asks `readiness`."""
    return HttpResponse("ok", content_type="text/plain")


@never_cache
def readiness_view(request):
    """For the load balancer: 503 when this process cannot serve (no database); 200 naming the
    parts that are down when it can (the broker: background work waits in the outbox)."""
    ready, down = readiness()
    return JsonResponse({"ready": ready, "down": down}, status=200 if ready else 503)


@never_cache
@role_required("people.view_health")
def health(request):
    checks = run_checks()
    healthy = all(check.ok for check in checks)
    status = 200 if healthy else 503
    if request.GET.get("format") == "json":
        return JsonResponse(
            {"healthy": healthy, "checks": [check.__dict__ for check in checks]}, status=status
        )
    return render(
        request, "core/health.html", {"checks": checks, "healthy": healthy}, status=status
    )


# How many failed and waiting messages the desk's outbox page shows, newest first.
OUTBOX_PAGE_ROWS = 100


@role_required("people.use_front_desk")
def outbox_list(request):
    """What the clinic promised to send and has not: failed messages first, to send again."""
    rows = OutboxMessage.objects.defer("payload")  # an email's body is not for this page
    failed = rows.filter(status=OutboxMessage.Status.FAILED)
    waiting = rows.filter(status__in=OutboxMessage.UNSENT)
    return render(
        request,
        "core/outbox.html",
        {
            "failed": failed[:OUTBOX_PAGE_ROWS],
            "waiting": waiting[:OUTBOX_PAGE_ROWS],
            "failed_count": failed.count(),
            "waiting_count": waiting.count(),
        },
    )


@role_required("people.use_front_desk")
@require_POST
def outbox_retry(request, message_id: int):
    message = get_object_or_404(OutboxMessage, pk=message_id, status=OutboxMessage.Status.FAILED)
    outbox.message_retry(message=message)
    messages.success(request, f"Sending again: {message.summary}")
    return redirect("outbox")


def bench_baseline(request):
    """The benchmarks' yardstick: a 50-row template, no database, no session, no sign-in.

    Routed only when settings.BENCH_BASELINE_VIEW is on (never in production).
    """
    rows = [{"n": n, "name": f"Row {n}", "value": n * 7 % 97} for n in range(1, 51)]
    return render(request, "core/bench_baseline.html", {"rows": rows})
