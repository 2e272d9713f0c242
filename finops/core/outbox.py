"""Outgoing email: one way to send, one failure policy.

Every email the product sends (budget alerts, spend digests, anomaly alerts) is recorded as a row before it is
sent, and goes out through ``send``. A delivery error (an SMTP refusal, a server down or unreachable) is logged
with the number of recipients and the error, then re-raised unchanged: the caller leaves its row pending (with
the error) in the same step, and the next evaluation, refresh or task retry sends it. Nothing is dropped silently.
"""

from __future__ import annotations

import logging
import smtplib
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

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
