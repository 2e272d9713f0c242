"""Demo data: a deterministic FOCUS billing export of a realistic mid-size SaaS organization (``generator``),
its utilisation metrics (``metrics``) and the ``seed_demo`` command that loads them."""
