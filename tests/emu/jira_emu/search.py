"""Search: Data Center's /rest/api/2/search and Cloud's enhanced /search/jql."""
import base64
import hashlib
import json
import time

from .util import ApiError, err, zone, from_ms


def _jql():
    from . import jql  # written separately; imported late so the server starts without it
    return jql


def parse_fields(spec, default):
    """``fields`` parameter -> set of field ids (None = all).  Accepts a comma string or
    a list; ``*all``, ``*navigable``, ``-x`` exclusions."""
    if spec is None or spec == "" or spec == []:
        spec = default
    if isinstance(spec, str):
        parts = [s.strip() for s in spec.split(",") if s.strip()]
    else:
        parts = [str(s).strip() for s in spec]
    from .site import ALL_FIELDS_DC, CLOUD_EXTRA, NOT_NAVIGABLE
    allf = set(ALL_FIELDS_DC) | set(CLOUD_EXTRA) | {"parent"}
    out = set()
    for p in parts:
        if p == "*all":
            out |= allf
        elif p == "*navigable":
            out |= allf - NOT_NAVIGABLE
        elif not p.startswith("-"):
            out.add(p)
    if parts and all(p.startswith("-") for p in parts):
        # only exclusions: "all (default) fields except ..." [C3 getIssue, fields]
        out = parse_fields(default, default) or set()
    for p in parts:
        if p.startswith("-"):
            out.discard(p[1:])
    return out


def _split(v):
    if v is None:
        return []
    if isinstance(v, list):
        return [str(x) for x in v]
    return [s.strip() for s in str(v).split(",") if s.strip()]


