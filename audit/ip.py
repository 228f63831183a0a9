"""The client's IP address, as the audit log and the sign-in lockout see it.

The web server or proxy in front of the app must put the client's address in REMOTE_ADDR
(gunicorn does so for a direct connection; behind a proxy, list the proxy's addresses in
TRUSTED_PROXIES). X-Forwarded-For is read only when the request came from a listed proxy,
because anyone can send that header.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings


def _valid(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def client_ip(request) -> str | None:
    if request is None:
        return None
    remote = _valid(request.META.get("REMOTE_ADDR") or "")
    trusted = set(getattr(settings, "TRUSTED_PROXIES", ()))
    if remote is None or remote not in trusted:
        return remote
    # From a trusted proxy: the right-most forwarded address that is not itself a proxy.
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for hop in reversed([part for part in forwarded.split(",") if part.strip()]):
        address = _valid(hop)
        if address is None:
            return remote
        if address not in trusted:
            return address
    return remote


def axes_client_ip(request) -> str:
    """For django-axes (AXES_CLIENT_IP_CALLABLE): the same address the audit log records."""
    return client_ip(request) or ""
