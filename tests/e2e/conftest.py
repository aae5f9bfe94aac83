"""Shared fixtures for ferry's end-to-end tests.

``emulator(flavor, config=None)`` starts ``scripts/jira-emu`` on port 0 in a temporary
state directory and returns an :class:`Emulator`; every emulator a test starts is
stopped at teardown.  ``emulator_shared(flavor, name)`` keeps one per flavour and name for
the whole session (reset by the caller when it needs a clean site), for suites that seed
a lot of data once.

The environment comes from the Makefile: FERRY_BIN (the ferry binary), FERRY_TOOLS (the
helper binaries of tests/tools), FERRY_SRCDIR (the source tree).
"""
import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import urllib.error
import urllib.request

import pytest

SRCDIR = os.environ.get("FERRY_SRCDIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.environ.get("FERRY_TOOLS") or os.path.join(SRCDIR, "build", "tools")
FERRY_BIN = os.environ.get("FERRY_BIN") or os.path.join(SRCDIR, "build", "ferry")
EMU = os.path.join(SRCDIR, "scripts", "jira-emu")

# The emulator's built-in users (tests/emu/jira_emu/config.py): the sync user and
# others, as (login, secret) for basic authentication in each flavour.
USERS = {
    "server": {"ferry": ("ferry", "ferry-secret"), "admin": ("admin", "admin-secret"),
               "alice": ("alice", "alice-secret"), "nobody": ("nobody", "nobody-secret")},
    "cloud": {"ferry": ("ferry@example.com", "ferry-api-token"),
              "admin": ("admin@example.com", "admin-api-token"),
              "alice": ("alice@example.com", "alice-api-token"),
              "nobody": ("nobody@example.com", "nobody-api-token")},
}
PATS = {"ferry": "ferry-pat", "admin": "admin-pat"}


class Emulator:
    """One running jira-emu process and its control API (/_emu/)."""

    def __init__(self, flavor, config=None):
        self.flavor = flavor
        self.cloud = flavor == "cloud"
        self.tmp = tempfile.mkdtemp(prefix="ferry-emu-")
        self.state = os.path.join(self.tmp, "state")
        self.config = None
        if config is not None:
            self.config = os.path.join(self.tmp, "config.json")
            with open(self.config, "w") as f:
                json.dump(config, f)
        self.proc = None
        self.start()

    def start(self):
        cmd = [EMU, "--port", "0", "--flavor", self.flavor, "--state", self.state]
        if self.config:
            cmd += ["--config", self.config]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("jira-emu listening on http://"):
            self.stop()
            raise RuntimeError("jira-emu did not start: %r" % line)
        self.url = line.strip().rsplit(" ", 1)[1]
        self.port = int(self.url.rsplit(":", 1)[1])

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc.stdout.close()
            self.proc = None

    def close(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def creds(self, user="ferry"):
        return USERS[self.flavor][user]

    # --------------------------------------------------------------- control API
    def ctl(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + "/_emu/" + path.lstrip("/"), data=data,
                                     method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return json.loads(r.read().decode() or "null")
        except urllib.error.HTTPError as e:
            raise AssertionError("/_emu/%s: %d %s" % (path, e.code, e.read()[:300]))

    def reset(self):
        return self.ctl("POST", "reset")

    def counts(self):
        """Requests received since the last reset/clear: {"METHOD /route": n}."""
        return self.ctl("GET", "counts")["counts"]

    def clear_counts(self):
        self.ctl("DELETE", "counts")

    def fault(self, **spec):
        return self.ctl("POST", "faults", spec)

    def clear_faults(self):
        self.ctl("DELETE", "faults")

    def patch_config(self, patch):
        return self.ctl("POST", "config", patch)

    def seed(self, issues):
        return self.ctl("POST", "seed", issues)["issues"]

    def raw_issue(self, id_or_key):
        return self.ctl("GET", "issue/" + str(id_or_key))

    # --------------------------------------------------------------- plain REST (checks)
    def rest(self, method, path, body=None, user="ferry"):
        login, secret = self.creds(user)
        tok = base64.b64encode(("%s:%s" % (login, secret)).encode()).decode()
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Authorization": "Basic " + tok,
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                raw = r.read()
                return r.status, (json.loads(raw.decode()) if raw else None)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw.decode())
            except ValueError:
                return e.code, raw


@pytest.fixture
def emulator():
    """Factory: emulator("server"|"cloud", config=None) -> a running Emulator."""
    started = []

    def make(flavor, config=None):
        e = Emulator(flavor, config)
        started.append(e)
        return e
    yield make
    for e in started:
        e.close()


_shared = {}


@pytest.fixture(scope="session")
def emulator_shared():
    """Factory: emulator_shared(flavor, name="default") -> one Emulator per flavour and
    name for the session.  Not reset here: the caller decides."""
    def get(flavor, name="default", config=None):
        key = (flavor, name)
        if key not in _shared or _shared[key].proc is None or _shared[key].proc.poll() is not None:
            _shared[key] = Emulator(flavor, config)
        return _shared[key]
    yield get
    for e in _shared.values():
        e.close()
    _shared.clear()
