"""Reports read the other apps' tables and keep none of their own.

`ReportAccess` has no table: it only carries the permission to see the reports, so that the
permission belongs to this app and people.roles hands it to the roles that use it.
"""

from __future__ import annotations

from django.db import models


class ReportAccess(models.Model):
    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_reports", "Can see the clinic's reports")]

    def __str__(self) -> str:
        return "Access to the reports"
