"""Non-Blocking Channel Operations

Plain sends and receives on channels block. A select with `default=True`
does not: it makes non-blocking sends, receives and even multi-way selects.

Port of https://gobyexample.com/non-blocking-channel-operations.
"""

from goroutines import Chan, recv, run, select, send


async def main() -> None:
    messages = Chan[str]()
    signals = Chan[bool]()

    # A non-blocking receive. If a value is ready on messages, select takes
    # that case; if not, it returns at once with index -1 (the default case).
    i, msg, _ = await select(recv(messages), default=True)
    match i:
        case 0:
            print("received message", msg)
        case _:
            print("no message received")

    # A non-blocking send works the same way. Here msg cannot be sent: the
    # channel has no buffer and no receiver, so the default case is taken.
    msg = "hi"
    i, _, _ = await select(send(messages, msg), default=True)
    match i:
        case 0:
            print("sent message", msg)
        case _:
            print("no message sent")

    # Several cases and a default make a multi-way non-blocking select.
    i, value, _ = await select(recv(messages), recv(signals), default=True)
    match i:
        case 0:
            print("received message", value)
        case 1:
            print("received signal", value)
        case _:
            print("no activity")

    # For a single channel, ch.try_recv() and ch.try_send(v) are shorthands:
    # messages.try_send("hi") returns False here, as the select above did.


if __name__ == "__main__":
    run(main)
