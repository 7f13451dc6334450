"""Module globals whose own code raises or lies when a heap walker inspects them, beside a real leak.

Run as `python misbehaving.py AGENT_PATH OUT_SNAPSHOT`: loads memdoctor's agent by path (as the
launch mode does), takes one snapshot inline, and exits 0 when the agent returned."""

import importlib.util
import sys


class RaisesOnEveryAttribute:
    """Like werkzeug's LocalProxy outside a request: any attribute access raises."""

    def __getattribute__(self, name):
        raise RuntimeError("Working outside of request context")


class LiesAboutItsClass:
    """Claims to be a dict: isinstance() believes it, len() and items() do not work."""

    @property
    def __class__(self):
        return dict


class RaisesOnClass:
    @property
    def __class__(self):
        raise RuntimeError("no class outside a request")


class HugeLen(list):
    """A list whose __len__ says it holds sys.maxsize entries."""

    def __len__(self):
        return sys.maxsize


class BrokenSizeof(dict):
    def __sizeof__(self):
        raise RuntimeError("broken __sizeof__")


class Meta(type):
    @property
    def __module__(cls):
        raise RuntimeError("metaclass property")


class WeirdClass(metaclass=Meta):
    pass


proxy = RaisesOnEveryAttribute()
liar = LiesAboutItsClass()
classless = RaisesOnClass()
huge = HugeLen(range(20))
broken = BrokenSizeof((i, i) for i in range(50))
weird = WeirdClass()
LEAKED_RECORDS = [{"id": i, "payload": "y" * 500} for i in range(2000)]

if __name__ == "__main__":
    spec = importlib.util.spec_from_file_location("memdoctor_heap_agent", sys.argv[1])
    agent = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(agent)
    agent.take_snapshot(sys.argv[2], agent_names={"memdoctor_heap_agent"})
