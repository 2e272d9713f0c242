"""finops: open-source FinOps cost modeling and optimization."""

from finops.celery import app as celery_app

__all__ = ["celery_app"]
