"""Models of the rightsizing app."""
