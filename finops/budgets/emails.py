"""Rendering of budget alert and digest emails (multipart: text + HTML); ``finops.core.outbox`` sends them.

The rendered subject and bodies are stored on the alert row when it is created, so a retry after a crash
sends exactly what the evaluation decided.
"""

from __future__ import annotations

from django.template.loader import render_to_string

from finops.core.outbox import site_url


def render(template: str, context: dict) -> tuple[str, str, str]:
    """(subject, text, html) from templates/budgets/email/<template>_{subject,body}.{txt,html}."""
    context = {**context, "site_url": site_url()}
    subject = " ".join(render_to_string(f"budgets/email/{template}_subject.txt", context).split())
    text = render_to_string(f"budgets/email/{template}_body.txt", context)
    html = render_to_string(f"budgets/email/{template}_body.html", context)
    return subject, text, html
