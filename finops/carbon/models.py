"""Models of the carbon app."""
