"""Locust's command line, started with SIGINT at its default meaning: Locust's process only.

A process started in the background by a shell without job control (a CI
runner, `cmd &` in a script) inherits SIGINT *ignored*, and Python keeps it
ignored.  Locust stops on SIGINT (and its master stops its workers with it),
so such a Locust could not be stopped: the harness waited, killed it, and its
buffered records and summary were lost.  Here SIGINT raises KeyboardInterrupt
again, whatever the parent set, before Locust (and gevent) are imported.
"""

from __future__ import annotations

import signal
import sys


def main() -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from locust.main import main as locust_main  # only ever in this process

    sys.argv[0] = "locust"
    locust_main()


if __name__ == "__main__":
    main()
