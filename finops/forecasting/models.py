"""Models of the forecasting app."""
