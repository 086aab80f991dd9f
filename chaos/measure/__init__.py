"""Pure measurements over a run's records: recovery per fault, phases, data loss.

No I/O and no clock here: everything is a function of the timeline, the
ledger, read-back results and the fault times given.
"""
