"""The /_emu/ control API (tests only; ferry never calls it).  See tests/emu/README.md."""
import json
import re

from .util import ApiError, parse_ts, fmt_ts
from .text import adf_to_wiki


def _body(raw):
    if not raw:
        return {}
    try:
        return json.loads(raw.decode("utf-8"))
    except ValueError:
        raise ApiError(400, {"error": "body is not JSON"})


def handle(app, method, path, params, raw):
    from .server import Resp as SResp
    site = app.site
    st = app.store
    p = path[len("/_emu"):].rstrip("/") or "/"
    b = _body(raw) if method in ("POST", "PUT", "PATCH") else {}

    def ok(obj=None, status=200):
        return SResp(status, obj if obj is not None else {"ok": True})

    if p == "/health":
        return ok({"ok": True, "flavor": app.flavor, "baseUrl": site.base_url})
    if p == "/reset" and method == "POST":
        st.reset()
        with app.count_lock:
            app.counts.clear()
        app.faults.clear()
        if not b.get("keepRuntime"):
            st.x("DELETE FROM runtime")
            site.reload_config()
        return ok()
    # ---- request counts
    if p == "/counts":
        if method == "DELETE":
            with app.count_lock:
                app.counts.clear()
            return ok()
        with app.count_lock:
            counts = dict(app.counts)
        return ok({"counts": counts, "total": sum(counts.values())})
    # ---- faults
    if p == "/faults":
        if method == "POST":
            specs = b if isinstance(b, list) else [b]
            out = []
            for spec in specs:
                if spec.get("kind", "status") not in ("status", "rate_limit", "drop", "truncate",
                                                      "html", "latency"):
                    raise ApiError(400, {"error": "unknown fault kind %r" % spec.get("kind")})
                out.append(app.faults.add(spec))
            return ok(out if isinstance(b, list) else out[0])
        if method == "DELETE":
            app.faults.clear()
            return ok()
        return ok({"faults": list(app.faults.rules)})
    m = re.match(r"^/faults/(\d+)$", p)
    if m and method == "DELETE":
        app.faults.clear(int(m.group(1)))
        return ok()
    # ---- clock
    if p == "/clock":
        if method == "POST":
            if "offsetSeconds" in b:
                off = int(float(b["offsetSeconds"]) * 1000)
            elif "offsetMs" in b:
                off = int(b["offsetMs"])
            elif "advanceSeconds" in b:
                off = site.clock_offset_ms() + int(float(b["advanceSeconds"]) * 1000)
            elif "set" in b:
                import time
                off = parse_ts(b["set"]) - int(time.time() * 1000)
            else:
                raise ApiError(400, {"error": "give offsetSeconds, offsetMs, advanceSeconds or set"})
            st.set_meta("clock_offset_ms", off, "runtime")
        now = site.now_ms()
        return ok({"offsetMs": site.clock_offset_ms(), "now": fmt_ts(now, site.site_tz()),
                   "nowMs": now})
    # ---- search lag
    if p == "/search-lag":
        if method == "POST":
            st.set_meta("search_lag", float(b.get("seconds", 0)), "runtime")
        return ok({"seconds": site.search_lag()})
    # ---- snapshot / restore
    if p == "/snapshot" and method == "POST":
        name = b.get("name", "default")
        st.snapshot(name)
        return ok({"name": name})
    if p == "/restore" and method == "POST":
        try:
            st.restore(b.get("name", "default"))
        except KeyError:
            raise ApiError(404, {"error": "no snapshot %r" % b.get("name", "default")})
        site.reload_config()
        return ok()
    if p == "/snapshots":
        return ok({"snapshots": st.snapshots()})
    # ---- move an issue to another project (Jira does this in the UI)
    if p == "/move" and method == "POST":
        with st:
            iss = site.issue_raw(b.get("issue"))
            if iss is None:
                raise ApiError(404, {"error": "no issue %r" % b.get("issue")})
            user = site.user(b["user"]) if b.get("user") else None
            iss = site.move_issue(iss, b.get("project"), b.get("issuetype"), user)
        return ok({"id": str(iss["id"]), "key": iss["key"]})
    # ---- users, groups, roles, config
    if p == "/membership" and method == "POST":
        return ok(_membership(site, b))
    if p == "/config":
        if method == "POST":
            site.patch_config(b)
        elif method == "DELETE":
            site.reset_config()
        cfg = dict(site.cfg)
        return ok(cfg)
    if p == "/logins":
        if method == "DELETE":
            st.x("DELETE FROM runtime WHERE k LIKE 'failed:%'")
            return ok()
        return ok({k[7:]: json.loads(v) for k, v in st.q("SELECT k, v FROM runtime WHERE k LIKE 'failed:%'")})
    # ---- seeding and raw access
    if p == "/generate" and method == "POST":
        # many plain issues quickly (e.g. to test DC's 10,000-result search window)
        n = int(b.get("count", 1))
        user = site.user(b.get("user", "admin")) or site.user("admin")
        proj = b.get("project", "DEMO")
        out = []
        with st:
            for i in range(n):
                iss = site.create_issue(user, {"fields": {
                    "project": {"key": proj}, "issuetype": {"name": b.get("issuetype", "Task")},
                    "summary": b.get("summary", "generated %d") % (i + 1) if "%d" in b.get("summary", "generated %d")
                    else b.get("summary")}}, None)
                out.append(iss["key"])
        return ok({"count": n, "first": out[0] if out else None, "last": out[-1] if out else None}, 201)
    if p == "/seed" and method == "POST":
        items = b
        if isinstance(b, dict) and isinstance(b.get("issues"), list):
            items = b["issues"]
        if isinstance(items, dict):
            items = [items]
        out = []
        for j in items:
            with st:
                iss = seed_issue(site, j)
            out.append({"id": str(iss["id"]), "key": iss["key"]})
        return ok({"issues": out}, 201)
    m = re.match(r"^/issue/([^/]+)$", p)
    if m:
        iss = site.issue_raw(m.group(1))
        if iss is None:
            raise ApiError(404, {"error": "no such issue"})
        return ok(iss)
    raise ApiError(404, {"error": "unknown /_emu/ endpoint %s %s" % (method, path)})


