"""The run ceiling puts SIGALRM's handler back when the run ends, whatever was there before."""

from __future__ import annotations

import signal

from onecsync.ceiling import RunCeiling


def test_a_handler_from_outside_python_leaves_the_default_not_a_type_error(monkeypatch):
    # signal.signal answers None for a handler Python did not install (an embedding program's);
    # putting that None back raised TypeError at the run's end (found by mypy), in place of its
    # outcome. The default is put back instead.
    real = signal.signal
    answers = iter([None])

    def signal_from_outside(signum, handler):
        previous = real(signum, handler)
        return next(answers, previous)

    monkeypatch.setattr(signal, "signal", signal_from_outside)
    before = signal.getsignal(signal.SIGALRM)
    try:
        with RunCeiling(3600):
            assert signal.getsignal(signal.SIGALRM) not in (signal.SIG_DFL, before)
        assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL
    finally:
        real(signal.SIGALRM, before)


def test_the_previous_handler_is_put_back():
    def mine(signum, frame):
        pass

    before = signal.signal(signal.SIGALRM, mine)
    try:
        with RunCeiling(3600):
            assert signal.getsignal(signal.SIGALRM) is not mine
        assert signal.getsignal(signal.SIGALRM) is mine
    finally:
        signal.signal(signal.SIGALRM, before)
