"""Pure Cloud Carbon Footprint math (no Django): coefficient sets and the estimator."""

from finops.carbon.calc.coefficients import CoefficientError, Coefficients, load_shipped
from finops.carbon.calc.estimator import (
    ENERGY_COLUMNS,
    METHODS,
    OUTPUT_COLUMNS,
    estimate,
    estimate_hours,
    estimate_instance_hours,
)

__all__ = [
    "ENERGY_COLUMNS",
    "METHODS",
    "OUTPUT_COLUMNS",
    "CoefficientError",
    "Coefficients",
    "estimate",
    "estimate_hours",
    "estimate_instance_hours",
    "load_shipped",
]
