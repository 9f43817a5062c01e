"""Signals

Sometimes we'd like our programs to handle Unix signals intelligently: a
server shutting down gracefully on SIGTERM, a command-line tool that stops
processing input on Ctrl-C. Here is how to handle signals with goroutines.

Port of https://gobyexample.com/signals. Go's chapter relays the signals to a
channel with signal.Notify; this port does that too, to learn which signal
came, and waits with signal.NotifyContext's context, the form a server
usually wants (see examples/shutdown_server.py).

Run it, then press Ctrl-C (or `kill -TERM` its process). While SIGINT is
notified, Ctrl-C is a value on a channel, not a KeyboardInterrupt.
"""

import sys
from signal import SIGINT, SIGTERM, Signals, strsignal

from goroutines import Chan, context, run, signal


def println(line: str) -> None:
    """Write a whole line and flush it: the line says we are ready for the signal."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def describe(signum: int) -> str:
    """A signal's name as Go prints an os.Signal: "interrupt", "terminated"."""
    return (strsignal(signum) or Signals(signum).name).lower()


async def main() -> None:
    # signal.notify_context returns a context that is cancelled when one of
    # the listed signals arrives, and a stop function that undoes it.
    ctx, stop = signal.notify_context(context.background(), SIGINT, SIGTERM)

    # Go's signal notification sends signal values on a channel; here each
    # signal's number. Delivery never blocks (a full channel drops the
    # signal), so the channel is buffered.
    sigs = Chan[int](1)
    signal.notify(sigs, SIGINT, SIGTERM)

    # Both are in place before we say that we are waiting: a signal sent
    # after this line cannot be missed.
    println("awaiting signal")

    # The program waits here until it gets a signal, then says which one.
    # (done() is None only for a context that cannot be cancelled, and sigs
    # is never closed: the asserts tell a type checker so.)
    done = ctx.done()
    assert done is not None
    await done.recv()
    sig = await sigs.recv()
    assert sig is not None
    println("")  # Go's example prints an empty line after the terminal's ^C
    println(describe(sig))

    # Stop relaying: from here on Ctrl-C raises KeyboardInterrupt again.
    signal.stop(sigs)
    stop()
    println("exiting")


if __name__ == "__main__":
    run(main)
