"""The online verdict: the one diagnosis on the data so far, shown only when the evidence holds.

A live view, `--alert` and `--max-growth` on watch/run call engine.diagnose on what was recorded so
far every few seconds. A verdict on a prefix can flip (a cache still filling looks like a leak until
it levels off), so the verdict shown changes only on new evidence: a decided verdict (leak or
no-leak) replaces the one shown only when the diagnosis has given it in ONLINE_PERSIST analyses in a
row, over at least ONLINE_MIN_HOLD_S and ONLINE_HOLD_SHARE of the time watched. Until a verdict is
shown the state is "watching", with the growth so far and how long until the evidence can decide.
Pure: the caller passes each diagnosis and the time it was made.
"""

from __future__ import annotations

from dataclasses import dataclass

from memdoctor.analysis import thresholds as th
from memdoctor.analysis.diagnosis import Diagnosis

DECIDED = ("leak", "no-leak")


@dataclass(frozen=True)
class OnlineState:
    shown: str  # "watching", "leak" or "no-leak"
    diagnosis: Diagnosis  # the latest diagnosis (its growth and time to the limit are shown)
    decide_in_s: float | None  # with "watching": how long until the evidence can decide, when known

    @property
    def watching(self) -> bool:
        return self.shown == "watching"


class OnlineJudge:
    """Hysteresis over successive diagnoses of a growing trace."""

    def __init__(self, *, persist: int = th.ONLINE_PERSIST, hold_share: float = th.ONLINE_HOLD_SHARE,
                 min_hold_s: float = th.ONLINE_MIN_HOLD_S) -> None:
        self.persist = persist
        self.hold_share = hold_share
        self.min_hold_s = min_hold_s
        self.shown = "watching"
        self._candidate: str | None = None
        self._since = 0.0
        self._count = 0

    def update(self, d: Diagnosis, elapsed_s: float) -> OnlineState:
        candidate = d.verdict if d.verdict in DECIDED else None
        if candidate != self._candidate:
            self._candidate, self._since, self._count = candidate, elapsed_s, 0
        self._count += 1
        need = max(self.min_hold_s, self.hold_share * elapsed_s)
        held = elapsed_s - self._since
        if candidate is not None and candidate != self.shown and self._count >= self.persist and held >= need:
            self.shown = candidate
        decide_in = None
        if self.shown == "watching" or (candidate is not None and candidate != self.shown):
            if candidate is None:
                decide_in = d.watch_more_s
            else:
                # held >= share * elapsed, elapsed growing at the same pace: (need - held) / (1 - share) more.
                decide_in = max(need - held, 0.0) / max(1.0 - self.hold_share, 1e-9)
        return OnlineState(self.shown, d, decide_in)
