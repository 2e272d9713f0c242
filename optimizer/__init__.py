"""Commitment-mix and rightsizing optimizer: pure solvers, runs and their recommendations."""
