"""Human units at the edges: parse and format sizes, durations and rates.

Inside memdoctor every size is an int of bytes and every time a float of seconds; this module
is the only place that knows about "512MB", "1.5GiB", "10m" or "5MB/min".

Contract (docs/architecture.md): KB/MB/GB and KiB/MiB/GiB are both binary (1024-based), as in Docker,
Node's heap flags, psrecord and mprof; a bare number is bytes; "512 MB" with a space is accepted.
"""

from __future__ import annotations

import math
import re

from memdoctor.errors import MemdoctorError

_SIZE_FACTORS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1024**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1024**3,
    "gib": 1024**3,
    "t": 1024**4,
    "tb": 1024**4,
    "tib": 1024**4,
}

_DURATION_FACTORS = {
    "": 1.0,
    "ms": 0.001,
    "s": 1.0,
    "sec": 1.0,
    "secs": 1.0,
    "second": 1.0,
    "seconds": 1.0,
    "m": 60.0,
    "min": 60.0,
    "mins": 60.0,
    "minute": 60.0,
    "minutes": 60.0,
    "h": 3600.0,
    "hr": 3600.0,
    "hour": 3600.0,
    "hours": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
    "days": 86400.0,
}

_NUMBER_UNIT = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*$")


class UnitError(MemdoctorError, ValueError):
    """A size, duration or rate the user wrote that cannot be read."""


def parse_size(text: str | int | float) -> int:
    """Parse "512MB", "1.5GiB", "512 MB" or "1048576" into bytes."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value, unit = float(text), ""
    else:
        match = _NUMBER_UNIT.match(str(text))
        if not match:
            raise UnitError(f"cannot read size {text!r}: use a number with an optional unit, e.g. 512MB or 1.5GiB")
        value, unit = float(match.group(1)), match.group(2).lower()
    if unit not in _SIZE_FACTORS:
        raise UnitError(f"unknown size unit {unit!r} in {text!r}: use B, KB, MB, GB, TB (1024-based) or KiB, MiB, GiB")
    result = value * _SIZE_FACTORS[unit]
    if not math.isfinite(result) or result < 0 or result > 2**63 - 1:
        raise UnitError(f"size {text!r} is out of range")
    return round(result)


def parse_duration(text: str | int | float) -> float:
    """Parse "90s", "10m", "2h", "250ms", "1h30m" or "5" (seconds) into seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        raw = str(text).strip().lower()
        parts = re.findall(r"([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z]*)", raw)
        compact = re.sub(r"\s+", "", raw)
        if not raw or not parts or "".join(n + u for n, u in parts) != compact:
            raise UnitError(f"cannot read duration {text!r}: use e.g. 90s, 10m, 2h, 250ms or 1h30m")
        if len(parts) > 1 and any(not unit for _number, unit in parts):
            raise UnitError(f"cannot read duration {text!r}: give every part a unit, e.g. 1h30m")
        seconds = 0.0
        for number, unit in parts:
            if unit not in _DURATION_FACTORS:
                raise UnitError(f"unknown duration unit {unit!r} in {text!r}: use ms, s, m, h or d")
            seconds += float(number) * _DURATION_FACTORS[unit]
    if not math.isfinite(seconds) or seconds < 0:
        raise UnitError(f"duration {text!r} is out of range")
    return seconds


def parse_rate(text: str) -> float:
    """Parse a growth rate such as "5MB/min", "1.2 MiB/h" or "300KB/s" into bytes per second."""
    if "/" not in str(text):
        raise UnitError(f"cannot read rate {text!r}: use SIZE/TIME, e.g. 5MB/min or 100MB/h")
    size_part, time_part = str(text).split("/", 1)
    per = time_part.strip()
    if not per:
        raise UnitError(f"cannot read rate {text!r}: say per what time, e.g. 5MB/min")
    # "5MB/min" means per one minute; allow "5MB/10min" too.
    seconds = parse_duration(per if re.match(r"^\s*[0-9.]", per) else "1" + per)
    if seconds <= 0:
        raise UnitError(f"rate {text!r} divides by zero time")
    return parse_size(size_part) / seconds


