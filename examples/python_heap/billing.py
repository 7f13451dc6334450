"""A dict keyed by request id that is filled for every request and never emptied (the leak).

Decoy: `_status_codes` gets ten entries per request (more entries than the leak) but holds
only small cached ints: a few bytes each. Ranking by bytes must put the dict first.
"""

import os

_pending_by_request = {}  # request id -> pending charge; nobody ever pops it
_status_codes = []  # decoy: fast in entries, tiny in bytes


def handle_request(n: int) -> None:
    request_id = f"req-{os.getpid()}-{n:09d}"
    _pending_by_request[request_id] = {
        "email": f"customer{n}@example.com",
        "amount_cents": 1000 + n % 977,
        "note": f"charge {n} " + "." * 700,
    }
    _status_codes.extend([200] * 10)


def plant(secret: str) -> None:
    """A secret as a key and as a value of the leaking dict: it must never reach a report."""
    _pending_by_request[secret] = {"token": secret}
