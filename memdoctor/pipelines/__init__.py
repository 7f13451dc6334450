"""Pipelines: what strings sampling, analysis and output together for one job.

Each module runs one flow end to end and returns plain results for a renderer: `recording`
(watch and run: sample a process tree, write the trace, the live view, the final diagnosis),
`gate` (record or read a trace, then the gate's checks), `doctor` (watch, take heap snapshots
when the diagnosis says leak, diff them, one report). They call the one diagnosis in
`memdoctor.analysis` and compute no verdict, slope or cap of their own.
"""