def _membership(site, b):
    user = b.get("user")
    member = b.get("member", True)
    if user not in site.cfg["users"]:
        raise ApiError(404, {"error": "no user %r" % user})
    if b.get("group"):
        groups = list(site.cfg["users"][user].get("groups", []))
        if member and b["group"] not in groups:
            groups.append(b["group"])
        if not member and b["group"] in groups:
            groups.remove(b["group"])
        patch = {"users": {user: {"groups": groups}}}
        if b["group"] not in site.cfg.get("groups", []):
            patch["groups"] = site.cfg.get("groups", []) + [b["group"]]
        site.patch_config(patch)
        return {"user": user, "groups": groups}
    proj = site.project(b.get("project"))
    if proj is None or not b.get("role"):
        raise ApiError(400, {"error": "give group, or project and role"})
    members = list(proj.get("roles", {}).get(b["role"], []))
    if member and user not in members:
        members.append(user)
    if not member and user in members:
        members.remove(user)
    site.patch_config({"projects": {proj["key"]: {"roles": {b["role"]: members}}}})
    return {"user": user, "project": proj["key"], "role": b["role"], "members": members}


# ============================================================================ seeding
def _seed_user(site, ju, patch):
    """A user object from recorded JSON -> internal user name (created if unknown)."""
    if not ju:
        return None
    if isinstance(ju, str):
        ju = {"name": ju}
    if ju.get("accountId"):
        u = site.user_by_account(ju["accountId"])
        if u:
            return u["name"]
        name = ju.get("name") or ju["accountId"]
    else:
        name = ju.get("name") or ju.get("key")
        if name in site.cfg["users"]:
            return name
    if name in patch.setdefault("users", {}) or name in site.cfg["users"]:
        return name
    patch["users"][name] = {"displayName": ju.get("displayName", name),
                            "email": ju.get("emailAddress"), "timeZone": ju.get("timeZone", "UTC"),
                            "accountId": ju.get("accountId") or "557058:seed-" + name,
                            "key": ju.get("key") or name, "groups": ["jira-users"]}
    return name


