"""The commitments page: the organization's reservations and savings plans (``finops.commitments.selectors``).

Organization-wide, like the optimizer: admins, finance and viewers read it; an engineer gets 403."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from finops.commitments.selectors import commitment_inventory_for
from finops.web.access import org_page, render_page


@org_page()
@require_GET
def commitments(request: HttpRequest) -> HttpResponse:
    inventory = commitment_inventory_for(request.scope)
    context = {"inventory": inventory, "commitments": inventory.commitments, "document": inventory.document()}
    return render_page(request, "commitments/list.html", context)
