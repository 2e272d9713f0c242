"""Demo data: a deterministic FOCUS billing export of a realistic mid-size SaaS organization."""

from finops.demo.generator import generate_demo_billing

__all__ = ["generate_demo_billing"]
