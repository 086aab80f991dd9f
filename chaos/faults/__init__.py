"""Faults: what breaks. Each has an injector that proves its effect, and a rollback."""
