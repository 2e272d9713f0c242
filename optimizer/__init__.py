"""Commitment-mix and rightsizing optimizer: built by the optimizer issue."""
