"""A class-level registry of listeners that are never removed (the leak): every session
subscribes a bound method and nothing unsubscribes it, so each session and its buffer stay.

Decoy: `EventBus._fired` records ten event names per session (interned strings, shared).
"""

from typing import ClassVar


class EventBus:
    _listeners: ClassVar[list] = []  # class attribute: the leak
    _fired: ClassVar[list] = []  # decoy

    @classmethod
    def subscribe(cls, listener) -> None:
        cls._listeners.append(listener)

    @classmethod
    def fire(cls, name: str) -> None:
        cls._fired.extend([name] * 10)


class Session:
    def __init__(self, n: int) -> None:
        self.n = n
        self.buffer = bytearray(900)

    def on_event(self, name: str) -> None:
        self.buffer[0] = len(name) % 256


def handle_request(n: int) -> None:
    session = Session(n)
    EventBus.subscribe(session.on_event)
    EventBus.fire("tick")
