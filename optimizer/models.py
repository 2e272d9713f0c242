"""Models of the optimizer app."""
