"""Who sees what, through the Django test client: organizations, roles, team scoping, CSRF."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from finops.usage.models import IngestJob
from finops.web.models import BusinessMetric
from tests.conftest import FOCUS_SAMPLE
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.django_db

PAGES = ["/", "/explore/", "/teams/", "/data/"]


def login(username: str) -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


@pytest.mark.parametrize("url", [*PAGES, "/teams/x/", "/data/jobs/1/progress"])
def test_every_page_needs_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_unknown_or_foreign_organization_is_404_for_every_page(tenants):
    bob = login("bob")  # beta only
    for url in PAGES:
        assert bob.get(f"{url}?org=alpha").status_code == 404, url
        assert bob.get(f"{url}?org=no-such-org").status_code == 404, url
    assert bob.get("/").status_code == 200


def test_other_organizations_team_and_job_are_404(tenants):
    vic = login("vic")  # alpha viewer
    assert vic.get(f"/teams/{tenants['team'].slug}/").status_code == 200
    assert vic.get(f"/teams/{tenants['beta_team'].slug}/").status_code == 404
    beta_job = IngestJob.objects.filter(organization=tenants["beta"]).first()
    alpha_job = IngestJob.objects.filter(organization=tenants["alpha"]).first()
    assert vic.get(f"/data/jobs/{alpha_job.pk}/progress").status_code == 200
    assert vic.get(f"/data/jobs/{beta_job.pk}/progress").status_code == 404
    assert vic.get(f"/data/?job={beta_job.pk}").status_code == 404


def test_org_switcher_lists_memberships_and_the_choice_sticks(tenants):
    ann = login("ann")
    page = ann.get("/").content.decode()
    assert 'id="org-select"' in page and 'value="beta"' in page and 'value="alpha"' in page
    assert "Amazon Elastic Compute Cloud" in ann.get("/explore/").content.decode()  # alpha's FOCUS data
    switched = ann.get("/?org=beta")
    assert switched.status_code == 200 and switched.context["scope"].organization.slug == "beta"
    # Remembered in the session: the next page without ?org is still beta.
    assert ann.get("/explore/").context["scope"].organization.slug == "beta"
    assert ann.get("/explore/").context["scope"].role == "viewer"


def test_single_membership_has_no_switcher(tenants):
    assert 'id="org-select"' not in login("bob").get("/").content.decode()


def test_engineer_sees_only_their_teams(tenants):
    eve = login("eve")
    frame = tenants["frame"]
    team = tenants["team"]
    assert eve.get(f"/teams/{team.slug}/").status_code == 200
    assert eve.get(f"/teams/{tenants['other_team'].slug}/").status_code == 404
    teams_page = eve.get("/teams/").content.decode()
    assert f"/teams/{team.slug}/" in teams_page and f"/teams/{tenants['other_team'].slug}/" not in teams_page
    # Explore by team: one group, their team, with exactly their rows' cost.
    rows = eve.get("/explore/?group=team&granularity=month&start=2024-09-01&end=2024-09-30").context["rows"]
    assert {r["group"] for r in rows} == {team.slug}
    expected = sum(
        frame.loc[(frame["team_value"] == team.tag_value) & frame["day"].str.startswith("2024-09"), "BilledCost"]
    )
    assert sum(r["cost"] for r in rows) == Decimal(expected).quantize(Decimal("0.01"))
    # The overview's month to date is their team's, not the organization's.
    overview = eve.get("/")
    assert overview.context["mtd"] == expected
    # Tag group-bys (the tag rollup) are scoped too.
    tag_rows = eve.get("/explore/?group=tag:business_unit&granularity=month&start=2024-09-01&end=2024-09-30")
    assert {r["group"] for r in tag_rows.context["rows"]} == {team.tag_value}
    # Billing data is organization-wide: not for a team-scoped engineer (nor in their navigation).
    assert eve.get("/data/").status_code == 403
    assert 'href="/data/"' not in overview.content.decode()
    assert 'href="/data/"' in login("ann").get("/").content.decode()


def test_viewer_cannot_upload_anything(tenants):
    vic = login("vic")
    page = vic.get("/data/")
    assert page.status_code == 200 and 'id="upload-form"' not in page.content.decode()
    jobs = IngestJob.objects.count()
    response = vic.post("/data/", {"files": SimpleUploadedFile("f.csv", FOCUS_SAMPLE.read_bytes())})
    assert response.status_code == 403
    assert IngestJob.objects.count() == jobs
    team_page = vic.get(f"/teams/{tenants['team'].slug}/").content.decode()
    assert "Upload metrics" not in team_page
    response = vic.post(
        f"/teams/{tenants['team'].slug}/metrics",
        {"file": SimpleUploadedFile("m.csv", b"date,metric,value\n2024-09-01,req,5\n")},
    )
    assert response.status_code == 403
    assert BusinessMetric.objects.count() == 0


def test_engineer_cannot_upload_billing_and_cannot_touch_other_teams(tenants):
    eve = login("eve")
    assert eve.post("/data/", {"files": SimpleUploadedFile("f.csv", b"x")}).status_code == 403
    other = tenants["other_team"].slug
    response = eve.post(
        f"/teams/{other}/metrics", {"file": SimpleUploadedFile("m.csv", b"date,metric,value\n2024-09-01,req,5\n")}
    )
    assert response.status_code == 404
    assert BusinessMetric.objects.count() == 0


def test_forms_need_a_csrf_token(tenants):
    strict = Client(enforce_csrf_checks=True)
    assert strict.login(username="ann", password=PASSWORD)
    jobs = IngestJob.objects.count()
    response = strict.post("/data/", {"files": SimpleUploadedFile("f.csv", FOCUS_SAMPLE.read_bytes())})
    assert response.status_code == 403
    assert IngestJob.objects.count() == jobs
    page = strict.get("/data/").content.decode()
    assert page.count("csrfmiddlewaretoken") >= 2  # upload form + log out


def test_user_without_organization_sees_what_to_do(db):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_user("lonely", password=PASSWORD)
    page = login("lonely").get("/")
    assert page.status_code == 200 and b"add_member lonely" in page.content


def test_error_pages_are_the_products_own(tenants, settings):
    eve = login("eve")  # an engineer: billing data is not theirs
    forbidden = eve.get("/data/")
    assert forbidden.status_code == 403
    body = forbidden.content.decode()
    assert "<h1>Not allowed</h1>" in body and 'href="/explore/"' in body  # the site's layout and navigation
    settings.DEBUG = False  # with DEBUG, Django answers 404s with its technical page instead
    missing = eve.get("/teams/no-such-team/")
    assert missing.status_code == 404 and "<h1>Not found</h1>" in missing.content.decode()
    icon = Client().get("/favicon.ico")
    assert icon.status_code == 301 and icon["Location"].endswith("favicon.svg")
