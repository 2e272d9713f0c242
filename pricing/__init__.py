"""Price catalogs (on-demand, reserved, savings plans, spot): SKUs and dated prices, their importers and lookups."""
