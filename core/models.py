from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxMessage(models.Model):
    """Work a committed change promised: a task to hand to the broker, or an email to send.

    Written in the change's own transaction (core/outbox.py), so it exists if and only if the
    change does, whatever happens to the broker; relayed after the commit, and again by the
    beat's tick and a worker's start-up until it is sent.
    """

    class Kind(models.TextChoices):
        TASK = "task", "Background task"
        EMAIL = "email", "Email"
        SMS = "sms", "Text message"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    UNSENT = (Status.PENDING, Status.SENDING)

    kind = models.CharField(max_length=10, choices=Kind.choices)
    # What a person at the desk reads: the task, or the email's subject and recipients.
    summary = models.CharField(max_length=300)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    # When a waiting message may next be relayed, or when a sending worker's lease runs out.
    due_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0, help_text="Sends tried by the worker.")
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(
                fields=["due_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="outbox_unsent_due",
            ),
            models.Index(
                fields=["-created_at"], condition=Q(status="failed"), name="outbox_failed"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary} ({self.get_status_display().lower()})"
