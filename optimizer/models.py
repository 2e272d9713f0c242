"""Models of the optimizer app: commitment optimization runs and the purchases they recommend."""

from __future__ import annotations

from django.db import models

from finops.accounts.models import Organization
from finops.core.money import MoneyField


class OptimizationRun(models.Model):
    """One commitment recommendation: parameters in, solver stats and purchases out. Executed once."""

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="optimization_runs")
    parameters = models.JSONField(default=dict)  # validated options (see optimizer.services.RunParameters)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Solver statistics of the recommendation solve.
    solver_status = models.CharField(max_length=32, blank=True)
    objective = MoneyField(null=True, blank=True)  # cost of the plan over the lookback window
    bound = MoneyField(null=True, blank=True)  # proven lower bound on any plan's cost over the window
    gap = models.FloatField(null=True, blank=True)
    build_seconds = models.FloatField(null=True, blank=True)
    solve_seconds = models.FloatField(null=True, blank=True)
    solver = models.CharField(max_length=16, blank=True)
    results = models.JSONField(default=dict)  # windows, totals, breakdown, utilisation, explanation
    backtest = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "created_at"], name="optrun_org_created_idx")]

    def __str__(self) -> str:
        return f"run {self.pk} {self.organization_id} {self.status}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)


class Recommendation(models.Model):
    """One purchase of a run's plan. Money per month uses 730 hours (8,760 / 12)."""

    class Kind(models.TextChoices):
        RESERVATION = "reservation"
        SAVINGS_PLAN = "savings_plan"

    run = models.ForeignKey(OptimizationRun, on_delete=models.CASCADE, related_name="recommendations")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    offer_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    sku = models.CharField(max_length=200, blank=True)  # reservations: the size one unit is
    family = models.CharField(max_length=64, blank=True)
    region = models.CharField(max_length=64, blank=True)
    term = models.CharField(max_length=8)  # "1y" | "3y"
    payment = models.CharField(max_length=32)
    offering_class = models.CharField(max_length=32, blank=True)
    plan_type = models.CharField(max_length=32, blank=True)
    quantity = MoneyField()  # units (reservations) or USD per hour (savings plans)
    upfront = MoneyField()
    monthly_cost = MoneyField()  # amortised: recurring + upfront spread over the term
    monthly_savings = MoneyField()  # incremental, against buying nothing (see optimizer.plan)
    break_even_month = models.IntegerField(null=True, blank=True)
    expected_utilization = models.FloatField(null=True, blank=True)
    coverage = models.FloatField(null=True, blank=True)
    derived_price = models.BooleanField(default=False)
    provenance = models.TextField(blank=True)
    position = models.IntegerField(default=0)

    class Meta:
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "offer_id"], name="recommendation_unique_offer")]

    def __str__(self) -> str:
        return f"{self.offer_id} x {self.quantity}"
