"""The hosting stack's domain: sites, servers, drives, and probes of their state."""
