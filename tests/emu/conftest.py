"""pytest's view of the emulator suite: the fixtures live in emutest.py, under a
module name of their own, so that this suite and tests/e2e (which has its own
conftest.py) can run in one pytest session and each test file can import
helpers by a name that is not "conftest"."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from emutest import *  # noqa: E402,F401,F403  (fixtures and helpers)