class Searcher:
    def __init__(self, site):
        self.site = site

    def context(self, user):
        jql = _jql()
        s = self.site
        known = {}
        for p in s.cfg["projects"].values():
            # an anonymous Cloud caller's query validates but finds nothing (see server.App.auth)
            if user is None or s.can_browse(user, p["key"]):
                for k in (p["key"], p["name"], p["id"]):
                    known[str(k).lower()] = p["key"]
        now = from_ms(s.now_ms(), zone(s.cfg.get("timeZone")))
        keys = {}
        for (k, iid) in s.st.q("SELECT key, id FROM issues"):
            keys[k] = k
        for (k, iid) in s.st.q("SELECT m.key, i.key FROM moved_keys m JOIN issues i ON i.id = m.issue_id"):
            keys[k] = iid
        types, statuses = set(), set()
        for p in s.cfg["projects"].values():
            types |= {t["name"] for t in p.get("issueTypes", [])}
            statuses |= {x["name"] for x in p.get("statuses", [])}
        values = {"issuetype": sorted(types), "status": sorted(statuses),
                  "priority": [p["name"] for p in s.cfg["priorities"]],
                  "resolution": [x["name"] for x in s.cfg["resolutions"]]}
        tz = zone(user.get("timeZone")) if user else zone(s.cfg.get("timeZone"))
        return jql.Context(now, tz, s.user_ident(user["name"]) if user else None, known,
                           None, known_keys=keys, known_values=values)

    def run(self, user, jql_text, reconcile=(), lagged=False, strict=True):
        """All issues matching ``jql_text`` visible to ``user``, sorted.  Returns a list of
        (issue_dict_for_rendering)."""
        jql = _jql()
        try:
            q = jql.parse(jql_text or "")
        except jql.JqlError as e:
            raise err(400, e.messages)
        ctx = self.context(user)
        try:
            jql.validate(q, ctx, strict=strict)
        except jql.JqlError as e:
            raise err(400, e.messages)
        lag = self.site.search_lag() if lagged else 0
        now = time.time()
        cands = []
        for data, prev, written, wlag in self.site.all_issue_rows():
            iss = json.loads(data)
            if not self.site.can_browse(user, iss["project"]):
                continue
            if lag and not self.site.indexed(written, wlag, now, lag) and iss["id"] not in reconcile:
                if prev is None:
                    continue          # not indexed yet: missing from search
                iss = json.loads(prev)
                if not self.site.can_browse(user, iss["project"]):
                    continue
            cands.append(iss)
        pairs = [(self.site.jql_issue(i), i) for i in cands]
        matched = []
        try:
            for d, i in pairs:
                if q.where is None or jql.matches(q, d, ctx):
                    matched.append(d)
            ordered = jql.sort(q, matched, ctx)
        except jql.JqlError as e:
            raise err(400, e.messages)
        byid = {i["id"]: i for _d, i in pairs}
        return q, [byid[d["id"]] for d in ordered]

    # ---------------------------------------------------------------- DC
    def dc_search(self, r, params):
        s = self.site
        try:
            start = int(params.get("startAt") or 0)
            maxr = int(params.get("maxResults") if params.get("maxResults") not in (None, "") else 50)
        except (TypeError, ValueError):
            raise err(400, ["The value of startAt/maxResults is not a number."])
        maxr = max(0, min(maxr, s.cfg.get("searchMaxResults", 100)))
        start = max(0, start)
        vq = str(params.get("validateQuery", "strict")).lower()
        strict = vq in ("strict", "true", "1")
        q, issues = self.run(r.user, params.get("jql") or "", strict=strict)
        total = len(issues)
        window = s.cfg.get("searchWindow", 10000)
        last_index = start + min(maxr, max(0, total - start))
        if last_index > window:
            raise err(500, ["Search limit exceeded. The result window is too large: from + size "
                            "must be less than or equal to: [%d] but was [%d]. "
                            "(jira.search.platform.max.result.window)" % (window, start + maxr)])
        page = issues[start:start + maxr]
        fields = parse_fields(params.get("fields"), "*navigable")
        expand = _split(params.get("expand"))
        props = _split(params.get("properties"))
        out = {"expand": "schema,names", "startAt": start, "maxResults": maxr, "total": total,
               "issues": [s.issue_bean(r, i, fields, [x for x in expand if x not in ("names", "schema")],
                                       props) for i in page]}
        if vq == "warn" and getattr(q, "messages", None):
            out["warningMessages"] = list(q.messages)
        if "names" in expand or "schema" in expand:
            from .site import FIELD_NAMES, field_schema
            seen = {}
            for b in out["issues"]:
                for f, v in b["fields"].items():
                    if v is not None or f not in seen:
                        seen[f] = v
            if "names" in expand:
                out["names"] = {f: FIELD_NAMES.get(f, f) for f in seen}
            if "schema" in expand:
                out["schema"] = {f: field_schema(f, v) for f, v in seen.items()}
        return out

    # ------------------------------------------------------------- Cloud
    def cloud_search(self, r, params):
        s = self.site
        jql_text = params.get("jql") or ""
        fields_spec = params.get("fields")
        fields = parse_fields(fields_spec, "id")
        id_only = fields <= {"id", "key"}
        cap = 5000 if id_only else s.cfg.get("searchMaxResults", 100)
        try:
            maxr = int(params.get("maxResults") if params.get("maxResults") not in (None, "") else 50)
        except (TypeError, ValueError):
            raise err(400, ["maxResults must be a number."])
        maxr = max(1, min(maxr, cap))
        try:
            reconcile = [int(x) for x in _split(params.get("reconcileIssues"))]
        except ValueError:
            raise err(400, ["reconcileIssues must contain numeric issue ids."])
        if len(reconcile) > 50:
            raise err(400, ["The number of reconcileIssues can't exceed 50."])
        props = _split(params.get("properties"))
        if len(props) > 5:
            raise err(400, ["The number of properties can't exceed 5."])
        jql = _jql()
        try:
            q = jql.parse(jql_text)
        except jql.JqlError as e:
            raise err(400, e.messages)
        if not getattr(q, "bounded", True):
            raise err(400, [jql.UNBOUNDED_MESSAGE])
        qhash = hashlib.sha1(("%s|%s" % (jql_text, sorted(reconcile))).encode()).hexdigest()[:12]
        start = 0
        tok = params.get("nextPageToken")
        if tok:
            try:
                t = json.loads(base64.urlsafe_b64decode(tok.encode() + b"==").decode())
                start = int(t["o"])
                if t["h"] != qhash:
                    raise ValueError
            except Exception:  # noqa: BLE001
                raise err(400, ["The provided next page token is invalid or expired."])
        _q, issues = self.run(r.user, jql_text, reconcile=set(reconcile), lagged=True)
        page = issues[start:start + maxr]
        expand = _split(params.get("expand"))
        cap20 = s.cfg.get("cloudEmbedCap", 20)
        out_issues = []
        for i in page:
            if id_only and not props and not expand:
                b = {"id": str(i["id"])}
                if "key" in fields:
                    b["key"] = i["key"]
                out_issues.append(b)
            else:
                out_issues.append(s.issue_bean(r, i, fields - {"id", "key"}, expand, props,
                                               comment_cap=cap20, changelog_cap=cap20))
        res = {"issues": out_issues}
        is_last = start + maxr >= len(issues)
        if not is_last:
            res["nextPageToken"] = base64.urlsafe_b64encode(
                json.dumps({"o": start + maxr, "h": qhash}).encode()).decode().rstrip("=")
        res["isLast"] = is_last
        return res


REMOVED_SEARCH = ("The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                  "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046")


def removed():
    return ApiError(410, {"errorMessages": [REMOVED_SEARCH]})
