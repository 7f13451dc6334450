"""Human units: the contract says KB and KiB are both 1024-based, a bare number is bytes."""

import pytest

from memdoctor.units import (
    UnitError,
    format_bytes,
    format_duration,
    format_rate,
    parse_duration,
    parse_rate,
    parse_size,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("512MB", 512 * 1024**2), ("512 MB", 512 * 1024**2), ("512MiB", 512 * 1024**2), ("1.5GiB", 1536 * 1024**2),
    ("1.5GB", 1536 * 1024**2), ("100", 100), ("4k", 4096), ("2 kb", 2048), ("0", 0), ("1TB", 1024**4),
])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["12parsecs", "", "MB", "-5MB", "1e400MB", "five", "5 M B", "nan"])
def test_parse_size_rejects(text):
    with pytest.raises(UnitError):
        parse_size(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("90s", 90.0), ("10m", 600.0), ("2h", 7200.0), ("250ms", 0.25), ("0.01", 0.01), ("1h30m", 5400.0),
    ("1d", 86400.0), (" 2 h ", 7200.0), ("5", 5.0),
])
def test_parse_duration(text, expected):
    assert parse_duration(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["5parsecs", "", "abc", "-5s", "1h30", "10 minutes ago", "s"])
def test_parse_duration_rejects(text):
    with pytest.raises(UnitError):
        parse_duration(text)


def test_parse_rate():
    assert parse_rate("5MB/min") == pytest.approx(5 * 1024**2 / 60)
    assert parse_rate("100MB/h") == pytest.approx(100 * 1024**2 / 3600)
    assert parse_rate("1MiB/10s") == pytest.approx(1024**2 / 10)
    for bad in ("5MB", "5MB/", "x/min", "5MB/0s"):
        with pytest.raises(UnitError):
            parse_rate(bad)


def test_formatting():
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(512 * 1024**2) == "512.0 MiB"
    assert format_bytes(-2048) == "-2.0 KiB"
    # What prints as zero has no sign ("-0 B/h" stood in analyze's ranked table).
    assert format_bytes(-0.4) == "0 B" and format_rate(-1e-9) == "0 B/h"
    assert format_bytes(None) == "n/a"
    assert format_duration(75) == "1m15s"
    assert format_duration(5400) == "1h30m"
    assert format_duration(0.25) == "250ms"
    assert format_rate(1024**2 / 60) == "1.0 MiB/min"
    assert format_rate(2 * 1024**2) == "2.0 MiB/s"
    assert format_rate(1024 / 3600) == "1.0 KiB/h"


def test_a_rate_and_its_interval_share_one_time_unit():
    """A review read "floor 1.1 MiB/s (-15.4 MiB/min to 1.7 MiB/s)": three rates, two time units."""
    from memdoctor.units import format_rate_range

    MiB = 1024**2
    assert format_rate_range(1.1 * MiB, -15.4 * MiB / 60, 1.7 * MiB) == "1.1 MiB/s (-262.8 KiB/s to 1.7 MiB/s)"
    assert format_rate_range(5.1 * MiB / 60, 0.0, 9.2 * MiB / 60) == "5.1 MiB/min (0 B/min to 9.2 MiB/min)"
    assert format_rate_range(100 / 3600, None, None) == "100 B/h"


def test_a_band_tighter_than_one_decimal_prints_as_many_as_tell_its_ends_apart():
    """A steady leak read "3.9 MiB/s (3.9 MiB/s to 3.9 MiB/s)": the interval said nothing about how tight it is."""
    from memdoctor.units import format_rate_range

    MiB = 1024**2
    assert format_rate_range(3.935 * MiB, 3.931 * MiB, 3.939 * MiB) == "3.935 MiB/s (3.931 MiB/s to 3.939 MiB/s)"
    assert format_rate_range(4.95 * MiB, 4.92 * MiB, 4.97 * MiB) == "4.95 MiB/s (4.92 MiB/s to 4.97 MiB/s)"
    # One end on the value itself needs no more digits than the other end takes.
    assert format_rate_range(3.9 * MiB, 3.9 * MiB, 3.93 * MiB) == "3.90 MiB/s (3.90 MiB/s to 3.93 MiB/s)"
    # Narrower than three decimals of its unit: how near, in the same unit.
    assert format_rate_range(3.9 * MiB, 3.9 * MiB - 100, 3.9 * MiB + 105, "90% CI") == (
        "3.900 MiB/s (90% CI within 105 B/s of it)")


def test_an_interval_of_zero_width_is_said_not_left_out():
    """A level floor whose points all sit on one page count has a growth known exactly: its interval of zero width
    printed as a bare "0 B/h", the way a growth with no interval (unknown) prints (tests/data/shapes/
    py_buffer_spike_90s.csv). Issue 20: the growth is shown with its interval, whatever the verdict."""
    from memdoctor.units import format_rate_range

    assert format_rate_range(0.0, 0.0, 0.0) == "0 B/h (an interval of zero width)"
    assert format_rate_range(0.0, 0.0, 0.0, "90% CI") == "0 B/h (90% CI of zero width)"
    assert format_rate_range(0.0, None, None) == "0 B/h"
