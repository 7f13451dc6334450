"""An lru_cache(maxsize=None) fed a new key at every call: an unbounded cache (the leak).

Decoy: `_lookups` (a bytearray) gains ten entries per call, one byte each.
"""

import functools

_lookups = bytearray()  # decoy


@functools.lru_cache(maxsize=None)  # noqa: UP033 - the unbounded cache is the point
def locate(ip: str) -> tuple:
    region = "region-" + ip.replace(".", "-")
    return (region, "coordinates " + "0" * 600 + region)


def handle_request(n: int) -> None:
    locate(f"10.{n // 65536 % 256}.{n // 256 % 256}.{n % 256}")
    global _lookups
    _lookups += b"\x01" * 10
