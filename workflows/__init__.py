"""Temporal workflows, one module per use case; ``workflows.registry`` lists them all.

This package's ``__init__`` imports nothing on purpose: the workflow sandbox re-imports a
workflow's module, and the packages above it, for every workflow run, so anything imported here
would be paid again by every run of every workflow.
"""
