"""The one part of the build pyproject.toml cannot say: the optional C sampling loop.

`memdoctor/sampling/_ticks.c` is the hot stretch of the recorder (issue 18: a tick in C costs
about 30 % less CPU than a tick in Python; docs/benchmarks.md). It is optional: where no C
compiler is available the build goes on without it and the recorder samples in Python.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("memdoctor.sampling._ticks", ["memdoctor/sampling/_ticks.c"], optional=True)])
