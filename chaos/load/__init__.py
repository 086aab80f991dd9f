"""Load: Locust in processes of its own, an independent prober, the ledger of acknowledged writes.

Only the Locust side (`chaos_harness_listener.py`, `hosting_mix.py`, `visit_mix.py`) imports
Locust, and only a Locust process loads it; `ledger` and `recorder` are shared by both sides.
"""