def format_bytes(value: float | int | None, precision: int = 1) -> str:
    """Format bytes with binary units: 1536 -> "1.5 KiB"."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    size = abs(float(value))
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            text = f"{int(size)} B" if unit == "B" else f"{size:.{precision}f} {unit}"
            # No sign on what prints as zero: "-0 B/h" stood in a ranked table (an end-to-end review).
            return f"-{text}" if value < 0 and any(c in "123456789" for c in text) else text
        size /= 1024
    raise AssertionError("unreachable")


def format_until(seconds: float | None) -> str:
    """A time until something happens: "never" where it does not (the far end of a time to the limit whose growth
    interval reaches zero). The table read "range 15s to n/a" beside the evidence's "15s to never"."""
    if seconds is None or seconds == math.inf:
        return "never"
    return format_duration(seconds)


def format_duration(seconds: float | None) -> str:
    """Format seconds compactly: 75 -> "1m15s", 5400 -> "1h30m"."""
    if seconds is None or not math.isfinite(seconds):
        return "n/a"
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{seconds:.0f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def rate_period(bytes_per_s: float) -> str:
    """The time unit a person reads a rate best in: "s" from 1 MiB/s, "min" from 10 KiB/min, else "h"."""
    magnitude = abs(bytes_per_s)
    if magnitude >= 1024**2:
        return "s"
    return "min" if magnitude * 60 >= 10 * 1024 else "h"


_PERIOD_S = {"s": 1.0, "min": 60.0, "h": 3600.0}


def format_rate(bytes_per_s: float | None, period: str | None = None, precision: int = 1) -> str:
    """Format a growth rate in the unit a person reads best (per s, min or h), or per `period`."""
    if bytes_per_s is None or not math.isfinite(bytes_per_s):
        return "n/a"
    period = period or rate_period(bytes_per_s)
    return f"{format_bytes(bytes_per_s * _PERIOD_S[period], precision)}/{period}"


# The most decimals a rate's interval is printed with to tell its ends apart: three decimals of a MiB is one KiB,
# finer than any page-quantized memory measurement this tool reads (a page is 4 KiB).
_RANGE_MAX_PRECISION = 3


def format_rate_range(value: float | None, low: float | None, high: float | None, label: str = "") -> str:
    """A rate and its interval in one time unit, the one the largest of them reads best in
    ("1.1 MiB/s (-15.4 MiB/min to 1.7 MiB/s)" made the reader convert to compare); `label` names the
    interval inside its brackets ("90% CI")."""
    finite = [abs(v) for v in (value, low, high) if v is not None and math.isfinite(v)]
    period = rate_period(max(finite)) if finite else None
    if low is None or high is None:
        return format_rate(value, period)
    if low == high:
        # Measured to within what the data resolves (every floor point on one page count): said, not left bare, so a
        # growth with no interval ("0 B/h", unknown) is told from one known exactly (issue 20: a growth and its
        # interval, whatever the verdict).
        return f"{format_rate(value, period)} ({label + ' ' if label else 'an interval '}of zero width)"
    # A band tighter than one decimal read "3.9 MiB/s (3.9 MiB/s to 3.9 MiB/s)": print as many decimals as it takes
    # for numbers that differ to print differently, so the interval says how tight it is.
    texts, apart = format_rates_apart((value, low, high), period)
    if apart:
        return f"{texts[0]} ({label + ' ' if label else ''}{texts[1]} to {texts[2]})"
    # Still alike: the band is narrower than a KiB of the rate's unit; say how near it is instead.
    reach = max(abs(v - value) for v in (low, high)) if value is not None else None
    return f"{texts[0]} ({label + ' ' if label else ''}within {format_rate(reach, period)} of it)"


def format_rates_apart(rates: tuple[float | None, ...], period: str | None = None) -> tuple[list[str], bool]:
    """Rates in one time unit (`period`, else the one the largest reads best), each with the fewest decimals (1 to
    _RANGE_MAX_PRECISION) at which rates that differ print differently; and whether they do at the most decimals.
    Rates compared side by side read "1.5 MiB/s, then 1.5 MiB/s" at one decimal (an end-to-end review)."""
    finite = [abs(v) for v in rates if v is not None and math.isfinite(v)]
    period = period or (rate_period(max(finite)) if finite else None)
    texts: list[str] = []
    for precision in range(1, _RANGE_MAX_PRECISION + 1):
        texts = [format_rate(v, period, precision) for v in rates]
        if all(texts[i] != texts[j] for i in range(len(rates)) for j in range(i) if rates[i] != rates[j]):
            return texts, True
    return texts, False


def format_p(p: float) -> str:
    """A p-value as the evidence prints it: three decimals, or "p < 0.001" (a normal tail below 1e-16 is 0.0)."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
