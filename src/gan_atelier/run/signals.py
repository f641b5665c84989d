"""SIGINT/SIGTERM during training: finish the step, checkpoint, return the partial run."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any


class SignalGuard:
    """Turn SIGINT/SIGTERM into a flag checked between steps; restore the old handlers on exit."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.received: int | None = None
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> "SignalGuard":
        if self.enabled:
            for signum in (signal.SIGINT, signal.SIGTERM):
                self.previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        # Only the first signal counts; a second Ctrl-C during the final save is ignored.
        if self.received is None:
            self.received = signum
            print(f"\n{signal.Signals(signum).name} received: finishing the current step, "
                  f"then saving a checkpoint…", file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        for signum, handler in self.previous.items():
            # None: the previous handler was not installed from Python; the default is the best match.
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)
