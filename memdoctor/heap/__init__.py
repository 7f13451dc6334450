"""Heap snapshots: capture from a running PID, read other tools' files, diff, dominators.

Layout: `model.py` (the diff row of the contract and the metadata sidecar), `detect.py`
(which runtime a PID or a file belongs to), and one subpackage per runtime, `python/` and
`v8/`, each providing `capture.capture(...)` and `diff.diff_snapshots(...)` behind the
dispatch in `runtimes.py`.
"""
