"""Price catalogs (on-demand, reserved, savings plans, spot): built by the price-catalog issue."""
