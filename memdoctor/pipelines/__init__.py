"""Pipelines string the pieces (sampling, the one diagnosis, heap capture, diff, report) together.

They compute no verdict, slope or cap of their own: those come from memdoctor.analysis.
"""
