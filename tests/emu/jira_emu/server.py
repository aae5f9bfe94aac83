"""HTTP front end: routing, authentication, fault injection, request counts, /_emu/."""
import argparse
import fnmatch
import gzip
import hashlib
import hmac
import json
import random
import re
import socket
import sys
import threading
import time
import traceback
from email.parser import BytesParser
from email import policy as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit, parse_qs, quote, unquote

from . import config as config_mod
from . import render as R
from .site import Site
from .store import Store
from .util import ApiError, err, dumps, fmt_ts, zone

ROUTES = []   # (method, template, regex, func, opts)


def route(method, template, versions=None, flavors=("server", "cloud"), anon=False, raw=False):
    def deco(func):
        ROUTES.append((method, template, versions, flavors, anon, raw, func))
        return func
    return deco


def _compile(template):
    rx = re.escape(template)
    # {name*} takes the rest of the path, slashes included.
    rx = re.sub(r"\\\{(\w+)\\\*\\\}", r"(?P<\1>.+)", rx)
    rx = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", rx)
    return re.compile("^" + rx + "$")


class Resp:
    def __init__(self, status=200, body=None, headers=None, ctype=None):
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.ctype = ctype


class Call:
    """One request as the handlers see it."""

    def __init__(self, app, method, path, params, headers, raw, pathargs, api):
        self.app = app
        self.site = app.site
        self.method = method
        self.path = path
        self.params = params
        self.headers = headers
        self.raw = raw
        self.args = pathargs
        self.api = api
        self.user = None
        self.auth_failed = False
        self._json = None

    @property
    def r(self):
        return R.Req(self.site, self.user, self.api)

    def json(self):
        if self._json is None:
            if not self.raw:
                raise err(400, ["No content to map to Object due to end of input"])
            try:
                self._json = json.loads(self.raw.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                raise err(400, ["Unexpected character: %s" % e])
        return self._json

    def p(self, name, default=None):
        return self.params.get(name, default)


# =============================================================================== faults
class Faults:
    """Fault injection rules (see README): matched on method and route/path pattern."""

    def __init__(self, seed=1):
        self.rules = []
        self.next_id = 1
        self.lock = threading.Lock()
        self.rng = random.Random(seed)

    def add(self, spec):
        with self.lock:
            rule = dict(spec)
            rule["id"] = self.next_id
            self.next_id += 1
            rule.setdefault("method", "*")
            rule.setdefault("route", "*")
            rule.setdefault("kind", "status")
            if "count" not in rule and "rate" not in rule:
                rule["count"] = 1
            rule["hits"] = 0
            self.rules.append(rule)
            return rule

    def clear(self, rid=None):
        with self.lock:
            self.rules = [r for r in self.rules if rid is not None and r["id"] != rid]

    def pick(self, method, template, path):
        """The rules that fire for this request (latency rules plus at most one other)."""
        fired = []
        with self.lock:
            for rule in list(self.rules):
                if rule["method"] not in ("*", method):
                    continue
                pat = rule["route"]
                if not (fnmatch.fnmatchcase(template or "", pat) or fnmatch.fnmatchcase(path, pat)):
                    continue
                if any(f["kind"] != "latency" for f in fired) and rule["kind"] != "latency":
                    continue
                if "count" in rule:
                    if rule["count"] <= 0:
                        continue
                    rule["count"] -= 1
                elif self.rng.random() >= float(rule["rate"]):
                    continue
                rule["hits"] += 1
                fired.append(dict(rule))
                if "count" in rule and rule["count"] <= 0 and not rule.get("keep"):
                    self.rules.remove(rule)
        return fired


HTML_ERROR = ("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n"
              "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Time-out", 429: "Too Many Requests"}


class DropConnection(Exception):
    pass


# =============================================================================== app
class App:
    def __init__(self, state_dir, flavor, cfg):
        self.flavor = flavor
        self.cloud = flavor == "cloud"
        self.store = Store(state_dir)
        self.site = Site(self.store, cfg, flavor)
        self.faults = Faults(cfg.get("faultSeed", 1))
        self.counts = {}
        self.count_lock = threading.Lock()
        self.secret = hashlib.sha256(state_dir.encode()).digest()
        self.routes = []
        versions_all = ["2", "latest"] + (["3"] if self.cloud else [])
        for method, template, versions, flavors, anon, raw, func in ROUTES:
            if flavor not in flavors:
                continue
            vs = versions or versions_all
            if "{v}" in template:
                for v in vs:
                    if v == "3" and not self.cloud:
                        continue
                    t = template.replace("{v}", v)
                    self.routes.append((method, t, _compile(t), func, anon, raw, v))
            else:
                self.routes.append((method, template, _compile(template), func, anon, raw, "2"))

    def match(self, method, path):
        allowed = False
        for m, t, rx, func, anon, raw, v in self.routes:
            mo = rx.match(path)
            if mo:
                if m == method:
                    return t, func, anon, raw, v, {k: unquote(x) for k, x in mo.groupdict().items()}
                allowed = True
        return (None, None, None, None, None, "405" if allowed else None)

    def count(self, key):
        with self.count_lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    # ------------------------------------------------------------------ auth
    def auth(self, c, anon):
        """The authenticated user, None for anonymous access, or raises 401/403.

        ``anon``: True = anyone may call; "cloud" = Cloud lets anonymous callers in (they see
        nothing: issue 404, empty search), and with ``cloudAnonymousOnBadCredentials`` a
        caller whose credentials were rejected is treated as anonymous too, with
        ``X-Seraph-LoginReason: AUTHENTICATED_FAILED`` on the answer."""
        s = self.site
        anon_ok = anon is True or (anon == "cloud" and self.cloud)
        h = c.headers.get("Authorization")
        if not h:
            if anon_ok:
                return None
            raise self.unauthorized(False)
        scheme, _, cred = h.partition(" ")
        if scheme.lower() == "basic":
            if s.cfg.get("basicAuthDisabled"):
                raise ApiError(403, {"message": "Basic Authentication has been disabled on this instance."})
            import base64
            try:
                name, _, secret = base64.b64decode(cred.strip()).decode("utf-8").partition(":")
            except Exception:  # noqa: BLE001
                raise self.unauthorized(True)
            if self.cloud:
                u = s.user_by_email(name)
                if u is None or secret not in u.get("apiTokens", []) or not u.get("active", True):
                    if anon_ok and s.cfg.get("cloudAnonymousOnBadCredentials", True):
                        c.auth_failed = True
                        return None
                    raise self.unauthorized(True)
                return u
            u = s.user(name)
            if u is None:
                raise self.unauthorized(True)
            fails = self.store.get_meta("failed:" + u["name"], 0, "runtime")
            limit = s.cfg.get("captchaAfter", 3)
            if limit and fails >= limit:
                raise self.captcha()
            if u.get("password") is None or secret != u.get("password") or not u.get("active", True):
                self.store.set_meta("failed:" + u["name"], fails + 1, "runtime")
                if limit and fails + 1 >= limit:
                    raise self.captcha()
                raise self.unauthorized(True)
            if fails:
                self.store.set_meta("failed:" + u["name"], 0, "runtime")
            return u
        if scheme.lower() == "bearer" and not self.cloud:
            tok = cred.strip()
            for u in s.cfg["users"].values():
                if tok in u.get("pats", []) and u.get("active", True):
                    return u
            # an unknown PAT is not a failed login: 401 without the Seraph header
            raise self.unauthorized(False)
        raise self.unauthorized(True)

    def unauthorized(self, creds_given):
        hdr = {}
        if creds_given:
            hdr["X-Seraph-LoginReason"] = "AUTHENTICATED_FAILED"
        if self.cloud:
            hdr["WWW-Authenticate"] = 'OAuth realm="https%3A%2F%2Femulated.atlassian.net"'
            return ApiError(401, "Client must be authenticated to access this resource.", hdr,
                            "text/plain;charset=UTF-8")
        hdr["WWW-Authenticate"] = 'OAuth realm="%s"' % self.site.base_url
        if creds_given:
            # a wrong password: Jira DC answers with its HTML login page, not JSON
            return ApiError(401, "<!DOCTYPE html><html><head><title>Log in - Jira</title></head>"
                                 "<body><div id=\"login-form\">Sorry, your username and password "
                                 "are incorrect - please try again.</div></body></html>", hdr,
                            "text/html;charset=UTF-8")
        return err(401, ["You are not authenticated. Authentication required to perform this operation."],
                   headers=hdr)

    def captcha(self):
        return ApiError(403, "<!DOCTYPE html><html><head><title>Forbidden</title></head><body>"
                             "CAPTCHA_CHALLENGE</body></html>",
                        {"X-Seraph-LoginReason": "AUTHENTICATION_DENIED",
                         "X-Authentication-Denied-Reason":
                             "CAPTCHA_CHALLENGE; login-url=%s/login.jsp" % self.site.base_url},
                        "text/html;charset=UTF-8")

    def media_token(self, aid):
        return hmac.new(self.secret, str(aid).encode(), hashlib.sha256).hexdigest()[:32]


# =============================================================================== handler
class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "jira-emu/1.0"
    sys_version = ""

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes; with Nagle's
        # algorithm and the client's delayed ACK every kept-alive request
        # after the first would wait ~40 ms.
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, fmt, *args):  # quiet; errors go to stderr via log_error
        if getattr(self.server, "verbose", False):
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def do_PATCH(self):
        self.dispatch("PATCH")

    def do_HEAD(self):
        self.dispatch("HEAD")

    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if "chunked" in te.lower():
            out = b""
            while True:
                line = self.rfile.readline()
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def dispatch(self, method):
        app = self.server.app
        self.auser = None
        try:
            raw = self.read_body()
        except Exception:  # noqa: BLE001
            self.close_connection = True
            return
        if raw and (self.headers.get("Content-Encoding") or "").lower() == "gzip":
            try:
                raw = gzip.decompress(raw)
            except OSError:
                return self.send(Resp(400, {"errorMessages": ["Invalid gzip request body"], "errors": {}}))
        url = urlsplit(self.path)
        path = url.path
        cp = app.site.cfg.get("contextPath") or ""
        if cp and path.startswith(cp + "/"):
            path = path[len(cp):]
        params = {k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        multi = parse_qs(url.query, keep_blank_values=True)
        if self.headers.get("Host"):
            app.site.base_url = "http://%s%s" % (self.headers["Host"], cp)
        try:
            if path.startswith("/_emu/") or path == "/_emu":
                resp = emu_api(app, method, path, params, raw)
                return self.send(resp)
            template, func, anon, rawflag, v, args = app.match("HEAD" if False else method, path)
            key = "%s %s" % (method, template or path)
            app.count(key)
            faults = app.faults.pick(method, template, path)
            after = []
            for f in faults:
                if f["kind"] == "latency":
                    time.sleep(float(f.get("ms", 0)) / 1000.0)
                elif f.get("after"):
                    after.append(f)
                else:
                    return self.send_fault(f)
            if func is None:
                if args == "405":
                    raise ApiError(405, None)
                raise ApiError(404, None) if not path.startswith("/rest/") else err(
                    404, ["null for uri: %s%s" % (app.site.base_url, path)])
            c = Call(app, method, path, params, self.headers, raw, args, v)
            c.multi = multi
            with app.store.lock:        # one request at a time: consistent reads, serial writes
                c.user = app.auth(c, anon)
                self.auser = c.user["name"] if c.user else "anonymous"
                try:
                    resp = func(c)
                except ApiError as e:
                    if c.auth_failed:
                        e.headers = dict(e.headers, **{"X-Seraph-LoginReason": "AUTHENTICATED_FAILED"})
                    raise
                if c.auth_failed:
                    if not isinstance(resp, Resp):
                        resp = Resp(200, resp) if resp is not None else Resp(204)
                    resp.headers["X-Seraph-LoginReason"] = "AUTHENTICATED_FAILED"
            if resp is None:
                resp = Resp(204)
            elif not isinstance(resp, Resp):
                resp = Resp(200, resp)
            for f in after:
                return self.send_fault(f, resp)
            return self.send(resp)
        except ApiError as e:
            return self.send(Resp(e.status, e.body, e.headers, e.ctype))
        except DropConnection:
            self.close_connection = True
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:  # noqa: BLE001
            traceback.print_exc()
            return self.send(Resp(500, {"errorMessages": ["Internal server error"], "errors": {}}))

    def send_fault(self, f, real=None):
        kind = f["kind"]
        app = self.server.app
        if kind == "drop":
            # close the socket without answering
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.close_connection = True
            return
        if kind == "truncate":
            resp = real or Resp(200, {"errorMessages": [], "errors": {}, "padding": "x" * 64})
            body, ctype = self.encode(resp)
            cut = body[:max(1, len(body) // 2)]
            self.send_response(resp.status)
            self.send_header("Content-Type", ctype)
            if f.get("mode") == "cut":
                # declared length is the full body; the connection closes early
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(cut)
                self.wfile.flush()
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            self.send_header("Content-Length", str(len(cut)))
            self.end_headers()
            self.wfile.write(cut)
            return
        status = int(f.get("status", 429 if kind == "rate_limit" else 502 if kind == "html" else 500))
        headers = {}
        if kind == "rate_limit" or status == 429:
            status = 429
            ra = f.get("retryAfter")
            if ra is not None:
                headers["Retry-After"] = str(ra)
            if app.cloud:
                reset = fmt_ts(app.site.now_ms() + int(float(ra or 1) * 1000), zone("UTC"))
                headers.update({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                                "X-RateLimit-Reset": reset.replace("+0000", "Z"),
                                "RateLimit-Reason": f.get("reason", "jira-burst-based")})
            else:
                headers.update({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                                "X-RateLimit-Interval-Seconds": "1", "X-RateLimit-FillRate": "10"})
            return self.send(Resp(429, {"errorMessages": ["Rate limit exceeded."], "errors": {}}, headers))
        if f.get("retryAfter") is not None:
            headers["Retry-After"] = str(f["retryAfter"])
        if kind == "html" or (kind == "status" and status in (502, 504) and f.get("body") != "json"):
            reason = REASONS.get(status, "Error")
            return self.send(Resp(status, HTML_ERROR % (status, reason, status, reason), headers,
                                  "text/html"))
        return self.send(Resp(status, {"errorMessages": [f.get("message", "Internal server error")],
                                       "errors": {}}, headers))

    def encode(self, resp):
        b = resp.body
        ctype = resp.ctype
        if b is None:
            return b"", ctype or "application/json;charset=UTF-8"
        if isinstance(b, (bytes, bytearray)):
            return bytes(b), ctype or "application/octet-stream"
        if isinstance(b, str):
            return b.encode("utf-8"), ctype or "text/plain;charset=UTF-8"
        return dumps(b).encode("utf-8"), ctype or "application/json;charset=UTF-8"

    def send(self, resp):
        body, ctype = self.encode(resp)
        status = resp.status
        headers = dict(resp.headers)
        if status in (204, 304):
            body = b""
        enc = None
        if body and len(body) > 256 and "gzip" in (self.headers.get("Accept-Encoding") or "") \
                and status != 206 and "Content-Range" not in headers:
            body = gzip.compress(body, 5)
            enc = "gzip"
        self.send_response(status)
        if body or status not in (204, 304):
            self.send_header("Content-Type", ctype)
        if enc:
            self.send_header("Content-Encoding", enc)
            self.send_header("Vary", "Accept-Encoding")
        self.send_header("X-AREQUESTID", "%dx%d" % (time.time() * 1000 % 100000, threading.get_ident() % 1000))
        if not self.server.app.cloud and getattr(self, "auser", None):
            self.send_header("X-AUSERNAME", self.auser)   # DC names the authenticated user
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


# =============================================================================== helpers
def need_issue(c, key="id"):
    return c.site.issue_for(c.user, c.args[key])


def _bool(v, default=True):
    if v is None:
        return default
    return str(v).lower() not in ("false", "0", "no")


def _int(v, default):
    try:
        return int(v) if v not in (None, "") else default
    except ValueError:
        raise err(400, ["'%s' is not a valid number" % v])


# serverInfo / myself / permissions ------------------------------------------------------
@route("GET", "/rest/api/{v}/serverInfo", anon=True)
def server_info(c):
    s = c.site
    r = c.r
    ver = s.cfg["version"]
    nums = [int(x) for x in re.findall(r"\d+", ver)[:3]]
    b = {"baseUrl": s.base_url, "version": ver, "versionNumbers": nums,
         "deploymentType": "Cloud" if s.cloud else "Server",
         "buildNumber": 100204 if s.cloud else 9120015, "buildDate": r.ts(1700000000000),
         "serverTime": r.ts(s.now_ms()), "scmInfo": "948b370c557f4bbf768b92203f3aca5d86ee9758",
         "serverTitle": s.cfg.get("serverTitle", "Jira")}
    if s.cloud:
        b["defaultLocale"] = {"locale": "en_US"}
        b["serverTimeZone"] = s.cfg.get("timeZone", "UTC")
    return b


def user_full(c, u, expand=("groups", "applicationRoles")):
    r = c.r
    b = R.user(r, u["name"])
    b["locale"] = "en_US"
    groups = u.get("groups", [])
    b["groups"] = {"size": len(groups), "items": [
        {"name": g, "self": "%s/group?groupname=%s" % (r.rest, g)} for g in groups]}
    b["applicationRoles"] = {"size": 1, "items": [{"key": "jira-software", "name": "Jira Software"}]}
    b["expand"] = "groups,applicationRoles"
    return b


@route("GET", "/rest/api/{v}/myself")
def myself(c):
    return user_full(c, c.user)


@route("GET", "/rest/api/{v}/user")
def get_user(c):
    s = c.site
    if s.cloud:
        acc = c.p("accountId")
        if not acc:
            raise err(400, ["The query parameter 'accountId' is required."])
        u = s.user_by_account(acc)
        label = acc
    else:
        u = s.user(c.p("username")) if c.p("username") else s.user_by_key(c.p("key")) if c.p("key") else None
        label = c.p("username") or c.p("key")
        if not label:
            raise err(400, ["Either the 'username' or the 'key' query parameters need to be provided"])
    if u is None:
        raise err(404, ["The user named '%s' does not exist" % label])
    return user_full(c, u)


def perm_bean(key, pid, name, desc, ptype, have, cloud):
    return {"id": pid, "key": key, "name": name, "type": ptype, "description": desc,
            "havePermission": have}


@route("GET", "/rest/api/{v}/mypermissions")
def mypermissions(c):
    s = c.site
    project = None
    if c.p("projectKey") or c.p("projectId"):
        project = s.project_by_any(c.p("projectKey") or c.p("projectId"))
        if project is None or not s.can_browse(c.user, project["key"]):
            raise err(404, ["No project could be found with key '%s'." % (c.p("projectKey") or c.p("projectId"))])
    if c.p("issueKey") or c.p("issueId"):
        iss = s.issue_for(c.user, c.p("issueKey") or c.p("issueId"))
        project = s.project(iss["project"])
    wanted = None
    if s.cloud:
        if not c.p("permissions"):
            raise err(400, ["The 'permissions' query parameter is required."])
        wanted = [x.strip() for x in c.p("permissions").split(",") if x.strip()]
    out = {}
    for key, pid, name, desc in config_mod.PROJECT_PERMISSIONS:
        out[key] = perm_bean(key, pid, name, desc, "PROJECT", s.has_perm(c.user, project, key), s.cloud)
    for key, pid, name, desc in config_mod.GLOBAL_PERMISSIONS:
        out[key] = perm_bean(key, pid, name, desc, "GLOBAL", s.has_perm(c.user, project, key), s.cloud)
    for old, new in config_mod.DEPRECATED_KEYS.items():
        b = dict(out[new], key=old)
        if s.cloud:
            b["deprecatedKey"] = True
        out[old] = b
    if wanted is not None:
        unknown = [w for w in wanted if w not in out]
        if unknown:
            raise err(404, ["Permission '%s' does not exist." % unknown[0]])
        out = {k: out[k] for k in wanted}
    return {"permissions": out}


@route("POST", "/rest/api/{v}/permissions/check", flavors=("cloud",))
def permissions_check(c):
    s = c.site
    b = c.json() or {}
    out = {"projectPermissions": [], "globalPermissions": []}
    for g in b.get("globalPermissions") or []:
        if s.has_perm(c.user, None, g):
            out["globalPermissions"].append(g)
    for pp in b.get("projectPermissions") or []:
        for perm in pp.get("permissions") or []:
            projects = [int(pid) for pid in pp.get("projects") or []
                        if s.project_by_any(pid) and s.has_perm(c.user, s.project_by_any(pid), perm)]
            issues = []
            for iid in pp.get("issues") or []:
                iss = s.issue_raw(iid)
                if iss and s.has_perm(c.user, s.project(iss["project"]), perm) and \
                        s.can_browse(c.user, iss["project"]):
                    issues.append(int(iid))
            out["projectPermissions"].append({"permission": perm, "issues": issues, "projects": projects})
    return out


# projects ---------------------------------------------------------------------------
def project_full(c, p):
    r = c.r
    s = c.site
    b = {"expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
         "self": "%s/project/%s" % (r.rest, p["id"]), "id": p["id"], "key": p["key"],
         "description": p.get("description", ""), "lead": R.user(r, p.get("lead") or "admin"),
         "components": [dict(R.component(r, x), isAssigneeTypeValid=False,
                             description=x.get("description", "")) for x in p.get("components", [])],
         "issueTypes": [R.issuetype(r, it) for it in p["issueTypes"]],
         "assigneeType": "UNASSIGNED", "versions": [], "name": p["name"],
         "roles": {role: "%s/project/%s/role/%d" % (r.rest, p["id"], 10000 + i)
                   for i, role in enumerate(sorted(p.get("roles", {})))},
         "avatarUrls": R.avatars(r, "project", 10011), "projectTypeKey": "software",
         "archived": False}
    if s.cloud:
        b.update(simplified=False, style="classic", isPrivate=False, properties={})
    return b


def need_project(c, ref):
    p = c.site.project_by_any(ref)
    if p is None or not c.site.can_browse(c.user, p["key"]):
        raise err(404, ["No project could be found with key '%s'." % ref])
    return p


@route("GET", "/rest/api/{v}/project", anon="cloud")
def list_projects(c):
    return [dict(R.project_short(c.r, p), expand="description,lead,url,projectKeys")
            for p in c.site.cfg["projects"].values() if c.site.can_browse(c.user, p["key"])]


@route("GET", "/rest/api/{v}/project/{key}", anon="cloud")
def get_project(c):
    return project_full(c, need_project(c, c.args["key"]))


@route("GET", "/rest/api/{v}/project/{key}/statuses")
def project_statuses(c):
    p = need_project(c, c.args["key"])
    r = c.r
    return [{"self": "%s/issuetype/%s" % (r.rest, it["id"]), "id": it["id"], "name": it["name"],
             "subtask": bool(it.get("subtask")),
             "statuses": [R.status(r, st) for st in p["statuses"]]} for it in p["issueTypes"]]


def _role_ids(p):
    return {role: 10000 + i for i, role in enumerate(sorted(p.get("roles", {})))}


@route("GET", "/rest/api/{v}/project/{key}/role")
def project_roles(c):
    p = need_project(c, c.args["key"])
    r = c.r
    return {role: "%s/project/%s/role/%d" % (r.rest, p["id"], rid) for role, rid in _role_ids(p).items()}


@route("GET", "/rest/api/{v}/project/{key}/role/{rid}")
def project_role(c):
    s = c.site
    p = need_project(c, c.args["key"])
    r = c.r
    for role, rid in _role_ids(p).items():
        if str(rid) != c.args["rid"]:
            continue
        actors = []
        for i, m in enumerate(p["roles"][role]):
            if m.startswith("group:"):
                actors.append({"id": 20000 + i, "displayName": m[6:], "type": "atlassian-group-role-actor",
                               "name": m[6:], "actorGroup": {"name": m[6:], "displayName": m[6:]}})
            else:
                u = s.user(m) or {"name": m, "displayName": m, "accountId": m}
                a = {"id": 20000 + i, "displayName": u["displayName"], "type": "atlassian-user-role-actor",
                     "avatarUrl": R.avatars(r, "user", 10122)["16x16"]}
                if s.cloud:
                    a["actorUser"] = {"accountId": u["accountId"]}
                else:
                    a["name"] = u["name"]
                actors.append(a)
        return {"self": "%s/project/%s/role/%d" % (r.rest, p["id"], rid), "name": role, "id": rid,
                "description": "Project role %s" % role, "actors": actors}
    raise err(404, ["Can not retrieve a role actor for a null project role."])


@route("GET", "/rest/api/{v}/issuetype")
def issuetypes(c):
    seen = {}
    for p in c.site.cfg["projects"].values():
        if c.site.can_browse(c.user, p["key"]):
            for it in p["issueTypes"]:
                seen.setdefault(it["id"], R.issuetype(c.r, it))
    return list(seen.values())


@route("GET", "/rest/api/{v}/user/search")
def user_search(c):
    s = c.site
    q = (c.p("query") if s.cloud else (c.p("username") or c.p("query")))
    if q is None:
        raise err(400, ["The query parameter 'query' is required." if s.cloud else
                        "The username query parameter was not provided"])
    ql = q.lower()
    out = []
    for u in s.cfg["users"].values():
        if ql in (u["name"].lower(), ) or ql in u["displayName"].lower() or ql in (u.get("email") or "").lower() \
                or (not s.cloud and u["name"].lower().startswith(ql)) or (s.cloud and u["accountId"] == q):
            out.append(R.user(c.r, u["name"]))
    start = max(0, _int(c.p("startAt"), 0))
    return out[start:start + max(1, min(_int(c.p("maxResults"), 50), 1000))]


@route("GET", "/rest/api/{v}/priority")
def priorities(c):
    r = c.r
    return [dict(R.priority(r, p), statusColor="#ffffff", description=p["name"]) for p in c.site.cfg["priorities"]]


@route("GET", "/rest/api/{v}/resolution")
def resolutions(c):
    return [R.resolution(c.r, x) for x in c.site.cfg["resolutions"]]


@route("GET", "/rest/api/{v}/status")
def statuses(c):
    seen = {}
    for p in c.site.cfg["projects"].values():
        for st in p["statuses"]:
            seen[st["id"]] = R.status(c.r, st)
    return list(seen.values())


FIELD_SCHEMAS = {
    "summary": ("Summary", {"type": "string", "system": "summary"}, True),
    "issuetype": ("Issue Type", {"type": "issuetype", "system": "issuetype"}, True),
    "project": ("Project", {"type": "project", "system": "project"}, True),
    "description": ("Description", {"type": "string", "system": "description"}, False),
    "environment": ("Environment", {"type": "string", "system": "environment"}, False),
    "labels": ("Labels", {"type": "array", "items": "string", "system": "labels"}, False),
    "priority": ("Priority", {"type": "priority", "system": "priority"}, False),
    "assignee": ("Assignee", {"type": "user", "system": "assignee"}, False),
    "reporter": ("Reporter", {"type": "user", "system": "reporter"}, True),
    "duedate": ("Due Date", {"type": "date", "system": "duedate"}, False),
    "components": ("Component/s", {"type": "array", "items": "component", "system": "components"}, False),
    "parent": ("Parent", {"type": "issuelink", "system": "parent"}, False),
    "attachment": ("Attachment", {"type": "array", "items": "attachment", "system": "attachment"}, False),
    "comment": ("Comment", {"type": "comments-page", "system": "comment"}, False),
    "fixVersions": ("Fix Version/s", {"type": "array", "items": "version", "system": "fixVersions"}, False),
    "issuelinks": ("Linked Issues", {"type": "array", "items": "issuelinks", "system": "issuelinks"}, False),
}
FIELD_OPS = {"summary": ["set"], "description": ["set"], "environment": ["set"],
             "labels": ["add", "set", "remove"], "priority": ["set"], "assignee": ["set"],
             "reporter": ["set"], "duedate": ["set"], "components": ["add", "set", "remove"],
             "issuetype": [], "project": ["set"], "parent": ["set"], "attachment": [],
             "comment": ["add", "edit", "remove"], "fixVersions": ["set", "add", "remove"],
             "issuelinks": ["add"]}


def field_meta(c, p, it, fid, for_create=True, style="jira9"):
    """Field metadata.  ``style``: "jira9" (paged createmeta: fieldId, hasDefaultValue),
    "legacy" (old createmeta: hasDefaultValue, no fieldId), "edit" (editmeta: neither)."""
    name, schema, required = FIELD_SCHEMAS[fid]
    b = {"required": required and (fid != "reporter" or for_create), "schema": schema, "name": name,
         "key": fid}
    if style == "jira9":
        b["fieldId"] = fid
    if style != "edit":
        b["hasDefaultValue"] = fid in ("priority", "reporter")
    b["operations"] = FIELD_OPS.get(fid, ["set"])
    r = c.r
    if fid == "priority":
        b["allowedValues"] = [R.priority(r, x) for x in c.site.cfg["priorities"]]
        if style != "edit":
            b["defaultValue"] = R.priority(r, c.site.priority_by_name(c.site.cfg.get("defaultPriority")))
    elif fid == "issuetype":
        b["allowedValues"] = [R.issuetype(r, it)]
    elif fid == "project":
        b["allowedValues"] = [R.project_short(r, p)]
    elif fid == "components":
        b["allowedValues"] = [R.component(r, x) for x in p.get("components", [])]
    elif fid in ("assignee", "reporter"):
        b["autoCompleteUrl"] = "%s/user/search?query=" % r.rest
    elif fid == "labels":
        b["autoCompleteUrl"] = "%s/rest/api/1.0/labels/suggest?query=" % r.base
    elif fid == "fixVersions":
        b["allowedValues"] = []
    elif fid == "issuelinks":
        b["autoCompleteUrl"] = "%s/issue/picker?currentProjectId=&showSubTaskParent=true&query=" % r.rest
    return b


def create_fields(it):
    fs = ["summary", "issuetype", "project", "description", "environment", "labels", "priority",
          "assignee", "reporter", "duedate", "components", "attachment"]
    if it.get("subtask"):
        fs.append("parent")
    return fs


@route("GET", "/rest/api/{v}/issue/createmeta")
def createmeta_legacy(c):
    s = c.site
    if not s.cloud:
        # removed in Jira 9.0 (API-NOTES 3) -> no such resource
        raise err(404, ["null for uri: %s/rest/api/2/issue/createmeta" % s.base_url])
    r = c.r
    out = []
    keys = [k.strip() for k in (c.p("projectKeys") or "").split(",") if k.strip()]
    for p in s.cfg["projects"].values():
        if not s.can_browse(c.user, p["key"]) or (keys and p["key"] not in keys):
            continue
        its = []
        for it in p["issueTypes"]:
            b = R.issuetype(r, it)
            if "projects.issuetypes.fields" in (c.p("expand") or ""):
                b["fields"] = {f: field_meta(c, p, it, f, style="legacy") for f in create_fields(it)}
            its.append(b)
        out.append({"expand": "issuetypes", "self": "%s/project/%s" % (r.rest, p["id"]), "id": p["id"],
                    "key": p["key"], "name": p["name"], "avatarUrls": R.avatars(r, "project", 10011),
                    "issuetypes": its})
    return {"expand": "projects", "projects": out}


def page(c, values, default_max=50, cap=200):
    start = max(0, _int(c.p("startAt"), 0))
    maxr = max(0, min(_int(c.p("maxResults"), default_max), cap))
    pg = values[start:start + maxr]
    return {"maxResults": maxr, "startAt": start, "total": len(values),
            "isLast": start + len(pg) >= len(values), "values": pg}


@route("GET", "/rest/api/{v}/issue/createmeta/{project}/issuetypes")
def createmeta_types(c):
    p = need_project(c, c.args["project"])
    if not c.site.has_perm(c.user, p, "CREATE_ISSUES"):
        return page(c, [])
    return page(c, [R.issuetype(c.r, it) for it in p["issueTypes"]])


@route("GET", "/rest/api/{v}/issue/createmeta/{project}/issuetypes/{typeid}")
def createmeta_fields(c):
    p = need_project(c, c.args["project"])
    it = c.site.issuetype_by(p, {"id": c.args["typeid"]})
    if it is None:
        raise err(404, ["Issue type with id '%s' does not exist in project '%s'." % (c.args["typeid"], p["key"])])
    return page(c, [field_meta(c, p, it, f) for f in create_fields(it)])


@route("GET", "/rest/api/{v}/issue/{id}/editmeta")
def editmeta(c):
    iss = need_issue(c)
    p = c.site.project(iss["project"])
    it = c.site.issuetype_by(p, {"name": iss["issuetype"]}) or {"id": "0", "name": iss["issuetype"]}
    if not c.site.has_perm(c.user, p, "EDIT_ISSUES"):
        return {"fields": {}}
    fs = [f for f in create_fields(it) if f != "project"] + ["fixVersions", "issuelinks", "comment"]
    return {"fields": {f: field_meta(c, p, it, f, False, style="edit") for f in fs}}


@route("GET", "/rest/api/{v}/field")
def fields_list(c):
    from .site import ALL_FIELDS_DC, CLOUD_EXTRA, FIELD_NAMES, NOT_NAVIGABLE
    out = []
    for f in (CLOUD_EXTRA if c.site.cloud else []) + ALL_FIELDS_DC + ["issuekey", "parent"]:
        sch = FIELD_SCHEMAS.get(f, (None, {"type": "any", "system": f}, False))[1]
        b = {"id": f, "name": FIELD_NAMES.get(f, f), "custom": False,
             "orderable": f in FIELD_SCHEMAS, "navigable": f not in NOT_NAVIGABLE,
             "searchable": True, "clauseNames": [f if f != "issuekey" else "key"], "schema": sch}
        if c.site.cloud:
            b["key"] = f
        out.append(b)
    return out


# search -----------------------------------------------------------------------------
def search_params(c):
    if c.method == "POST":
        b = c.json()
        if not isinstance(b, dict):
            raise err(400, ["Invalid request payload."])
        out = dict(b)
        for k in ("fields", "expand", "properties", "reconcileIssues"):
            if isinstance(out.get(k), list):
                out[k] = ",".join(str(x) for x in out[k])
        return out
    p = dict(c.params)
    for k in ("fields", "expand", "properties", "reconcileIssues"):
        vals = c.multi.get(k)
        if vals and len(vals) > 1:
            p[k] = ",".join(vals)
    return p


@route("GET", "/rest/api/{v}/search")
@route("POST", "/rest/api/{v}/search")
def search_old(c):
    from .search import Searcher, removed
    if c.site.cloud:
        raise removed()
    return Searcher(c.site).dc_search(c.r, search_params(c))


@route("GET", "/rest/api/{v}/search/jql", flavors=("cloud",), anon="cloud")
@route("POST", "/rest/api/{v}/search/jql", flavors=("cloud",), anon="cloud")
def search_jql(c):
    from .search import Searcher
    return Searcher(c.site).cloud_search(c.r, search_params(c))


@route("POST", "/rest/api/{v}/search/approximate-count", flavors=("cloud",))
def approx_count(c):
    from .search import Searcher
    _q, issues = Searcher(c.site).run(c.user, c.json().get("jql") or "", lagged=True)
    return {"count": len(issues)}


# issues -----------------------------------------------------------------------------
def _fields_param(c):
    from .search import parse_fields
    spec = c.multi.get("fields")
    if not spec:
        return None
    return parse_fields(",".join(spec), "*all")


@route("GET", "/rest/api/{v}/issue/{id}", anon="cloud")
def get_issue(c):
    iss = need_issue(c)
    expand = [x.strip() for x in (c.p("expand") or "").split(",") if x.strip()]
    props = [x.strip() for x in (c.p("properties") or "").split(",") if x.strip()]
    cap = 100 if c.site.cloud else None
    return c.site.issue_bean(c.r, iss, _fields_param(c), expand, props, changelog_cap=cap)


@route("POST", "/rest/api/{v}/issue")
def create_issue(c):
    body = c.json()
    with c.site.st:
        iss = c.site.create_issue(c.user, body, c.r)
    b = {"id": str(iss["id"]), "key": iss["key"], "self": "%s/issue/%s" % (c.r.rest, iss["id"])}
    if body.get("transition"):
        # the issue is created; the transition result is reported separately (Cloud CreatedIssue)
        try:
            with c.site.st:
                c.site.do_transition(c.user, c.site.issue_raw(iss["id"]), {"transition": body["transition"]})
            tr = {"status": 200, "errorCollection": {"errorMessages": [], "errors": {}}}
        except ApiError as e:
            eb = e.body if isinstance(e.body, dict) else {}
            tr = {"status": e.status, "errorCollection": {"errorMessages": eb.get("errorMessages", []),
                                                          "errors": eb.get("errors", {})}}
        if c.site.cloud:
            b["transition"] = tr
    return Resp(201, b)


@route("POST", "/rest/api/{v}/issue/bulk")
def bulk_create(c):
    body = c.json()
    ups = body.get("issueUpdates") if isinstance(body, dict) else None
    if not isinstance(ups, list):
        raise err(400, ["Nothing to create."])
    if c.site.cloud and len(ups) > 50:
        raise err(400, ["The number of issues to create can't exceed 50."])
    issues, errors = [], []
    for i, up in enumerate(ups):
        try:
            with c.site.st:
                iss = c.site.create_issue(c.user, up, c.r, bulk=True)
            issues.append({"id": str(iss["id"]), "key": iss["key"],
                           "self": "%s/issue/%s" % (c.r.rest, iss["id"])})
        except ApiError as e:
            body_e = e.body if isinstance(e.body, dict) else {"errorMessages": [str(e.body)], "errors": {}}
            errors.append({"status": e.status, "elementErrors": {
                "errorMessages": body_e.get("errorMessages", []), "errors": body_e.get("errors", {})},
                "failedElementNumber": i})
    return Resp(201 if issues else 400, {"issues": issues, "errors": errors})


@route("POST", "/rest/api/{v}/issue/bulkfetch", flavors=("cloud",))
def bulk_fetch(c):
    from .search import parse_fields
    b = c.json()
    refs = b.get("issueIdsOrKeys") or []
    if len(refs) > 100:
        raise err(400, ["The number of issues can't exceed 100."])
    fields = parse_fields(b.get("fields"), "*navigable")
    out, errs = [], []
    for ref in refs:
        iss = c.site.issue_raw(ref)
        if iss is None or not c.site.can_browse(c.user, iss["project"]):
            errs.append(str(ref))
            continue
        out.append(iss)
    out.sort(key=lambda i: i["id"])
    expand = b.get("expand") or []
    if isinstance(expand, str):
        expand = expand.split(",")
    return {"expand": "", "issues": [c.site.issue_bean(c.r, i, fields, expand, b.get("properties") or [])
                                     for i in out],
            "issueErrors": [{"errorMessages": ["Issue does not exist or you do not have permission to see it."],
                             "errors": {}, "issueIdOrKey": e} for e in errs] if errs else []}


@route("PUT", "/rest/api/{v}/issue/{id}")
def edit_issue(c):
    body = c.json()
    with c.site.st:
        iss = need_issue(c)
        c.site.edit_issue(c.user, iss, body, notify=_bool(c.p("notifyUsers")))
    if c.site.cloud and _bool(c.p("returnIssue"), False):
        return Resp(200, c.site.issue_bean(c.r, c.site.issue_raw(iss["id"])))
    return Resp(204)


@route("DELETE", "/rest/api/{v}/issue/{id}")
def delete_issue(c):
    with c.site.st:
        iss = need_issue(c)
        c.site.delete_issue(c.user, iss, _bool(c.p("deleteSubtasks"), False))
    return Resp(204)


@route("GET", "/rest/api/{v}/issue/{id}/changelog", flavors=("cloud",))
def changelog(c):
    iss = need_issue(c)
    hs = c.site.histories(iss["id"])
    start = max(0, _int(c.p("startAt"), 0))
    maxr = max(1, min(_int(c.p("maxResults"), 100), 100))
    pg = hs[start:start + maxr]
    r = c.r
    b = {"self": "%s/issue/%s/changelog?maxResults=%d&startAt=%d" % (r.rest, iss["key"], maxr, start),
         "maxResults": maxr, "startAt": start, "total": len(hs),
         "isLast": start + len(pg) >= len(hs), "values": [R.history(r, h) for h in pg]}
    if not b["isLast"]:
        b["nextPage"] = "%s/issue/%s/changelog?maxResults=%d&startAt=%d" % (r.rest, iss["key"], maxr,
                                                                            start + maxr)
    return b


@route("POST", "/rest/api/{v}/issue/{id}/changelog/list", flavors=("cloud",))
def changelog_list(c):
    iss = need_issue(c)
    ids = {int(x) for x in (c.json().get("changelogIds") or [])}
    hs = [h for h in c.site.histories(iss["id"]) if h["id"] in ids]
    return {"maxResults": len(hs), "startAt": 0, "total": len(hs), "isLast": True,
            "values": [R.history(c.r, h) for h in hs]}


@route("POST", "/rest/api/{v}/changelog/bulkfetch", flavors=("cloud",))
def changelog_bulk(c):
    b = c.json()
    refs = b.get("issueIdsOrKeys") or []
    if len(refs) > 1000:
        raise err(400, ["The number of issues can't exceed 1000."])
    fids = set(b.get("fieldIds") or [])
    maxr = max(1, min(int(b.get("maxResults") or 1000), 10000))
    start = 0
    if b.get("nextPageToken"):
        try:
            start = int(b["nextPageToken"])
        except ValueError:
            raise err(400, ["The provided next page token is invalid or expired."])
    flat = []
    for ref in refs:
        iss = c.site.issue_raw(ref)
        if iss is None or not c.site.can_browse(c.user, iss["project"]):
            continue
        for h in c.site.histories(iss["id"]):
            if fids:
                h = dict(h, items=[i for i in h["items"] if i.get("fieldId", i["field"]) in fids])
                if not h["items"]:
                    continue
            flat.append((iss["id"], h))
    pg = flat[start:start + maxr]
    groups = {}
    for iid, h in pg:
        groups.setdefault(iid, []).append(R.history(c.r, h))
    out = {"issueChangeLogs": [{"issueId": str(k), "changeHistories": v} for k, v in groups.items()]}
    if start + maxr < len(flat):
        out["nextPageToken"] = str(start + maxr)
    return out


# transitions --------------------------------------------------------------------------
@route("GET", "/rest/api/{v}/issue/{id}/transitions")
def get_transitions(c):
    iss = need_issue(c)
    p = c.site.project(iss["project"])
    ts = c.site.transitions_for(c.user, iss)
    if c.p("transitionId"):
        ts = [t for t in ts if t["id"] == c.p("transitionId")]
    wf = "transitions.fields" in (c.p("expand") or "")
    return {"expand": "transitions", "transitions": [c.site.transition_bean(c.r, p, t, wf) for t in ts]}


@route("POST", "/rest/api/{v}/issue/{id}/transitions")
def post_transition(c):
    body = c.json()
    with c.site.st:
        iss = need_issue(c)
        c.site.do_transition(c.user, iss, body)
    return Resp(204)


# comments -------------------------------------------------------------------------------
@route("GET", "/rest/api/{v}/issue/{id}/comment")
def list_comments(c):
    s = c.site
    iss = need_issue(c)
    cs = [x for x in s.comments(iss["id"]) if s.visible(c.user, iss, x.get("visibility"))]
    ob = c.p("orderBy") or "created"
    if ob not in ("created", "-created", "+created"):
        raise err(400, ["orderBy must be one of: created, -created, +created"])
    if ob == "-created":
        cs = list(reversed(cs))
    start = max(0, _int(c.p("startAt"), 0))
    if c.p("maxResults") not in (None, ""):
        maxr = max(0, _int(c.p("maxResults"), 50))
    else:
        maxr = 1048576 if s.cloud else 50   # Cloud: recorded default "all"; DC: documented 50
    pg = cs[start:start + maxr]
    r = c.r
    return {"startAt": start, "maxResults": maxr, "total": len(cs),
            "comments": [R.comment(r, x, iss["id"]) for x in pg]}


def _comment_props(c, cid):
    return [{"key": k, "value": json.loads(v)} for k, v in
            c.site.st.q("SELECT k, v FROM comment_props WHERE comment_id=?", cid)]


@route("POST", "/rest/api/{v}/issue/{id}/comment")
def add_comment(c):
    body = c.json()
    with c.site.st:
        iss = need_issue(c)
        cm = c.site.add_comment(c.user, iss, body)
    b = R.comment(c.r, cm, iss["id"])
    if _comment_props(c, cm["id"]):
        b["properties"] = _comment_props(c, cm["id"])
    return Resp(201, b)


@route("GET", "/rest/api/{v}/issue/{id}/comment/{cid}")
def get_comment(c):
    iss = need_issue(c)
    cm = c.site.comment_for(c.user, iss, c.args["cid"])
    b = R.comment(c.r, cm, iss["id"])
    if "properties" in (c.p("expand") or ""):
        b["properties"] = _comment_props(c, cm["id"])
    return b


@route("PUT", "/rest/api/{v}/issue/{id}/comment/{cid}")
def edit_comment(c):
    body = c.json()
    with c.site.st:
        iss = need_issue(c)
        cm = c.site.comment_for(c.user, iss, c.args["cid"])
        cm = c.site.edit_comment(c.user, iss, cm, body)
    return R.comment(c.r, cm, iss["id"])


@route("DELETE", "/rest/api/{v}/issue/{id}/comment/{cid}")
def delete_comment(c):
    with c.site.st:
        iss = need_issue(c)
        cm = c.site.comment_for(c.user, iss, c.args["cid"])
        c.site.delete_comment(c.user, iss, cm)
    return Resp(204)


def _comment_by_id(c):
    s = c.site
    cid = c.args["cid"]
    r = s.st.q1("SELECT issue_id FROM comments WHERE id=?", int(cid) if cid.isdigit() else -1)
    if r is None:
        raise err(404, ["Can not find a comment for the id: %s." % cid])
    iss = s.issue_raw(r[0])
    if iss is None or not s.can_browse(c.user, iss["project"]):
        raise err(404, ["Can not find a comment for the id: %s." % cid])
    cm = s.comment_for(c.user, iss, cid)
    return iss, cm


# entity properties (issue and comment) --------------------------------------------------
def _props_keys(c, table, col, oid, selfbase):
    keys = [k for (k,) in c.site.st.q("SELECT k FROM %s WHERE %s=? ORDER BY k" % (table, col), oid)]
    return {"keys": [{"key": k, "self": "%s/properties/%s" % (selfbase, k)} for k in keys]}


def _prop_get(c, table, col, oid, key):
    r = c.site.st.q1("SELECT v FROM %s WHERE %s=? AND k=?" % (table, col), oid, key)
    if r is None:
        raise err(404, ["The property with key '%s' does not exist." % key])
    return {"key": key, "value": json.loads(r[0])}


def _prop_put(c, table, col, oid, key):
    if len(key) > 255:
        raise err(400, ["The property key cannot be longer than 255 characters."])
    if not c.raw:
        raise err(400, ["The property value must not be empty."])
    try:
        val = json.loads(c.raw.decode("utf-8"))
    except ValueError:
        raise err(400, ["The property value must be a valid JSON."])
    if len(c.raw) > 32768:
        raise err(400, ["The property value cannot be longer than 32768 characters."])
    existed = c.site.st.q1("SELECT 1 FROM %s WHERE %s=? AND k=?" % (table, col), oid, key)
    c.site.st.x("INSERT OR REPLACE INTO %s(%s, k, v) VALUES(?,?,?)" % (table, col), oid, key, json.dumps(val))
    # entity property set: no `updated` bump, no history (API-NOTES 16.1)
    return Resp(200 if existed else 201, None)


def _prop_del(c, table, col, oid, key):
    r = c.site.st.q1("SELECT 1 FROM %s WHERE %s=? AND k=?" % (table, col), oid, key)
    if r is None:
        raise err(404, ["The property with key '%s' does not exist." % key])
    c.site.st.x("DELETE FROM %s WHERE %s=? AND k=?" % (table, col), oid, key)
    return Resp(204)


@route("GET", "/rest/api/{v}/issue/{id}/properties")
def issue_props(c):
    iss = need_issue(c)
    return _props_keys(c, "issue_props", "issue_id", iss["id"], "%s/issue/%s" % (c.r.rest, iss["id"]))


@route("GET", "/rest/api/{v}/issue/{id}/properties/{key}")
def issue_prop_get(c):
    iss = need_issue(c)
    return _prop_get(c, "issue_props", "issue_id", iss["id"], c.args["key"])


@route("PUT", "/rest/api/{v}/issue/{id}/properties/{key}")
def issue_prop_put(c):
    with c.site.st:
        iss = need_issue(c)
        if not c.site.has_perm(c.user, c.site.project(iss["project"]), "EDIT_ISSUES"):
            raise err(403, ["You do not have permission to edit issues in this project."])
        return _prop_put(c, "issue_props", "issue_id", iss["id"], c.args["key"])


@route("DELETE", "/rest/api/{v}/issue/{id}/properties/{key}")
def issue_prop_del(c):
    with c.site.st:
        iss = need_issue(c)
        if not c.site.has_perm(c.user, c.site.project(iss["project"]), "EDIT_ISSUES"):
            raise err(403, ["You do not have permission to edit issues in this project."])
        return _prop_del(c, "issue_props", "issue_id", iss["id"], c.args["key"])


@route("GET", "/rest/api/{v}/comment/{cid}/properties")
def comment_props(c):
    _iss, cm = _comment_by_id(c)
    return _props_keys(c, "comment_props", "comment_id", cm["id"], "%s/comment/%s" % (c.r.rest, cm["id"]))


@route("GET", "/rest/api/{v}/comment/{cid}/properties/{key}")
def comment_prop_get(c):
    _iss, cm = _comment_by_id(c)
    return _prop_get(c, "comment_props", "comment_id", cm["id"], c.args["key"])


@route("PUT", "/rest/api/{v}/comment/{cid}/properties/{key}")
def comment_prop_put(c):
    with c.site.st:
        _iss, cm = _comment_by_id(c)
        return _prop_put(c, "comment_props", "comment_id", cm["id"], c.args["key"])


@route("DELETE", "/rest/api/{v}/comment/{cid}/properties/{key}")
def comment_prop_del(c):
    with c.site.st:
        _iss, cm = _comment_by_id(c)
        return _prop_del(c, "comment_props", "comment_id", cm["id"], c.args["key"])


# attachments ------------------------------------------------------------------------------
def parse_multipart(ctype, raw):
    msg = BytesParser(policy=email_policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n" + raw)
    if not msg.is_multipart():
        return None
    parts = []
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        filename = part.get_filename()
        data = part.get_payload(decode=True) or b""
        parts.append((name, filename, part.get_content_type() if part.get("Content-Type") else None, data))
    return parts


@route("POST", "/rest/api/{v}/issue/{id}/attachments")
def upload(c):
    s = c.site
    if (c.headers.get("X-Atlassian-Token") or "").lower() not in ("no-check", "nocheck"):
        # Jira's XSRF filter (API-NOTES 5): plain-text 403
        raise ApiError(403, "XSRF check failed", {}, "text/plain;charset=UTF-8")
    iss = need_issue(c)
    p = s.project(iss["project"])
    att = s.cfg.get("attachments", {})
    if not att.get("enabled", True) or not s.has_perm(c.user, p, "CREATE_ATTACHMENTS"):
        raise err(403, ["You do not have permission to create attachments for this issue."])
    ctype = c.headers.get("Content-Type") or ""
    if not ctype.lower().startswith("multipart/form-data"):
        raise ApiError(415, None)
    parts = parse_multipart(ctype, c.raw) or []
    files = []
    limit = int(att.get("uploadLimit", 10485760))
    for name, filename, pctype, data in parts:
        if name != "file":
            continue            # Jira reads only the parts named "file"
        if len(data) > limit:
            msg = "The file '%s' is too large to attach. The maximum attachment size is %d bytes." % (
                filename, limit)
            # DC: 404 for an oversize file; Cloud: 413 (API-NOTES 5)
            raise err(413 if s.cloud else 404, [msg])
        import mimetypes
        mt = pctype if pctype and pctype != "application/octet-stream" else \
            (mimetypes.guess_type(filename or "")[0] or pctype or "application/octet-stream")
        files.append((filename or "attachment", mt, data))
    if not files:
        raise err(400, ["No attachments were provided."])
    if s.cloud and len(files) > 60:
        raise err(413, ["The number of attachments can't exceed 60."])
    with s.st:
        iss = s.issue_raw(iss["id"])
        out = s.add_attachments(c.user, iss, files)
    return [R.attachment(c.r, a) for a in out]


@route("GET", "/rest/api/{v}/attachment/meta")
def attachment_meta(c):
    a = c.site.cfg.get("attachments", {})
    return {"enabled": bool(a.get("enabled", True)), "uploadLimit": int(a.get("uploadLimit", 10485760))}


def _attachment(c, aid):
    a = c.site.attachment_raw(aid)
    if a is None:
        raise err(404, ["The attachment with id '%s' does not exist" % aid])
    iss = c.site.issue_raw(a["issue_id"])
    if iss is None or not c.site.can_browse(c.user, iss["project"]):
        raise err(404, ["The attachment with id '%s' does not exist" % aid])
    return iss, a


@route("GET", "/rest/api/{v}/attachment/{aid}")
def attachment_get(c):
    _iss, a = _attachment(c, c.args["aid"])
    b = R.attachment(c.r, a, numeric_id=c.site.cloud)
    if not c.site.cloud:
        b["properties"] = {}
    return b


@route("DELETE", "/rest/api/{v}/attachment/{aid}")
def attachment_del(c):
    with c.site.st:
        iss, a = _attachment(c, c.args["aid"])
        c.site.delete_attachment(c.user, iss, a)
    return Resp(204)


def _content(c, a, data):
    # RFC 6266: an ASCII fallback and the UTF-8 name in filename*; HTTP
    # header values are Latin-1, so a raw non-ASCII name cannot go there.
    name = a["filename"]
    fallback = "".join(ch if 0x20 <= ord(ch) < 0x7f and ch not in '"\\' else "_"
                       for ch in name)
    hdr = {"Content-Disposition": "attachment; filename=\"%s\"; filename*=UTF-8''%s"
           % (fallback, quote(name, safe="")),
           "Accept-Ranges": "bytes"}
    rng = c.headers.get("Range")
    m = re.match(r"^bytes=(\d*)-(\d*)$", (rng or "").strip())
    if m and (m.group(1) or m.group(2)):
        n = len(data)
        if m.group(1):
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) else n - 1
        else:
            lo = max(0, n - int(m.group(2)))
            hi = n - 1
        hi = min(hi, n - 1)
        if lo >= n or lo > hi:
            return Resp(416, b"", dict(hdr, **{"Content-Range": "bytes */%d" % n}), a["mimeType"])
        hdr["Content-Range"] = "bytes %d-%d/%d" % (lo, hi, n)
        return Resp(206, data[lo:hi + 1], hdr, a["mimeType"])
    return Resp(200, data, hdr, a["mimeType"])


# Jira serves the attachment by its id whatever the name part says, so a
# name with a '/' in it still downloads.
@route("GET", "/secure/attachment/{aid}/{filename*}", flavors=("server",))
def attachment_download_dc(c):
    _iss, a = _attachment(c, c.args["aid"])
    return _content(c, a, c.site.attachment_content(a["id"]))


@route("GET", "/rest/api/{v}/attachment/content/{aid}", flavors=("cloud",))
def attachment_download_cloud(c):
    _iss, a = _attachment(c, c.args["aid"])
    if _bool(c.p("redirect"), True):
        loc = "%s/media/file/%s/binary?token=%s" % (c.site.base_url, a["id"], c.app.media_token(a["id"]))
        return Resp(303, None, {"Location": loc})
    return _content(c, a, c.site.attachment_content(a["id"]))


@route("GET", "/media/file/{aid}/binary", flavors=("cloud",), anon=True)
def media(c):
    aid = c.args["aid"]
    if not hmac.compare_digest(c.p("token") or "", c.app.media_token(aid)):
        raise ApiError(401, {"error": "Unauthorized"})
    a = c.site.attachment_raw(aid)
    if a is None:
        raise ApiError(404, {"error": "File not found"})
    return _content(c, a, c.site.attachment_content(a["id"]))


# remote links -------------------------------------------------------------------------------
def _links(c, iss):
    return [(rid, gid, json.loads(d)) for rid, gid, d in
            c.site.st.q("SELECT id, global_id, data FROM remotelinks WHERE issue_id=? ORDER BY id", iss["id"])]


def link_bean(c, iss, rid, d):
    b = {"id": rid, "self": "%s/issue/%s/remotelink/%s" % (c.r.rest, iss["key"], rid)}
    for k in ("globalId", "application", "relationship", "object"):
        if d.get(k) is not None:
            b[k] = d[k]
    return b


def _linking_enabled(c):
    if not c.site.cfg.get("issueLinking", True):
        raise err(403, ["Issue linking is currently disabled."])


@route("GET", "/rest/api/{v}/issue/{id}/remotelink")
def remotelinks(c):
    iss = need_issue(c)
    _linking_enabled(c)
    ls = _links(c, iss)
    if c.p("globalId") is not None:
        for rid, gid, d in ls:
            if gid == c.p("globalId"):
                return link_bean(c, iss, rid, d)
        raise err(404, ["No remote link with globalId '%s' found." % c.p("globalId")])
    return [link_bean(c, iss, rid, d) for rid, gid, d in ls]


@route("GET", "/rest/api/{v}/issue/{id}/remotelink/{lid}")
def remotelink_get(c):
    iss = need_issue(c)
    _linking_enabled(c)
    for rid, gid, d in _links(c, iss):
        if str(rid) == c.args["lid"]:
            return link_bean(c, iss, rid, d)
    raise err(404, ["No remote link with id '%s' found." % c.args["lid"]])


def _validate_link(body):
    if not isinstance(body, dict):
        raise err(400, ["Invalid remote link."])
    obj = body.get("object") or {}
    errors = {}
    if not obj.get("url"):
        errors["url"] = "Missing mandatory field: url"
    if not obj.get("title"):
        errors["title"] = "Missing mandatory field: title"
    for k, v in (("globalId", body.get("globalId")), ("title", obj.get("title")),
                 ("relationship", body.get("relationship")),
                 ("application name", (body.get("application") or {}).get("name"))):
        if isinstance(v, str) and len(v) > 255:
            errors[k.split()[0]] = "The %s must be at most 255 characters long." % k
    if errors:
        raise err(400, [], errors)
    return {k: body.get(k) for k in ("globalId", "application", "relationship", "object")}


@route("POST", "/rest/api/{v}/issue/{id}/remotelink")
def remotelink_post(c):
    body = c.json()
    with c.site.st:
        iss = need_issue(c)
        _linking_enabled(c)
        if not c.site.has_perm(c.user, c.site.project(iss["project"]), "LINK_ISSUES"):
            raise err(403, ["You do not have permission to link issues."])
        d = _validate_link(body)
        existing = None
        if d.get("globalId"):
            for rid, gid, _old in _links(c, iss):
                if gid == d["globalId"]:
                    existing = rid
        if existing is not None:
            c.site.st.x("UPDATE remotelinks SET data=? WHERE id=?", json.dumps(d), existing)
            rid, status = existing, 200
        else:
            rid = c.site.st.next_free("remotelink", "remotelinks")
            c.site.st.x("INSERT INTO remotelinks(id, issue_id, global_id, data) VALUES(?,?,?,?)",
                        rid, iss["id"], d.get("globalId"), json.dumps(d))
            status = 201
        link = dict(d, id=rid)
        c.site._bump_with_items(iss, c.user, [c.site.remote_link_item(link)])
    return Resp(status, {"id": rid, "self": "%s/issue/%s/remotelink/%s" % (c.r.rest, iss["key"], rid)})


@route("PUT", "/rest/api/{v}/issue/{id}/remotelink/{lid}")
def remotelink_put(c):
    body = c.json()
    with c.site.st:
        iss = need_issue(c)
        _linking_enabled(c)
        d = _validate_link(body)
        for rid, gid, _old in _links(c, iss):
            if str(rid) == c.args["lid"]:
                c.site.st.x("UPDATE remotelinks SET data=?, global_id=? WHERE id=?", json.dumps(d),
                            d.get("globalId"), rid)
                c.site._bump_with_items(iss, c.user, [c.site.remote_link_item(dict(d, id=rid))])
                return Resp(204)
    raise err(404, ["No remote link with id '%s' found." % c.args["lid"]])


@route("DELETE", "/rest/api/{v}/issue/{id}/remotelink")
def remotelink_del_global(c):
    with c.site.st:
        iss = need_issue(c)
        _linking_enabled(c)
        g = c.p("globalId")
        if not g:
            raise err(400, ["The globalId parameter is required."])
        for rid, gid, d in _links(c, iss):
            if gid == g:
                c.site.st.x("DELETE FROM remotelinks WHERE id=?", rid)
                c.site._bump_with_items(iss, c.user, [c.site.remote_link_item(dict(d, id=rid), True)])
                return Resp(204)
    raise err(404, ["No remote link with globalId '%s' found." % g])


@route("DELETE", "/rest/api/{v}/issue/{id}/remotelink/{lid}")
def remotelink_del(c):
    with c.site.st:
        iss = need_issue(c)
        _linking_enabled(c)
        for rid, gid, d in _links(c, iss):
            if str(rid) == c.args["lid"]:
                c.site.st.x("DELETE FROM remotelinks WHERE id=?", rid)
                c.site._bump_with_items(iss, c.user, [c.site.remote_link_item(dict(d, id=rid), True)])
                return Resp(204)
    raise err(404, ["No remote link with id '%s' found." % c.args["lid"]])


# =============================================================================== /_emu/
def emu_api(app, method, path, params, raw):
    from .emu import handle
    return handle(app, method, path, params, raw)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="jira-emu", description="Jira REST emulator (tests only)")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--flavor", "--flavour", choices=["server", "cloud"], required=True)
    ap.add_argument("--state", required=True)
    ap.add_argument("--config")
    ap.add_argument("--host", default="127.0.0.1", choices=["127.0.0.1", "::1", "localhost"])
    ap.add_argument("--verbose", action="store_true")
    a = ap.parse_args(argv)
    cfg = config_mod.load(a.config, a.flavor)
    app = App(a.state, a.flavor, cfg)
    host = "127.0.0.1" if a.host == "localhost" else a.host
    if ":" in host:
        Server.address_family = socket.AF_INET6
    srv = Server((host, a.port), Handler)
    srv.app = app
    srv.verbose = a.verbose
    port = srv.server_address[1]
    hostpart = "[%s]" % host if ":" in host else host
    app.site.base_url = "http://%s:%d%s" % (hostpart, port, app.site.cfg.get("contextPath") or "")
    app.default_base = app.site.base_url
    print("jira-emu listening on http://%s:%d" % (hostpart, port), flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()
    return 0
