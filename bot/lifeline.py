"""Child processes die with their parent, even when the parent is SIGKILLed.

A killed process runs no cleanup, so its NLP processes (about 250 MB each) and, under the
supervisor, its server processes would live on as orphans. Linux signals a child whose
parent dies (prctl PR_SET_PDEATHSIG); elsewhere, and should that signal be missed, a
watchdog thread in the child signals it once its parent is gone.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time

log = logging.getLogger("triagebot.lifeline")
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
WATCH_S = 1.0


def die_with_parent(signum: signal.Signals = signal.SIGTERM) -> None:
    """In a child process: get `signum` when the process that started it dies.

    The kernel's signal follows the parent *thread* that started the child: children are
    started from the parent's main (event loop) thread, which lives as long as it does.
    """
    parent_process = multiprocessing.parent_process()
    parent = parent_process.pid if parent_process and parent_process.pid else os.getppid()
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signum), 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed", extra={"errno": ctypes.get_errno()})
    # The parent may have died before the prctl took effect: then nothing would signal us.
    if os.getppid() != parent:
        os.kill(os.getpid(), signum)
    threading.Thread(target=_watch, args=(parent, signum), name="lifeline", daemon=True).start()


def _watch(parent: int, signum: signal.Signals) -> None:
    # An orphan is adopted by init or a subreaper: its parent id changes.
    while os.getppid() == parent:
        time.sleep(WATCH_S)
    os.kill(os.getpid(), signum)
