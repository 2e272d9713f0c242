"""Rendering and sending of budget alert and digest emails (multipart: text + HTML).

The rendered subject and bodies are stored on the alert row when it is created, so a retry after a crash
sends exactly what the evaluation decided. The Message-ID is derived from the row, so a receiving system can
drop the one duplicate that a crash between the SMTP server's acceptance and our commit could cause.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

DEFAULT_SITE_URL = "http://127.0.0.1:8000"


def site_url() -> str:
    return (getattr(settings, "SITE_URL", "") or DEFAULT_SITE_URL).rstrip("/")


def render(template: str, context: dict) -> tuple[str, str, str]:
    """(subject, text, html) from templates/budgets/email/<template>_{subject,body}.{txt,html}."""
    context = {**context, "site_url": site_url()}
    subject = " ".join(render_to_string(f"budgets/email/{template}_subject.txt", context).split())
    text = render_to_string(f"budgets/email/{template}_body.txt", context)
    html = render_to_string(f"budgets/email/{template}_body.html", context)
    return subject, text, html


def send(*, subject: str, text: str, html: str, recipients: list[str], message_key: str) -> None:
    """Send one message to all ``recipients``; SMTP errors propagate (the caller keeps the row pending)."""
    host = urlsplit(site_url()).hostname or "finops.localhost"
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"Message-ID": f"<{message_key}@{host}>"},
    )
    message.attach_alternative(html, "text/html")
    message.send(fail_silently=False)
