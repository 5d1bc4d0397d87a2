"""Desired-state files: schema, load, diff, apply, git sync, export."""
