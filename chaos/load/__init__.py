"""Load: Locust in processes of its own, an independent prober, the ledger of acknowledged writes.

Nothing here imports Locust except `locustfile.py`, which only a Locust process loads.
"""
