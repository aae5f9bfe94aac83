"""Shared by every pytest suite under tests/.

In CI (CI=true), a skipped test is a failure: a test that cannot run there
proves nothing, and CI must say so rather than go green.  Locally a test may
still skip for a missing privilege, and says why.
"""
import os

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CI") == "true" and report.skipped and \
            not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) \
            else str(report.longrepr)
        report.longrepr = "skipped in CI, which must run every test: %s" % reason
