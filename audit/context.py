"""The request being answered, for audit events written by code that is not given it.

AuditMiddleware sets it for the length of each request, so a service called from a view
records the client's address without taking a `request` argument. Outside a request (Celery
tasks, management commands) it is None and the event has no address.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class RequestAudit:
    request: object
    # Whether this request already wrote a refusal (a file-serving view does, with the object
    # it refused), so the middleware does not write a second one.
    refusal_recorded: bool = False


current: ContextVar[RequestAudit | None] = ContextVar("audit_request", default=None)


def current_request():
    state = current.get()
    return state.request if state is not None else None
