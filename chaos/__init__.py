"""chaos-harness: rehearse hosting disasters on a real containerised stack."""

__version__ = "0.1.0"