def seed_issue(site, j):
    """Import one issue in Jira's REST JSON (v2 or v3) into the site."""
    st = site.st
    f = j.get("fields") or {}
    key = j.get("key") or "DEMO-1"
    pj = f.get("project") or {}
    pkey = pj.get("key") or key.rsplit("-", 1)[0]
    patch = {}
    proj = site.project(pkey)
    itj = f.get("issuetype") or {"name": "Task"}
    stj = f.get("status") or {"name": "Open"}
    if proj is None:
        used = {p["id"] for p in site.cfg["projects"].values()}
        pid = str(pj.get("id") or "0")
        if pid in used or pid == "0":
            pid = str(max(int(x) for x in used) + 1 if used else 10000)
        roles = {"Users": [u for u in site.cfg["users"]], "Developers": ["ferry"],
                 "Administrators": ["admin"]}
        patch.setdefault("projects", {})[pkey] = {
            "id": pid, "name": pj.get("name", pkey), "lead": "admin", "issueTypes": [],
            "statuses": [], "transitions": [], "roles": roles, "components": []}
        newp = patch["projects"][pkey]
    else:
        newp = {"issueTypes": list(proj["issueTypes"]), "statuses": list(proj["statuses"]),
                "components": list(proj.get("components", []))}
    if not any(t["name"] == itj.get("name") for t in newp["issueTypes"]):
        newp["issueTypes"].append({"id": str(itj.get("id", "1")), "name": itj.get("name", "Task"),
                                   "subtask": bool(itj.get("subtask")),
                                   "description": itj.get("description", "")})
    if not any(s["name"] == stj.get("name") for s in newp["statuses"]):
        newp["statuses"].append({"id": str(stj.get("id", "1")), "name": stj.get("name", "Open"),
                                 "category": (stj.get("statusCategory") or {}).get("key", "new")})
        if proj is None and len(newp["statuses"]) == 1:
            newp["initialStatus"] = stj.get("name", "Open")
    for comp in f.get("components") or []:
        if not any(c["name"] == comp["name"] for c in newp["components"]):
            newp["components"].append({"id": str(comp.get("id", "0")), "name": comp["name"],
                                       "description": comp.get("description", "")})
    if proj is not None:
        patch.setdefault("projects", {})[pkey] = newp
    pr = f.get("priority")
    if pr and site.priority_by({"name": pr["name"]}) is None:
        patch["priorities"] = site.cfg["priorities"] + [{"id": str(pr.get("id", "0")), "name": pr["name"]}]
    res = f.get("resolution")
    if res and not any(r["name"] == res["name"] for r in site.cfg["resolutions"]):
        patch["resolutions"] = site.cfg["resolutions"] + [{"id": str(res.get("id", "0")), "name": res["name"],
                                                           "description": res.get("description", "")}]
    reporter = _seed_user(site, f.get("reporter"), patch)
    assignee = _seed_user(site, f.get("assignee"), patch)
    creator = _seed_user(site, f.get("creator") or f.get("reporter"), patch)
    comments = ((f.get("comment") or {}).get("comments") or [])
    for c in comments:
        _seed_user(site, c.get("author"), patch)
        _seed_user(site, c.get("updateAuthor"), patch)
    for a in f.get("attachment") or []:
        _seed_user(site, a.get("author"), patch)
    hist = (j.get("changelog") or {}).get("histories") or []
    for h in hist:
        _seed_user(site, h.get("author"), patch)
    for c in comments:
        vis = c.get("visibility")
        if vis and vis.get("type") == "group" and vis.get("value") not in site.cfg.get("groups", []):
            patch["groups"] = list(dict.fromkeys(patch.get("groups", site.cfg.get("groups", [])) + [vis["value"]]))
        if vis and vis.get("type") == "role":
            roles = patch.setdefault("projects", {}).setdefault(pkey, {}).setdefault("roles", {})
            if proj is not None and vis["value"] not in proj.get("roles", {}):
                roles[vis["value"]] = ["admin"]
            elif proj is None and vis["value"] not in roles:
                roles[vis["value"]] = ["admin"]
    if patch:
        site.patch_config(patch)
    # ids and keys
    iid = int(j["id"]) if str(j.get("id", "")).isdigit() else None
    if iid is None or st.q1("SELECT 1 FROM issues WHERE id=?", iid):
        iid = st.next_seq("issue")
    elif iid > (st.get_meta("seq:issue") or 0):
        st.set_meta("seq:issue", iid)
    if st.q1("SELECT 1 FROM issues WHERE key=?", key.upper()) or "-" not in key:
        num = st.next_seq("project:" + pkey) + 1
        key = "%s-%d" % (pkey, num)
    else:
        n = int(key.rsplit("-", 1)[1]) if key.rsplit("-", 1)[1].isdigit() else 0
        if n - 1 > (st.get_meta("seq:project:" + pkey) or -1):
            st.set_meta("seq:project:" + pkey, n - 1)
    ts = lambda v: parse_ts(v) if v else None  # noqa: E731
    now = site.now_ms()
    created = ts(f.get("created")) or now
    iss = {"id": iid, "key": key.upper(), "project": pkey, "issuetype": itj.get("name", "Task"),
           "status": stj.get("name", "Open"), "priority": pr["name"] if pr else None,
           "summary": f.get("summary") or "(no summary)",
           "description": adf_to_wiki(f.get("description")),
           "environment": adf_to_wiki(f.get("environment")), "labels": list(f.get("labels") or []),
           "components": [c["name"] for c in f.get("components") or []], "assignee": assignee,
           "reporter": reporter, "creator": creator, "created": created,
           "updated": ts(f.get("updated")) or created, "resolution": res["name"] if res else None,
           "resolutiondate": ts(f.get("resolutiondate")), "duedate": f.get("duedate"),
           "parent": None, "statuscategorychangedate": ts(f.get("statuscategorychangedate")) or created,
           "lastViewed": ts(f.get("lastViewed")),
           "fixVersions": f.get("fixVersions") or [], "versions": f.get("versions") or [],
           "issuelinks": f.get("issuelinks") or []}
    for k in ("timespent", "aggregatetimespent", "timeestimate", "aggregatetimeoriginalestimate",
              "timeoriginalestimate", "aggregatetimeestimate", "security"):
        if f.get(k) is not None:
            iss[k] = f[k]
    extra = {k: v for k, v in f.items() if k.startswith("customfield_")}
    if extra:
        iss["extraFields"] = extra
    par = f.get("parent")
    if par:
        pi = site.issue_raw(par.get("key") or par.get("id"))
        iss["parent"] = pi["id"] if pi else None
    site.save_issue(iss, new=True)
    for c in comments:
        cid = int(c["id"]) if str(c.get("id", "")).isdigit() and not st.q1(
            "SELECT 1 FROM comments WHERE id=?", int(c["id"])) else st.next_seq("comment")
        if cid > (st.get_meta("seq:comment") or 0):
            st.set_meta("seq:comment", cid)
        cm = {"id": cid, "issue_id": iid, "author": _seed_user(site, c.get("author"), {}),
              "updateAuthor": _seed_user(site, c.get("updateAuthor") or c.get("author"), {}),
              "body": adf_to_wiki(c.get("body")) or "", "created": ts(c.get("created")) or created,
              "updated": ts(c.get("updated")) or ts(c.get("created")) or created,
              "visibility": c.get("visibility")}
        st.x("INSERT INTO comments(id, issue_id, data) VALUES(?,?,?)", cid, iid, json.dumps(cm))
    for a in f.get("attachment") or []:
        aid = int(a["id"]) if str(a.get("id", "")).isdigit() and not st.q1(
            "SELECT 1 FROM attachments WHERE id=?", int(a["id"])) else st.next_seq("attachment")
        if aid > (st.get_meta("seq:attachment") or 0):
            st.set_meta("seq:attachment", aid)
        size = int(a.get("size") or 0)
        am = {"id": aid, "issue_id": iid, "filename": a.get("filename", "file"),
              "author": _seed_user(site, a.get("author"), {}), "created": ts(a.get("created")) or created,
              "size": size, "mimeType": a.get("mimeType", "application/octet-stream")}
        st.x("INSERT INTO attachments(id, issue_id, data, content) VALUES(?,?,?,?)", aid, iid,
             json.dumps(am), b"\0" * size)
    for h in sorted(hist, key=lambda h: int(h["id"]) if str(h.get("id", "")).isdigit() else 0):
        hid = int(h["id"]) if str(h.get("id", "")).isdigit() and not st.q1(
            "SELECT 1 FROM histories WHERE id=?", int(h["id"])) else st.next_seq("history")
        if hid > (st.get_meta("seq:history") or 0):
            st.set_meta("seq:history", hid)
        hd = {"id": hid, "author": _seed_user(site, h.get("author"), {}),
              "created": ts(h.get("created")) or created, "items": h.get("items") or []}
        if h.get("historyMetadata") is not None:
            hd["historyMetadata"] = h["historyMetadata"]
        st.x("INSERT INTO histories(id, issue_id, data) VALUES(?,?,?)", hid, iid, json.dumps(hd))
    for k, v in (j.get("properties") or {}).items():
        st.x("INSERT OR REPLACE INTO issue_props(issue_id, k, v) VALUES(?,?,?)", iid, k, json.dumps(v))
    return iss
