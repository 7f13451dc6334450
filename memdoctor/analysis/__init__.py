"""Pure analysis over plain data: the one diagnosis (engine.py) and what it is made of."""

from memdoctor.analysis.diagnosis import Diagnosis, HeapGrowth, Pattern, Verdict
from memdoctor.analysis.engine import diagnose, diagnose_trace

__all__ = ["Diagnosis", "HeapGrowth", "Pattern", "Verdict", "diagnose", "diagnose_trace"]
