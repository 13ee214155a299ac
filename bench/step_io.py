"""Run `python -m onecsync …` with each step's log line (flows/runner.py, at -v) also saying the
bytes the process has sent to storage so far, so that bench/run.py can tell what receiving,
routing and writing a message each wrote (issue 15); what is written after the last step (the
closing checkpoint of the write-ahead log) is the process's total less the last figure.

Usage: python bench/step_io.py [onecsync's arguments]

Linux only (/proc/self/io); elsewhere the lines stay as they are. Nothing in onecsync changes:
the record factory adds the figure to the step records as they are made.
"""

from __future__ import annotations

import logging
import os
import runpy
import sys

_IO = "/proc/self/io"


def written() -> int | None:
    """write_bytes of /proc/self/io: what this process caused to be sent to storage."""
    try:
        with open(_IO) as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def main() -> None:
    make = logging.getLogRecordFactory()

    def record(*args, **kwargs) -> logging.LogRecord:
        rec = make(*args, **kwargs)
        if isinstance(rec.msg, str) and rec.msg.startswith("step ") and (n := written()) is not None:
            rec.msg += ", wrote %d bytes so far"
            rec.args = (*(rec.args or ()), n)
        return rec

    logging.setLogRecordFactory(record)
    sys.argv = ["onecsync", *sys.argv[1:]]
    sys.path[0] = os.getcwd()  # as `python -m onecsync` has it, not this script's folder
    runpy.run_module("onecsync", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
