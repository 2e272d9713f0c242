"""Fixtures for budget tests: a small organization with daily rollups (and tagged line items) built from a
pandas frame, which is also the independent source of every expected number."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from aiosmtpd.controller import Controller

from finops.accounts.models import Organization, Team
from finops.usage.models import DailyCost, DailyTagCost, IngestJob, LineItem
from tests import factories

TODAY = date(2026, 3, 20)  # evaluations run "today"; data ends the day before
FIRST_DAY = date(2025, 11, 1)
SERVICES = ("Amazon Elastic Compute Cloud", "Amazon Simple Storage Service", "AWS Lambda")
REGIONS = ("us-east-1", "eu-west-1")
ACCOUNT = "111122223333"
SUB_ACCOUNTS = ("444455556666", "777788889999")


def cost_frame(first: date = FIRST_DAY, last: date = TODAY - timedelta(days=1), seed: int = 3) -> pd.DataFrame:
    """One row per day x service x region x sub account; costs with 4 decimals, a weekly cycle and growth."""
    rng = np.random.default_rng(seed)
    days = pd.date_range(first, last, freq="D").date
    rows = []
    for i, day in enumerate(days):
        weekday = 1.0 if day.weekday() < 5 else 0.6
        for s, service in enumerate(SERVICES):
            for r, region in enumerate(REGIONS):
                for a, sub in enumerate(SUB_ACCOUNTS):
                    base = (120.0 / (s + 1)) * (1.0 + 0.5 * r) * (1.0 + 0.3 * a) * (1 + 0.002 * i) * weekday
                    billed = round(base + rng.normal(0, base * 0.05), 4)
                    team = ("checkout", "search")[(s + a) % 2]
                    rows.append(
                        {
                            "day": day,
                            "service_name": service,
                            "region_id": region,
                            "sub_account_id": sub,
                            "team": team,
                            "billed": Decimal(f"{billed:.4f}"),
                            "effective": Decimal(f"{billed * 0.9:.4f}"),
                        }
                    )
    return pd.DataFrame(rows)


def _rollup_fields(organization: Organization, job: IngestJob, teams: dict[str, Team], row) -> dict:
    """The daily rollup columns (DailyCost and DailyTagCost alike) of one frame row: one line item's worth."""
    return factories.daily_cost_fields(
        organization,
        job,
        row.day,
        billing_account_id=ACCOUNT,
        sub_account_id=row.sub_account_id,
        service_name=row.service_name,
        service_category="",
        region_id=row.region_id,
        pricing_category="Standard",
        team=teams[row.team],
        billed_cost=row.billed,
        effective_cost=row.effective,
        list_cost=row.billed,
    )


def build_org(frame: pd.DataFrame, slug: str = "acme") -> Organization:
    organization = factories.organization(slug)
    job = factories.placeholder_ingest_job(organization)
    teams = {value: factories.team(organization, value) for value in sorted(frame.team.unique())}
    DailyCost.objects.bulk_create(
        [DailyCost(**_rollup_fields(organization, job, teams, row)) for row in frame.itertuples()], batch_size=2000
    )
    return organization


def add_line_items(organization: Organization, frame: pd.DataFrame) -> None:
    """One line item per frame row, tagged {"team": ..., "env": "prod"|"dev" (by region)}, and the tag
    rollup rows the ingest would write for them (one per row and tag)."""
    job = IngestJob.objects.filter(organization=organization).first()
    items = [
        factories.line_item(
            organization,
            job,
            row.day,
            team_tag_value=row.team,
            billing_account_id=ACCOUNT,
            sub_account_id=row.sub_account_id,
            billed_cost=row.billed,
            effective_cost=row.effective,
            service_name=row.service_name,
            region_id=row.region_id,
            tags={"team": row.team, "env": "prod" if row.region_id == "us-east-1" else "dev"},
        )
        for row in frame.itertuples()
    ]
    LineItem.objects.bulk_create(items, batch_size=2000)
    teams = {t.tag_value: t for t in Team.objects.filter(organization=organization)}
    tag_rows = [
        DailyTagCost(**_rollup_fields(organization, job, teams, row), tag_key=key, tag_value=value)
        for row in frame.itertuples()
        for key, value in (("team", row.team), ("env", "prod" if row.region_id == "us-east-1" else "dev"))
    ]
    DailyTagCost.objects.bulk_create(tag_rows, batch_size=2000)


def add_user(organization: Organization, username: str, email: str, role: str = "finance"):
    return factories.member(organization, username, role, email=email).user


def period_sum(frame: pd.DataFrame, start: date, end: date, column: str = "billed", **filters) -> Decimal:
    """Independent expectation: the exact Decimal sum of the frame rows in [start, end] matching ``filters``
    (each a list of accepted values)."""
    mask = (frame.day >= start) & (frame.day <= end)
    for key, values in filters.items():
        mask &= frame[key].isin(values)
    return sum(frame.loc[mask, column], Decimal(0))


# ---------------------------------------------------------------------------------------------------------
# A real SMTP server on loopback (aiosmtpd), counting what it receives.


@dataclass
class Received:
    envelope_from: str
    recipients: list[str]
    data: bytes


@dataclass
class SmtpSink:
    port: int
    messages: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK"

    def parsed(self) -> list:
        import email
        from email import policy

        with self.lock:
            return [email.message_from_bytes(m.data, policy=policy.default) for m in self.messages]


@pytest.fixture
def smtp_server() -> Iterator[SmtpSink]:
    with socket.socket() as probe:  # a free loopback port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = SmtpSink(port=port)
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()
        asyncio.set_event_loop(None)


def smtp_settings(port: int) -> dict:
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": port,
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "EMAIL_USE_TLS": False,
        "EMAIL_USE_SSL": False,
        "EMAIL_TIMEOUT": 10,
    }
