"""Scenarios: drills written down in YAML (format, validation, plan, engine)."""
