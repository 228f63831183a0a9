"""Every answer to a request is audited here, in one place.

- An answer that is served (below 400) and shows patient data (declared with
  core.looks.looked_at, which the API's RecordsLooks mixin does for every object it loads or
  lists) writes one view event per patient shown.
- A refusal (401, 403 or 404) to a URL of the app writes a refused event, naming the URL and
  the id it asked for, unless the view already wrote one with the object it refused.
- For the length of the request, audit_log() reads the client's address from it, so services
  record it without being handed the request.
"""

from __future__ import annotations

from core.looks import looks_of

from . import context
from .models import AuditEvent
from .services import audit_log, audit_looks

REFUSALS = (401, 403, 404)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class AuditMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        state = context.RequestAudit(request)
        token = context.current.set(state)
        try:
            response = self.get_response(request)
            self.record(request, response, state)
        finally:
            context.current.reset(token)
        return response

    def record(self, request, response, state: context.RequestAudit) -> None:
        user = getattr(request, "user", None)
        status = response.status_code
        looks = looks_of(request)
        if looks and status < 400:
            audit_looks(actor=user, looks=looks, request=request)
        elif status in REFUSALS and not state.refusal_recorded:
            match = getattr(request, "resolver_match", None)
            if match is None:  # not a URL of the app: nothing was there to refuse
                return
            kwargs = match.kwargs
            audit_log(
                actor=user,
                action=AuditEvent.Action.VIEW
                if request.method in SAFE_METHODS
                else AuditEvent.Action.CHANGE,
                allowed=False,
                patient=kwargs.get("patient_id"),
                request=request,
                object_type=match.view_name,
                object_id=next(
                    (str(v) for k, v in kwargs.items() if k == "pk" or k.endswith("id")), ""
                ),
                detail=f"{request.method} answered {status}",
            )
