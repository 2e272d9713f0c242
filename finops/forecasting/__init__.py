"""Cost forecasting and anomaly detection. The pure math lives in ``finops.forecasting.calc`` (no Django)."""
