"""memdoctor launch mode: load the heap agent in every Python process started under it.

`memdoctor run --heap-every ...` puts this directory first on PYTHONPATH. The agent is loaded
from the file named by MEMDOCTOR_HEAP_AGENT (standard library only: the program need not be
able to import memdoctor), then the program's own sitecustomize, if any, is imported as usual.
"""

import json
import os
import sys


def _load_agent():
    path = os.environ.get("MEMDOCTOR_HEAP_AGENT")
    config = os.environ.get("MEMDOCTOR_HEAP_CONFIG")
    if not path or not config:
        return
    try:
        import importlib.util

        spec = importlib.util.spec_from_file_location("memdoctor_heap_agent", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["memdoctor_heap_agent"] = module
        settings = json.loads(config)
        settings["agent_names"] = {"memdoctor_heap_agent", "sitecustomize"}
        module.start_resident(settings)
    except Exception as exc:  # never break the program for our sake
        sys.stderr.write(f"memdoctor: heap agent not started: {type(exc).__name__}\n")


def _chain_sitecustomize():
    """Import the sitecustomize this one shadows (a virtualenv's or the distribution's)."""
    here = os.path.dirname(os.path.abspath(__file__))
    saved = list(sys.path)
    this = sys.modules.pop("sitecustomize", None)
    try:
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
        try:
            import sitecustomize  # noqa: F401
        except ImportError:
            pass
    finally:
        sys.path[:] = saved
        if "sitecustomize" not in sys.modules and this is not None:
            sys.modules["sitecustomize"] = this


_load_agent()
_chain_sitecustomize()
