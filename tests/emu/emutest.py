"""Fixtures for the emulator's own test suite: start scripts/jira-emu on port 0 in a
temporary state directory, talk to it over 127.0.0.1 only, kill it at teardown."""
import base64
import gzip
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
REPO = os.path.dirname(os.path.dirname(HERE))
EMU = os.path.join(REPO, "scripts", "jira-emu")
# Recorded real Jira payloads, copied with their sources and licenses from
# the team's shared jira-reference (see reference/SOURCES.md).
PAYLOADS = os.environ.get("JIRA_PAYLOADS") or os.path.join(
    HERE, "reference", "payloads")

CREDS = {"server": ("ferry", "ferry-secret"), "cloud": ("ferry@example.com", "ferry-api-token")}
ADMIN = {"server": ("admin", "admin-secret"), "cloud": ("admin@example.com", "admin-api-token")}
NOBODY = {"server": ("nobody", "nobody-secret"), "cloud": ("nobody@example.com", "nobody-api-token")}
ALICE = {"server": ("alice", "alice-secret"), "cloud": ("alice@example.com", "alice-api-token")}


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:300])


class Emu:
    """One running emulator process."""

    def __init__(self, flavor, config=None, state=None):
        self.flavor = flavor
        self.cloud = flavor == "cloud"
        self.tmp = tempfile.mkdtemp(prefix="jira-emu-")
        self.state = state or os.path.join(self.tmp, "state")
        self.config = None
        if config is not None:
            self.config = os.path.join(self.tmp, "config.json")
            with open(self.config, "w") as f:
                json.dump(config, f)
        self.creds = CREDS[flavor]
        self.proc = None
        self.start()

    def start(self):
        cmd = [EMU, "--port", "0", "--flavor", self.flavor, "--state", self.state]
        if self.config:
            cmd += ["--config", self.config]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=None, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("jira-emu listening on http://127.0.0.1:"), line
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.base = "http://127.0.0.1:%d" % self.port

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.proc.stdout.close()
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def close(self):
        self.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    # -------------------------------------------------------------- HTTP
    def auth_header(self, auth):
        if auth is None:
            return {}
        if isinstance(auth, str):
            return {"Authorization": "Bearer " + auth}
        tok = base64.b64encode(("%s:%s" % auth).encode()).decode()
        return {"Authorization": "Basic " + tok}

    def request(self, method, path, body=None, auth="default", headers=None, raw=None, timeout=10,
                conn=None):
        hdr = {}
        hdr.update(self.auth_header(self.creds if auth == "default" else auth))
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            hdr["Content-Type"] = "application/json"
        hdr.update(headers or {})
        own = conn is None
        c = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=data, headers=hdr)
            r = c.getresponse()
            b = r.read()
            resp = Response(r.status, r.getheaders(), b)
            if resp.headers.get("content-encoding") == "gzip":
                resp.body = gzip.decompress(b)
            return resp
        finally:
            if own:
                c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def ctl(self, method, path, body=None):
        r = self.request(method, "/_emu/" + path.lstrip("/"), body, auth=None)
        assert r.status in (200, 201), r
        return r.json

    # -------------------------------------------------------------- helpers
    def user_ref(self, name):
        if self.cloud:
            return {"accountId": "557058:f0e1d2c3-0000-4000-8000-%012d" % {
                "ferry": 1, "admin": 2, "alice": 3, "nobody": 4}[name]}
        return {"name": name}

    def create(self, summary="An issue", project="DEMO", issuetype="Task", auth="default", **fields):
        f = {"project": {"key": project}, "issuetype": {"name": issuetype}, "summary": summary}
        f.update(fields)
        r = self.post("/rest/api/2/issue", {"fields": f}, auth=auth)
        assert r.status == 201, r
        return r.json

    def issue(self, key, query=""):
        r = self.get("/rest/api/2/issue/%s%s" % (key, query))
        assert r.status == 200, r
        return r.json

    def upload(self, key, files, token=True, auth="default", name="file"):
        boundary = uuid.uuid4().hex
        parts = []
        for fname, data in files:
            parts.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                          "Content-Type: application/octet-stream\r\n\r\n" % (boundary, name, fname)).encode()
                         + data + b"\r\n")
        raw = b"".join(parts) + ("--%s--\r\n" % boundary).encode()
        h = {"Content-Type": "multipart/form-data; boundary=%s" % boundary}
        if token:
            h["X-Atlassian-Token"] = "no-check"
        return self.request("POST", "/rest/api/2/issue/%s/attachments" % key, raw=raw, headers=h, auth=auth)

    def search(self, jql, **params):
        """Search in the flavour's own API; returns the list of issues (all pages)."""
        if self.cloud:
            params.setdefault("fields", ["summary", "updated"])
            body = dict(jql=jql, **params)
            r = self.post("/rest/api/3/search/jql", body)
        else:
            r = self.post("/rest/api/2/search", dict(jql=jql, **params))
        assert r.status == 200, r
        return r.json["issues"]


_procs = {}


def _session_emu(flavor):
    if flavor not in _procs:
        _procs[flavor] = Emu(flavor)
    e = _procs[flavor]
    if e.proc is None or e.proc.poll() is not None:
        e.start()
    e.ctl("POST", "reset")
    return e


@pytest.fixture
def server():
    return _session_emu("server")


@pytest.fixture
def cloud():
    return _session_emu("cloud")


@pytest.fixture(params=["server", "cloud"])
def emu(request):
    return _session_emu(request.param)


@pytest.fixture
def make_emu():
    """Start a private emulator (own config/state), closed at teardown."""
    started = []

    def make(flavor, config=None, state=None):
        e = Emu(flavor, config, state)
        started.append(e)
        return e
    yield make
    for e in started:
        e.close()


def pytest_sessionfinish(session, exitstatus):
    for e in _procs.values():
        e.close()
    _procs.clear()


def wait_until(pred, timeout=5.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False
