"""Outgoing email: one way to send, one failure policy.

Every email the product sends (budget alerts, spend digests, anomaly alerts) is recorded as a row before it is
sent, and goes out through ``send``. A delivery error (an SMTP refusal, a server down or unreachable) is logged
with the number of recipients and the error, then re-raised unchanged: the caller leaves its row pending (with
the error) in the same step, and the next evaluation, refresh or task retry sends it. Nothing is dropped silently.

``deliver_pending`` is the exactly-once delivery of such rows (budget digests, commitment expiry alerts): a model
with ``status`` ("pending"/"sent"), ``subject``, ``body_text``, ``body_html``, ``recipients``, ``attempts``,
``last_error`` and ``sent_at``, whose rows were inserted pending under a unique constraint before sending.
"""

from __future__ import annotations

import logging
import smtplib
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

logger = logging.getLogger(__name__)

DEFAULT_SITE_URL = "http://127.0.0.1:8000"
# Delivery errors worth a retry: SMTP refusals, and the socket errors of a server down or unreachable.
SEND_ERRORS = (smtplib.SMTPException, OSError)


def site_url() -> str:
    """The product's base URL for links in emails (settings.SITE_URL), without a trailing slash."""
    return (getattr(settings, "SITE_URL", "") or DEFAULT_SITE_URL).rstrip("/")


def send(
    *, subject: str, text: str, html: str, recipients: list[str], kind: str, message_key: str | None = None
) -> None:
    """Send one multipart (text + HTML) message to all ``recipients``.

    ``message_key`` makes a stable Message-ID (``<key@site host>``) so that a receiver can drop the duplicate a
    crash between the SMTP server's acceptance and the caller's commit could cause; without it the mail library
    makes one. ``kind`` names the email in the log. Raises one of ``SEND_ERRORS`` when the message was not sent.
    """
    headers = {}
    if message_key is not None:
        host = urlsplit(site_url()).hostname or "finops.localhost"
        headers["Message-ID"] = f"<{message_key}@{host}>"
    message = EmailMultiAlternatives(
        subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL, to=recipients, headers=headers
    )
    message.attach_alternative(html, "text/html")
    try:
        message.send(fail_silently=False)
    except SEND_ERRORS as error:
        logger.warning(
            "%s email to %d recipient(s) not sent, kept pending for a retry: %s: %s",
            kind,
            len(recipients),
            type(error).__name__,
            error,
        )
        raise


def deliver_pending(model: type[models.Model], pks: list[int], kind: str) -> list:
    """Send each still-pending row of ``pks`` once: re-read under its row lock (``SELECT ... FOR UPDATE SKIP
    LOCKED``; SQLite's IMMEDIATE transaction holds the write lock), sent, marked sent in that transaction. A row
    another worker holds or has sent is skipped. A delivery error records the attempt, leaves the row pending and
    is re-raised (the caller's task retries); the rows after it wait for that retry."""
    sent = []
    for pk in pks:
        try:
            with transaction.atomic():
                row = model.objects.select_for_update(skip_locked=True).filter(pk=pk, status="pending").first()
                if row is None:  # sent already, or another worker is sending it right now
                    continue
                send(
                    subject=row.subject,
                    text=row.body_text,
                    html=row.body_html,
                    recipients=list(row.recipients),
                    kind=kind,
                    message_key=f"finops.{kind}.{row.pk}",
                )
                row.status = "sent"
                row.sent_at = timezone.now()
                row.attempts += 1
                row.save(update_fields=["status", "sent_at", "attempts"])
        except SEND_ERRORS as error:
            model.objects.filter(pk=pk, status="pending").update(attempts=F("attempts") + 1, last_error=str(error))
            raise
        sent.append(row)
    return sent
