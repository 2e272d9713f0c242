"""The header navigation, in one place. A later page adds one NavItem here (its URL name and who sees it)."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import NoReverseMatch, reverse

from finops.accounts.access import AccessPolicy


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    # AccessPolicy property that must hold for the item to show (None: everyone with an organization).
    requires: str | None = None


NAVIGATION: tuple[NavItem, ...] = (
    NavItem("Overview", "web:overview"),
    NavItem("Explore", "web:explore"),
    NavItem("Teams", "web:teams"),
    NavItem("Budgets", "web:budgets"),
    NavItem("Anomalies", "web:anomalies"),
    NavItem("Optimizer", "web:optimizer", requires="sees_all_teams"),
    NavItem("Commitments", "web:commitments", requires="sees_all_teams"),
    NavItem("Rightsizing", "web:rightsizing"),
    NavItem("Carbon", "carbon:overview"),
    NavItem("Data", "web:data", requires="sees_all_teams"),
    NavItem("Prices", "pricing:catalog"),
)


def nav_links(scope: AccessPolicy | None, current_path: str) -> list[dict]:
    """The header links. Pages rendered by other apps have no AccessPolicy in their context: they get every link
    (each page still checks access itself)."""
    links = []
    for item in NAVIGATION:
        if scope is not None and item.requires and not getattr(scope, item.requires):
            continue
        try:
            url = reverse(item.url_name)
        except NoReverseMatch:  # an app not wired into urls.py yet must not break every page
            continue
        active = current_path == url if url == "/" else current_path.startswith(url)
        links.append({"label": item.label, "url": url, "active": active})
    return links
