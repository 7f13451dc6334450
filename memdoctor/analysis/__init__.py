"""Pure analysis over plain data: growth classification, trend and forecast."""

from memdoctor.analysis.classify import diagnose
from memdoctor.analysis.diagnosis import Diagnosis

__all__ = ["Diagnosis", "diagnose"]
