"""One emulated Jira site: configuration, clock, permissions and the issue model.

Every method that changes data runs inside ``with self.st:`` (one SQLite transaction
under the store's lock), so writes are serialised.
"""
import copy
import datetime as _dt
import json
import time

from . import config as config_mod
from . import render as R
from .text import cloud_normalise, adf_to_wiki
from .util import ApiError, err, not_found_issue, deep_merge, zone, from_ms

TEXT_LIMIT = 32767
TOO_LONG = "The entered text is too long. It exceeds the allowed limit of 32,767 characters."
RICH_FIELDS = ("description", "environment")
# fields a client may set through "fields"/"update" on create and edit
SETTABLE = {"summary", "description", "environment", "labels", "priority", "assignee",
            "reporter", "duedate", "components", "issuetype", "project", "parent"}
READONLY_KNOWN = {"status", "resolution", "resolutiondate", "created", "updated", "creator",
                  "votes", "watches", "comment", "attachment", "worklog", "subtasks",
                  "issuelinks", "timetracking", "fixVersions", "versions", "security",
                  "lastViewed", "progress", "aggregateprogress", "workratio"}
ALL_FIELDS_DC = ["issuetype", "timespent", "project", "fixVersions", "aggregatetimespent",
                 "resolution", "resolutiondate", "workratio", "lastViewed", "watches",
                 "created", "priority", "labels", "timeestimate",
                 "aggregatetimeoriginalestimate", "versions", "issuelinks", "assignee",
                 "updated", "status", "components", "timeoriginalestimate", "description",
                 "timetracking", "attachment", "aggregatetimeestimate", "summary", "creator",
                 "subtasks", "reporter", "aggregateprogress", "environment", "duedate",
                 "progress", "comment", "votes", "worklog"]
CLOUD_EXTRA = ["statuscategorychangedate", "issuerestriction", "security"]
NOT_NAVIGABLE = {"comment", "attachment", "worklog", "timetracking"}
FIELD_NAMES = {"issuetype": "Issue Type", "timespent": "Time Spent", "project": "Project",
               "fixVersions": "Fix Version/s", "aggregatetimespent": "\u03a3 Time Spent",
               "resolution": "Resolution", "resolutiondate": "Resolved", "workratio": "Work Ratio",
               "lastViewed": "Last Viewed", "watches": "Watchers", "created": "Created",
               "priority": "Priority", "labels": "Labels", "timeestimate": "Remaining Estimate",
               "aggregatetimeoriginalestimate": "\u03a3 Original Estimate",
               "versions": "Affects Version/s", "issuelinks": "Linked Issues",
               "assignee": "Assignee", "updated": "Updated", "status": "Status",
               "components": "Component/s", "timeoriginalestimate": "Original Estimate",
               "description": "Description", "timetracking": "Time tracking",
               "attachment": "Attachment", "aggregatetimeestimate": "\u03a3 Remaining Estimate",
               "summary": "Summary", "creator": "Creator", "subtasks": "Sub-tasks",
               "reporter": "Reporter", "aggregateprogress": "\u03a3 Progress",
               "environment": "Environment", "duedate": "Due Date", "progress": "Progress",
               "comment": "Comment", "votes": "Votes", "worklog": "Log Work",
               "statuscategorychangedate": "Status Category Changed",
               "issuerestriction": "Restrict to", "security": "Security Level",
               "parent": "Parent", "issuekey": "Key", "thumbnail": "Images"}


SCHEMA_TYPES = {
    "summary": "string", "description": "string", "environment": "string",
    "issuetype": "issuetype", "project": "project", "status": "status", "priority": "priority",
    "resolution": "resolution", "assignee": "user", "reporter": "user", "creator": "user",
    "created": "datetime", "updated": "datetime", "resolutiondate": "datetime",
    "lastViewed": "datetime", "statuscategorychangedate": "datetime", "duedate": "date",
    "labels": ("array", "string"), "components": ("array", "component"),
    "fixVersions": ("array", "version"), "versions": ("array", "version"),
    "attachment": ("array", "attachment"), "subtasks": ("array", "issuelinks"),
    "issuelinks": ("array", "issuelinks"), "comment": "comments-page", "worklog": ("array", "worklog"),
    "timespent": "number", "aggregatetimespent": "number", "timeestimate": "number",
    "aggregatetimeestimate": "number", "timeoriginalestimate": "number",
    "aggregatetimeoriginalestimate": "number", "workratio": "number", "progress": "progress",
    "aggregateprogress": "progress", "votes": "votes", "watches": "watches",
    "timetracking": "timetracking", "security": "securitylevel", "parent": "issuelink",
    "issuerestriction": "issuerestriction",
}


def field_schema(f, v=None):
    t = SCHEMA_TYPES.get(f)
    if isinstance(t, tuple):
        return {"type": t[0], "items": t[1], "system": f}
    return {"type": t or _jtype(v), "system": f}


def _jtype(v):
    return {dict: "object", list: "array", str: "string", bool: "boolean",
            type(None): "null"}.get(type(v), "number")


class Site:
    def __init__(self, store, cfg, flavor):
        self.st = store
        self.flavor = flavor
        self.cloud = flavor == "cloud"
        self.base_cfg = cfg
        self.base_url = "http://127.0.0.1"
        self.reload_config()

    # ------------------------------------------------------------------ config
    def reload_config(self):
        cfg = copy.deepcopy(self.base_cfg)
        for patch in self.st.get_meta("config_patches", [], "runtime"):
            deep_merge(cfg, config_mod._patch_keyed(patch))
        self.cfg = config_mod.normalise(cfg, self.flavor)

    def patch_config(self, patch):
        patches = self.st.get_meta("config_patches", [], "runtime")
        patches.append(patch)
        self.st.set_meta("config_patches", patches, "runtime")
        self.reload_config()

    def reset_config(self):
        self.st.set_meta("config_patches", [], "runtime")
        self.reload_config()

    def project(self, key):
        return self.cfg["projects"].get(key)

    def project_by_any(self, v):
        v = str(v)
        for p in self.cfg["projects"].values():
            if p["key"].lower() == v.lower() or p["id"] == v:
                return p
        return None

    def site_tz(self):
        return zone(self.cfg.get("timeZone"))

    # ------------------------------------------------------------------- clock
    def clock_offset_ms(self):
        return self.st.get_meta("clock_offset_ms", 0, "runtime")

    def now_ms(self):
        return int(time.time() * 1000) + self.clock_offset_ms()

    def search_lag(self):
        v = self.st.get_meta("search_lag", None, "runtime")
        return self.cfg.get("searchLagSeconds", 0) if v is None else v

    # -------------------------------------------------------------------- users
    def user(self, name):
        return self.cfg["users"].get(name)

    def user_by_account(self, acc):
        for u in self.cfg["users"].values():
            if u["accountId"] == acc:
                return u
        return None

    def user_by_email(self, email):
        for u in self.cfg["users"].values():
            if (u.get("email") or "").lower() == (email or "").lower():
                return u
        return None

    def user_by_key(self, key):
        for u in self.cfg["users"].values():
            if u["key"] == key:
                return u
        return None

    def user_ref(self, ref):
        """A user reference from a request body (DC: name/key, Cloud: accountId)."""
        if ref is None:
            return None
        if isinstance(ref, str):
            ref = {"accountId": ref} if self.cloud else {"name": ref}
        u = None
        if self.cloud:
            if "accountId" in ref:
                u = self.user_by_account(ref["accountId"])
        else:
            if "name" in ref:
                u = self.user(ref["name"])
            elif "key" in ref:
                u = self.user_by_key(ref["key"])
        return u

    def user_ident(self, name):
        """How JQL and changelog identify a user: accountId on Cloud, name on DC."""
        if name is None:
            return None
        u = self.user(name)
        if u is None:
            return name
        return u["accountId"] if self.cloud else u["name"]

    def in_group(self, user, group):
        return user is not None and group in user.get("groups", [])

    def in_role(self, user, project, role):
        if user is None or project is None:
            return False
        for m in project.get("roles", {}).get(role, []):
            if m == user["name"] or (m.startswith("group:") and self.in_group(user, m[6:])):
                return True
        return False

    def is_admin(self, user):
        return self.in_group(user, "jira-administrators")

    def has_perm(self, user, project, perm):
        if user is None:
            return False
        perm = config_mod.DEPRECATED_KEYS.get(perm, perm)
        if perm in ("ADMINISTER", "SYSTEM_ADMIN"):
            return self.is_admin(user)
        if perm in ("USER_PICKER", "CREATE_SHARED_OBJECTS", "BULK_CHANGE"):
            return True
        if project is None:
            return any(self.has_perm(user, p, perm) for p in self.cfg["projects"].values())
        grants = project.get("permissions", {}).get(perm, config_mod.DEFAULT_SCHEME.get(perm, []))
        for g in grants:
            if g == "anyone":
                return True
            kind, _, val = g.partition(":")
            if kind == "role" and self.in_role(user, project, val):
                return True
            if kind == "group" and self.in_group(user, val):
                return True
            if kind == "user" and user["name"] == val:
                return True
        return False

    def can_browse(self, user, project_key):
        return self.has_perm(user, self.project(project_key), "BROWSE_PROJECTS")

    def visible(self, user, issue, vis):
        """May ``user`` see a comment restricted by ``vis``?"""
        if not vis:
            return True
        if vis.get("type") == "group":
            return self.in_group(user, vis.get("value"))
        if vis.get("type") == "role":
            return self.in_role(user, self.project(issue["project"]), vis.get("value"))
        return False

    # --------------------------------------------------------------- lookups
    def issuetype_by(self, project, ref):
        for it in project.get("issueTypes", []):
            if ("id" in ref and str(ref["id"]) == it["id"]) or \
               ("name" in ref and ref["name"] == it["name"]):
                return it
        return None

    def status_by_name(self, project, name):
        for s in project["statuses"]:
            if s["name"] == name:
                return s
        return {"id": "1", "name": name, "category": "undefined"}

    def priority_by(self, ref):
        for p in self.cfg["priorities"]:
            if ("id" in ref and str(ref["id"]) == p["id"]) or ("name" in ref and ref["name"] == p["name"]):
                return p
        return None

    def priority_by_name(self, name):
        return None if name is None else (self.priority_by({"name": name}) or {"id": "0", "name": name})

    def resolution_by_name(self, name):
        if name is None:
            return None
        for r in self.cfg["resolutions"]:
            if r["name"] == name:
                return r
        return {"id": "0", "name": name}

    # --------------------------------------------------------------- issue store
    def _row_issue(self, row):
        return json.loads(row[0]) if row else None

    def issue_raw(self, ref):
        """By id, key (case-insensitive) or an old key of a moved issue; or None."""
        ref = str(ref)
        if ref.isdigit():
            return self._row_issue(self.st.q1("SELECT data FROM issues WHERE id=?", int(ref)))
        r = self.st.q1("SELECT data FROM issues WHERE key=?", ref.upper())
        if r:
            return self._row_issue(r)
        m = self.st.q1("SELECT issue_id FROM moved_keys WHERE key=?", ref.upper())
        if m:
            return self._row_issue(self.st.q1("SELECT data FROM issues WHERE id=?", m[0]))
        return None

    def issue_for(self, user, ref):
        """The issue if ``user`` may browse it, else 404 (as Jira answers)."""
        iss = self.issue_raw(ref)
        if iss is None or not self.can_browse(user, iss["project"]):
            raise not_found_issue()
        return iss

    def save_issue(self, iss, new=False):
        """Store an issue; keeps the version search still shows (Cloud search lag).

        A version written at ``written`` with the lag then in force (``wlag``) is visible
        to search once ``now - written >= min(wlag, current lag)``."""
        now = time.time()
        lag = float(self.search_lag() or 0)
        data = json.dumps(iss)
        if new:
            self.st.x("INSERT INTO issues(id, key, project, data, prev, written, wlag, parent) "
                      "VALUES(?,?,?,?,NULL,?,?,?)", iss["id"], iss["key"], iss["project"], data, now, lag,
                      iss.get("parent"))
            return
        row = self.st.q1("SELECT data, prev, written, wlag FROM issues WHERE id=?", iss["id"])
        prev = row[1]
        if self.indexed(row[2], row[3], now, lag):
            prev = row[0]           # the version search shows until this write is indexed
        self.st.x("UPDATE issues SET key=?, project=?, data=?, prev=?, written=?, wlag=?, parent=? WHERE id=?",
                  iss["key"], iss["project"], data, prev, now, lag, iss.get("parent"), iss["id"])

    @staticmethod
    def indexed(written, wlag, now, lag):
        eff = min(float(wlag or 0), float(lag or 0))
        return written is None or eff <= 0 or now - written >= eff

    def add_history(self, iss, user, items, meta=None, when=None):
        if not items:
            return None
        hid = self.st.next_free("history", "histories")
        h = {"id": hid, "author": user["name"] if user else None,
             "created": when or self.now_ms(), "items": items}
        if meta is not None:
            h["historyMetadata"] = meta
        self.st.x("INSERT INTO histories(id, issue_id, data) VALUES(?,?,?)", hid, iss["id"], json.dumps(h))
        return h

    def histories(self, issue_id):
        return [json.loads(r[0]) for r in
                self.st.q("SELECT data FROM histories WHERE issue_id=? ORDER BY id", issue_id)]

    def comments(self, issue_id):
        return [json.loads(r[0]) for r in
                self.st.q("SELECT data FROM comments WHERE issue_id=? ORDER BY id", issue_id)]

    def attachments(self, issue_id):
        return [json.loads(r[0]) for r in
                self.st.q("SELECT data FROM attachments WHERE issue_id=? ORDER BY id", issue_id)]

    def subtasks(self, issue_id):
        return [json.loads(d) for (d,) in
                self.st.q("SELECT data FROM issues WHERE parent=? ORDER BY id", issue_id)]

    # --------------------------------------------------------------- text rules
    def _rewrite(self):
        r = self.cfg.get("textRewrite")
        return self.cloud if r is None else bool(r)

    def norm_text(self, v):
        if v is None:
            return None
        if isinstance(v, dict):     # ADF through v3
            v = adf_to_wiki(v)
        if not isinstance(v, str):
            v = str(v)
        rewrite = self.cfg.get("textRewrite")
        if rewrite is None:
            rewrite = self.cloud
        return cloud_normalise(v) if rewrite else v

    # ------------------------------------------------------------ field values
    def _field_value(self, project, field, val, errors):
        """Turn a request value into the stored value; record errors by field."""
        if field == "summary":
            if not isinstance(val, str) or not val.strip():
                errors["summary"] = "You must specify a summary of the issue."
                return None
            if len(val) > 255:
                errors["summary"] = "Summary must be less than 255 characters."
            return val.replace("\r", "").replace("\n", " ").strip() if self._rewrite() else val
        if field in RICH_FIELDS:
            if val is not None and len(self.norm_text(val) if isinstance(val, dict) else val) > TEXT_LIMIT:
                errors[field] = TOO_LONG
            return self.norm_text(val) if val not in (None, "") else None
        if field == "labels":
            if not isinstance(val, list):
                errors["labels"] = "data was not an array"
                return []
            for lab in val:
                if not isinstance(lab, str) or " " in lab:
                    errors["labels"] = "The label '%s' contains spaces which is invalid." % lab
            return list(dict.fromkeys(val))
        if field == "priority":
            if val is None:
                return None
            p = self.priority_by(val if isinstance(val, dict) else {"name": val})
            if p is None:
                errors["priority"] = "Specify the Priority (id or name) in the proper format"
                return None
            return p["name"]
        if field in ("assignee", "reporter"):
            if val is None or (isinstance(val, dict) and (val.get("name") or val.get("accountId") or val.get("key")) in (None, "", "-1")):
                if field == "reporter":
                    errors["reporter"] = "Reporter is required."
                return None
            u = self.user_ref(val)
            if u is None:
                errors[field] = "User '%s' does not exist." % (
                    (val.get("accountId") or val.get("name") or val.get("key")) if isinstance(val, dict) else val)
                return None
            if field == "assignee" and not self.has_perm(u, project, "ASSIGNABLE_USER"):
                errors["assignee"] = "User '%s' cannot be assigned issues." % (
                    u["accountId"] if self.cloud else u["name"])
            return u["name"]
        if field == "duedate":
            if val in (None, ""):
                return None
            try:
                _dt.date.fromisoformat(val)
            except (TypeError, ValueError):
                errors["duedate"] = "Error parsing date string: %s" % val
                return None
            return val
        if field == "components":
            out = []
            for c in val or []:
                found = None
                for pc in project.get("components", []):
                    if ("id" in c and str(c["id"]) == str(pc["id"])) or ("name" in c and c["name"] == pc["name"]):
                        found = pc
                if found is None:
                    errors["components"] = "Component name '%s' is not valid" % (c.get("name") or c.get("id"))
                else:
                    out.append(found["name"])
            return out
        if field == "issuetype":
            it = self.issuetype_by(project, val if isinstance(val, dict) else {"name": val})
            if it is None:
                errors["issuetype"] = "The issue type selected is invalid."
                return None
            return it["name"]
        if field == "parent":
            if val is None:
                return None
            ref = val.get("key") or val.get("id") if isinstance(val, dict) else val
            par = self.issue_raw(ref) if ref else None
            if par is None:
                errors["parent"] = "Could not find issue by id or key."
                return None
            return par["id"]
        errors[field] = "Field '%s' is not valid for this operation." % field
        return None

    def _apply_update_ops(self, iss, project, update, errors):
        """``update`` operations (set/add/remove) -> new field values."""
        newvals = {}
        for field, ops in update.items():
            if field not in SETTABLE or field == "project":
                if field in READONLY_KNOWN:
                    errors[field] = ("Field '%s' cannot be set. It is not on the appropriate screen, "
                                     "or unknown." % field)
                else:
                    errors[field] = "Field '%s' is not valid for this operation." % field
                continue
            if not isinstance(ops, list):
                errors[field] = "data was not an array"
                continue
            cur = copy.deepcopy(iss.get(field))
            for op in ops:
                for verb, arg in op.items():
                    if verb == "set":
                        cur = self._field_value(project, field, arg, errors)
                    elif verb in ("add", "remove") and field in ("labels", "components"):
                        if field == "labels":
                            vals = [arg] if isinstance(arg, str) else []
                        else:
                            vals = self._field_value(project, field, [arg], errors) or []
                        cur = list(cur or [])
                        for v in vals:
                            if verb == "add" and v not in cur:
                                cur.append(v)
                            elif verb == "remove" and v in cur:
                                cur.remove(v)
                    else:
                        errors[field] = "Operation '%s' is not supported for field '%s'." % (verb, field)
            newvals[field] = cur
        return newvals

    def _check_body_keys(self, body, allowed, bean):
        if not isinstance(body, dict):
            raise err(400, ["Can not deserialize instance of %s out of START_ARRAY token" % bean])
        for k in body:
            if k not in allowed:
                raise ApiError(400, {"errorMessages": [
                    "Unrecognized field \"%s\" (Class %s), not marked as ignorable\n at [Source: "
                    "org.apache.catalina.connector.CoyoteInputStream@70faf7c7; line: 1, column: 2]"
                    % (k, bean)]})

    # -------------------------------------------------------------- change items
    def _item(self, field, old, new, iss=None):
        """One changelog item for ``field`` going from ``old`` to ``new`` (stored values)."""
        fid = field
        if field in ("summary", "description", "environment"):
            return {"field": field, "fieldtype": "jira", "fieldId": fid, "from": None,
                    "fromString": old, "to": None, "toString": new}
        if field == "labels":
            return {"field": "labels", "fieldtype": "jira", "fieldId": fid, "from": None,
                    "fromString": " ".join(old or []), "to": None, "toString": " ".join(new or [])}
        if field == "components":
            return {"field": "Component", "fieldtype": "jira", "fieldId": "components",
                    "from": None, "fromString": ", ".join(old or []) or None, "to": None,
                    "toString": ", ".join(new or []) or None}
        if field == "priority":
            po, pn = self.priority_by_name(old), self.priority_by_name(new)
            return {"field": "priority", "fieldtype": "jira", "fieldId": fid,
                    "from": po and po["id"], "fromString": old, "to": pn and pn["id"], "toString": new}
        if field in ("assignee", "reporter"):
            uo, un = self.user(old) if old else None, self.user(new) if new else None
            return {"field": field, "fieldtype": "jira", "fieldId": fid,
                    "from": self.user_ident(old), "fromString": uo["displayName"] if uo else old,
                    "to": self.user_ident(new), "toString": un["displayName"] if un else new}
        if field == "duedate":
            return {"field": "duedate", "fieldtype": "jira", "fieldId": fid, "from": old,
                    "fromString": old and old + " 00:00:00.0", "to": new,
                    "toString": new and new + " 00:00:00.0"}
        if field == "issuetype":
            p = self.project(iss["project"])
            io, inew = self.issuetype_by(p, {"name": old}), self.issuetype_by(p, {"name": new})
            return {"field": "issuetype", "fieldtype": "jira", "fieldId": fid,
                    "from": io and io["id"], "fromString": old, "to": inew and inew["id"], "toString": new}
        if field == "status":
            p = self.project(iss["project"])
            so, sn = self.status_by_name(p, old), self.status_by_name(p, new)
            return {"field": "status", "fieldtype": "jira", "fieldId": fid, "from": so["id"],
                    "fromString": old, "to": sn["id"], "toString": new}
        if field == "resolution":
            ro, rn = self.resolution_by_name(old), self.resolution_by_name(new)
            return {"field": "resolution", "fieldtype": "jira", "fieldId": fid,
                    "from": ro and ro["id"], "fromString": old, "to": rn and rn["id"], "toString": new}
        if field == "parent":
            po = self.issue_raw(old) if old else None
            pn = self.issue_raw(new) if new else None
            return {"field": "Parent", "fieldtype": "jira", "fieldId": "parent",
                    "from": old and str(old), "fromString": po and po["key"],
                    "to": new and str(new), "toString": pn and pn["key"]}
        return {"field": field, "fieldtype": "jira", "fieldId": fid, "from": None,
                "fromString": str(old), "to": None, "toString": str(new)}

    # ------------------------------------------------------------------ create
    def create_issue(self, user, body, r, bulk=False):
        """Validate and create; returns the new issue (raises ApiError)."""
        self._check_body_keys(body, {"fields", "update", "historyMetadata", "properties",
                                     "transition", "watchers"},
                              "com.atlassian.jira.rest.v2.issue.IssueUpdateBean")
        fields = dict(body.get("fields") or {})
        update = body.get("update") or {}
        if not fields and not update:
            raise err(400, ["one of 'fields' or 'update' required"])
        errors = {}
        pref = fields.pop("project", None)
        project = None
        if pref is not None:
            project = self.project_by_any((pref.get("key") or pref.get("id")) if isinstance(pref, dict) else pref)
        if project is None or not self.can_browse(user, project["key"]):
            raise err(400, [], {"project": "project is required" if pref is None else
                                "valid project is required"})
        if not self.has_perm(user, project, "CREATE_ISSUES"):
            raise err(400, [], {"project": "You do not have permission to create issues in this project."})
        itref = fields.pop("issuetype", None)
        it = self.issuetype_by(project, itref) if isinstance(itref, dict) else None
        if it is None:
            errors["issuetype"] = "valid issue type is required" if itref else "issue type is required"
        vals = {}
        for f, v in fields.items():
            if f in READONLY_KNOWN:
                errors[f] = "Field '%s' cannot be set. It is not on the appropriate screen, or unknown." % f
                continue
            vals[f] = self._field_value(project, f, v, errors)
        issue_stub = {"labels": [], "components": []}
        for f, v in self._apply_update_ops(issue_stub, project, {k: v for k, v in update.items()
                                                                  if k not in ("project", "issuetype")},
                                           errors).items():
            vals[f] = v
        if "summary" not in vals and "summary" not in errors:
            errors["summary"] = "You must specify a summary of the issue."
        if it is not None and it.get("subtask") and not vals.get("parent"):
            errors["parent"] = "Given parent issue does not belong to appropriate hierarchy."
        if it is not None and not it.get("subtask") and vals.get("parent") and not self.cloud:
            errors["parent"] = "Issue type is not a sub-task but parent issue key or id specified."
        props = body.get("properties") or []
        for p in props:
            if not isinstance(p, dict) or "key" not in p:
                errors["properties"] = "Property key is required."
            elif len(p["key"]) > 255:
                errors["properties"] = "The property key must not be longer than 255 characters."
            elif len(json.dumps(p.get("value"))) > 32768:
                errors["properties"] = "The property value must not be longer than 32768 characters."
        if errors:
            raise err(400, [], errors)
        now = self.now_ms()
        if "reporter" in vals and vals["reporter"] != user["name"] and \
                not self.has_perm(user, project, "MODIFY_REPORTER"):
            raise err(400, [], {"reporter": "Field 'reporter' cannot be set. It is not on the appropriate screen, or unknown."})
        num = self.st.next_seq("project:" + project["key"]) + 1
        # keep project counters monotonic past any key already taken (seeded issues)
        while self.st.q1("SELECT 1 FROM issues WHERE key=?", "%s-%d" % (project["key"], num)) or \
                self.st.q1("SELECT 1 FROM moved_keys WHERE key=?", "%s-%d" % (project["key"], num)):
            num = self.st.next_seq("project:" + project["key"]) + 1
        iid = self.st.next_free("issue", "issues")
        iss = {"id": iid, "key": "%s-%d" % (project["key"], num), "project": project["key"],
               "issuetype": it["name"], "status": project["initialStatus"],
               "priority": vals.get("priority", self.cfg.get("defaultPriority")),
               "summary": vals.get("summary"), "description": vals.get("description"),
               "environment": vals.get("environment"), "labels": vals.get("labels", []),
               "components": vals.get("components", []),
               "assignee": vals.get("assignee"), "reporter": vals.get("reporter", user["name"]),
               "creator": user["name"], "created": now, "updated": now, "resolution": None,
               "resolutiondate": None, "duedate": vals.get("duedate"), "parent": vals.get("parent"),
               "statuscategorychangedate": now, "fixVersions": [], "versions": []}
        if body.get("historyMetadata") is not None:
            iss["createHistoryMetadata"] = body["historyMetadata"]
        self.save_issue(iss, new=True)
        for p in props:
            self.st.x("INSERT OR REPLACE INTO issue_props(issue_id, k, v) VALUES(?,?,?)",
                      iid, p["key"], json.dumps(p.get("value")))
        return iss

    # -------------------------------------------------------------------- edit
    def edit_issue(self, user, iss, body, notify=True):
        self._check_body_keys(body, {"fields", "update", "historyMetadata", "properties",
                                     "transition"},
                              "com.atlassian.jira.rest.v2.issue.IssueUpdateBean")
        fields = body.get("fields") or {}
        update = body.get("update") or {}
        if not fields and not update and not body.get("properties"):
            raise err(400, ["one of 'fields' or 'update' required"])
        project = self.project(iss["project"])
        if not notify and not (self.is_admin(user) or self.has_perm(user, project, "ADMINISTER_PROJECTS")):
            raise err(403, ["To discard the user notification either admin or project admin "
                            "permissions are required."])
        if not self.has_perm(user, project, "EDIT_ISSUES"):
            raise err(403, ["You do not have permission to edit issues in this project."])
        errors = {}
        newvals = {}
        for f, v in fields.items():
            if f in update:
                errors[f] = "Field '%s' cannot be set in both 'fields' and 'update'." % f
                continue
            if f == "project":
                errors[f] = "Field 'project' cannot be set. It is not on the appropriate screen, or unknown."
                continue
            if f in READONLY_KNOWN:
                errors[f] = "Field '%s' cannot be set. It is not on the appropriate screen, or unknown." % f
                continue
            newvals[f] = self._field_value(project, f, v, errors)
        newvals.update(self._apply_update_ops(iss, project, update, errors))
        if "reporter" in newvals and not self.has_perm(user, project, "MODIFY_REPORTER"):
            errors["reporter"] = "Field 'reporter' cannot be set. It is not on the appropriate screen, or unknown."
        if errors:
            raise err(400, [], errors)
        for p in body.get("properties") or []:
            self.st.x("INSERT OR REPLACE INTO issue_props(issue_id, k, v) VALUES(?,?,?)",
                      iss["id"], p["key"], json.dumps(p.get("value")))
        self.apply_changes(iss, user, newvals, body.get("historyMetadata"))

    def apply_changes(self, iss, user, newvals, meta=None):
        """Set fields; if anything really changed: one history, ``updated`` = now."""
        items = []
        for f, v in newvals.items():
            old = iss.get(f)
            if f == "labels":
                same = sorted(old or []) == sorted(v or [])
            else:
                same = old == v
            if same:
                continue
            items.append(self._item(f, old, v, iss))
            iss[f] = v
        if not items:
            return False
        now = self.now_ms()
        iss["updated"] = now
        self.add_history(iss, user, items, meta, now)
        self.save_issue(iss)
        return True

    # ------------------------------------------------------------- transitions
    def transitions_for(self, user, iss):
        p = self.project(iss["project"])
        if not self.has_perm(user, p, "TRANSITION_ISSUES"):
            return []
        return [t for t in p["transitions"]
                if t.get("from") in (None, "*") or iss["status"] in t.get("from", [])]

    def do_transition(self, user, iss, body):
        p = self.project(iss["project"])
        tref = (body or {}).get("transition") or {}
        tid = str(tref.get("id", "")) if isinstance(tref, dict) else ""
        known = [t for t in p["transitions"] if t["id"] == tid or
                 (isinstance(tref, dict) and tref.get("name") == t["name"])]
        if not tref:
            raise err(400, ["Missing 'transition' identifier"])
        if not known:
            if self.cloud:
                raise err(400, ["Transition id '%s' is not valid for this issue." % tid])
            # DC: an unknown transition id is an internal error (API-NOTES 6)
            raise err(500, ["Internal server error"])
        t = known[0]
        if t not in self.transitions_for(user, iss):
            raise err(400, ["Transition id '%s' is not valid for this issue." % t["id"]])
        errors = {}
        newvals = {}
        project = p
        for f, v in (body.get("fields") or {}).items():
            if f == "resolution":
                newvals["resolution"] = (v or {}).get("name") if isinstance(v, dict) else v
                continue
            newvals[f] = self._field_value(project, f, v, errors)
        newvals.update(self._apply_update_ops(iss, project, {k: v for k, v in (body.get("update") or {}).items()
                                                             if k != "comment"}, errors))
        if errors:
            raise err(400, [], errors)
        st_old = self.status_by_name(p, iss["status"])
        st_new = self.status_by_name(p, t["to"])
        ordered = {"status": t["to"]}
        if st_new.get("category") == "done":
            ordered["resolution"] = newvals.pop("resolution", None) or t.get("resolution") or "Done"
        elif iss.get("resolution"):
            ordered["resolution"] = None
        ordered.update(newvals)
        changed_cat = st_old.get("category") != st_new.get("category")
        self.apply_changes(iss, user, ordered, body.get("historyMetadata"))
        if "resolution" in ordered:
            iss["resolutiondate"] = iss["updated"] if iss.get("resolution") else None
        if changed_cat:
            iss["statuscategorychangedate"] = iss["updated"]
        self.save_issue(iss)
        for c in (body.get("update") or {}).get("comment", []):
            if "add" in c:
                self.add_comment(user, iss, c["add"])

    # ---------------------------------------------------------------- comments
    def check_visibility(self, user, iss, vis):
        if not vis:
            return None
        if not isinstance(vis, dict) or vis.get("type") not in ("group", "role"):
            raise err(400, [], {"commentLevel": "Invalid role level specified."})
        t, v = vis["type"], vis.get("value") or vis.get("identifier")
        if not self.cfg.get("visibility", {}).get(t, True):
            raise err(400, [], {"commentLevel": "Group level visibility has been disabled." if t == "group"
                                else "Project Role level visibility has been disabled."})
        if t == "group":
            if v not in self.cfg.get("groups", []):
                raise err(400, [], {"commentLevel": "Group: %s does not exist." % v})
            if not self.in_group(user, v):
                raise err(400, [], {"commentLevel": "You are currently not a member of the group: %s." % v})
        else:
            p = self.project(iss["project"])
            if v not in p.get("roles", {}):
                raise err(400, [], {"commentLevel": "Invalid role level specified."})
            if not self.in_role(user, p, v):
                raise err(400, [], {"commentLevel": "You are currently not a member of the project role: %s." % v})
        out = {"type": t, "value": v}
        if self.cloud:
            # Cloud: the group's id, or the role's name [C3 Visibility.identifier]
            out["identifier"] = ("group-" + v) if t == "group" else v
        return out

    def add_comment(self, user, iss, body):
        if not self.has_perm(user, self.project(iss["project"]), "ADD_COMMENTS"):
            raise err(403, ["You do not have the permission to comment on this issue."])
        if not isinstance(body, dict) or "body" not in body or body["body"] in (None, ""):
            raise err(400, [], {"comment": "Comment body can not be empty!"})
        raw = body["body"]
        text = self.norm_text(raw)
        if len(text) > TEXT_LIMIT:
            raise err(400, [], {"comment": TOO_LONG})
        vis = self.check_visibility(user, iss, body.get("visibility"))
        now = self.now_ms()
        cid = self.st.next_free("comment", "comments")
        c = {"id": cid, "issue_id": iss["id"], "author": user["name"], "updateAuthor": user["name"],
             "body": text, "created": now, "updated": now, "visibility": vis}
        self.st.x("INSERT INTO comments(id, issue_id, data) VALUES(?,?,?)", cid, iss["id"], json.dumps(c))
        for p in body.get("properties") or []:
            if isinstance(p, dict) and "key" in p and isinstance(p.get("value"), dict):
                # DC drops a value that is not a JSON object (API-NOTES 16.2)
                self.st.x("INSERT OR REPLACE INTO comment_props(comment_id, k, v) VALUES(?,?,?)",
                          cid, p["key"], json.dumps(p["value"]))
        # comment add: updated := comment time if later; no history (API-NOTES 16.1)
        if now > iss["updated"]:
            iss["updated"] = now
        self.save_issue(iss)
        return c

    def comment_raw(self, iss, cid):
        r = self.st.q1("SELECT data FROM comments WHERE id=? AND issue_id=?", int(cid) if str(cid).isdigit() else -1, iss["id"])
        return json.loads(r[0]) if r else None

    def comment_for(self, user, iss, cid):
        c = self.comment_raw(iss, cid)
        if c is None or not self.visible(user, iss, c.get("visibility")):
            raise err(404, ["Can not find a comment for the id: %s." % cid])
        return c

    def edit_comment(self, user, iss, c, body):
        p = self.project(iss["project"])
        own = c["author"] == user["name"]
        if not (self.has_perm(user, p, "EDIT_ALL_COMMENTS") or (own and self.has_perm(user, p, "EDIT_OWN_COMMENTS"))):
            raise err(403, ["You do not have the permission to edit this comment."])
        if not isinstance(body, dict) or "body" not in body:
            raise err(400, [], {"comment": "Comment body can not be empty!"})
        text = self.norm_text(body["body"])
        if len(text) > TEXT_LIMIT:
            raise err(400, [], {"comment": TOO_LONG})
        vis = self.check_visibility(user, iss, body["visibility"]) if "visibility" in body else c.get("visibility")
        changed = text != c["body"] or vis != c.get("visibility")
        for pr in body.get("properties") or []:
            if isinstance(pr, dict) and "key" in pr and isinstance(pr.get("value"), dict):
                self.st.x("INSERT OR REPLACE INTO comment_props(comment_id, k, v) VALUES(?,?,?)",
                          c["id"], pr["key"], json.dumps(pr["value"]))
        if not changed:
            return c
        now = self.now_ms()
        c.update(body=text, visibility=vis, updated=now, updateAuthor=user["name"])
        self.st.x("UPDATE comments SET data=? WHERE id=?", json.dumps(c), c["id"])
        # comment edit: updated := now only if really changed; no history (API-NOTES 16.1)
        iss["updated"] = now
        self.save_issue(iss)
        return c

    def delete_comment(self, user, iss, c):
        p = self.project(iss["project"])
        own = c["author"] == user["name"]
        if not (self.has_perm(user, p, "DELETE_ALL_COMMENTS") or (own and self.has_perm(user, p, "DELETE_OWN_COMMENTS"))):
            raise err(403, ["You do not have the permission to delete this comment."])
        self.st.x("DELETE FROM comments WHERE id=?", c["id"])
        self.st.x("DELETE FROM comment_props WHERE comment_id=?", c["id"])
        vis = c.get("visibility")
        if vis:
            text = "A comment with security level '%s' was removed." % vis["value"]
        else:
            text = c["body"]
        item = {"field": "Comment", "fieldtype": "jira", "fieldId": "comment", "from": None,
                "fromString": text, "to": None, "toString": None}
        self._bump_with_items(iss, user, [item])

    def _bump_with_items(self, iss, user, items, meta=None):
        now = self.now_ms()
        iss["updated"] = now
        self.add_history(iss, user, items, meta, now)
        self.save_issue(iss)

    # ------------------------------------------------------------- attachments
    def add_attachments(self, user, iss, files):
        items, out = [], []
        now = self.now_ms()
        for name, ctype, data in files:
            aid = self.st.next_free("attachment", "attachments")
            a = {"id": aid, "issue_id": iss["id"], "filename": name, "author": user["name"],
                 "created": now, "size": len(data), "mimeType": ctype or "application/octet-stream"}
            self.st.x("INSERT INTO attachments(id, issue_id, data, content) VALUES(?,?,?,?)",
                      aid, iss["id"], json.dumps(a), data)
            items.append({"field": "Attachment", "fieldtype": "jira", "fieldId": "attachment",
                          "from": None, "fromString": None, "to": str(aid), "toString": name})
            out.append(a)
        if items:
            self._bump_with_items(iss, user, items)
        return out

    def attachment_raw(self, aid):
        r = self.st.q1("SELECT data FROM attachments WHERE id=?", int(aid) if str(aid).isdigit() else -1)
        return json.loads(r[0]) if r else None

    def attachment_content(self, aid):
        r = self.st.q1("SELECT content FROM attachments WHERE id=?", int(aid))
        return bytes(r[0]) if r else None

    def delete_attachment(self, user, iss, a):
        p = self.project(iss["project"])
        own = a["author"] == user["name"]
        if not (self.has_perm(user, p, "DELETE_ALL_ATTACHMENTS") or
                (own and self.has_perm(user, p, "DELETE_OWN_ATTACHMENTS"))):
            raise err(403, ["You do not have permission to delete attachment with id '%s'." % a["id"]])
        self.st.x("DELETE FROM attachments WHERE id=?", a["id"])
        self._bump_with_items(iss, user, [{"field": "Attachment", "fieldtype": "jira",
                                           "fieldId": "attachment", "from": str(a["id"]),
                                           "fromString": a["filename"], "to": None, "toString": None}])

    # ----------------------------------------------------------- remote links
    def remote_link_item(self, link, deleted=False):
        obj = link.get("object") or {}
        s = 'This issue links to "%s"' % obj.get("title")
        app = (link.get("application") or {}).get("name")
        if app:
            s = 'This issue links to "%s (%s)"' % (obj.get("title"), app)
        if deleted:
            return {"field": "RemoteIssueLink", "fieldtype": "jira", "fieldId": "RemoteIssueLink",
                    "from": str(link["id"]), "fromString": s, "to": None, "toString": None}
        return {"field": "RemoteIssueLink", "fieldtype": "jira", "fieldId": "RemoteIssueLink",
                "from": None, "fromString": None, "to": str(link["id"]), "toString": s}

    # ------------------------------------------------------------------ delete
    def delete_issue(self, user, iss, delete_subtasks=False):
        p = self.project(iss["project"])
        if not self.has_perm(user, p, "DELETE_ISSUES"):
            raise err(403, ["You do not have permission to delete issues in this project."])
        subs = self.subtasks(iss["id"])
        if subs and not delete_subtasks:
            raise err(400, ["The issue '%s' has subtasks.  You must specify the 'deleteSubtasks' "
                            "parameter to delete this issue and all its subtasks." % iss["key"]])
        for s in subs:
            self._purge(s["id"])
        self._purge(iss["id"])

    def _purge(self, iid):
        for t in ("comments", "attachments", "histories", "issue_props", "remotelinks"):
            self.st.x("DELETE FROM %s WHERE issue_id=?" % t, iid)
        self.st.x("DELETE FROM issues WHERE id=?", iid)

    # -------------------------------------------------------------------- move
    def move_issue(self, iss, target_key, issuetype=None, user=None):
        src = self.project(iss["project"])
        dst = self.project(target_key)
        if dst is None:
            raise err(400, ["Unknown project '%s'" % target_key])
        user = user or self.user("admin") or next(iter(self.cfg["users"].values()))
        it = self.issuetype_by(dst, {"name": issuetype or iss["issuetype"]})
        if it is None:
            it = [t for t in dst["issueTypes"] if not t.get("subtask")][0]
        num = self.st.next_seq("project:" + dst["key"]) + 1
        while self.st.q1("SELECT 1 FROM issues WHERE key=?", "%s-%d" % (dst["key"], num)) or \
                self.st.q1("SELECT 1 FROM moved_keys WHERE key=?", "%s-%d" % (dst["key"], num)):
            num = self.st.next_seq("project:" + dst["key"]) + 1
        old_key = iss["key"]
        new_key = "%s-%d" % (dst["key"], num)
        items = [
            {"field": "project", "fieldtype": "jira", "fieldId": "project", "from": src["id"],
             "fromString": src["name"], "to": dst["id"], "toString": dst["name"]},
            {"field": "Key", "fieldtype": "jira", "fieldId": "issuekey", "from": None,
             "fromString": old_key, "to": None, "toString": new_key},
        ]
        if it["name"] != iss["issuetype"]:
            oi = self.issuetype_by(src, {"name": iss["issuetype"]})
            items.append({"field": "issuetype", "fieldtype": "jira", "fieldId": "issuetype",
                          "from": oi and oi["id"], "fromString": iss["issuetype"],
                          "to": it["id"], "toString": it["name"]})
        if iss["status"] not in [s["name"] for s in dst["statuses"]]:
            items.append(self._item("status", iss["status"], dst["initialStatus"], iss))
            iss["status"] = dst["initialStatus"]
        self.st.x("INSERT OR REPLACE INTO moved_keys(key, issue_id) VALUES(?,?)", old_key, iss["id"])
        iss.update(key=new_key, project=dst["key"], issuetype=it["name"])
        iss.setdefault("old_keys", []).append(old_key)
        self._bump_with_items(iss, user, items)
        return iss

    # ------------------------------------------------------------------ render
    def issue_bean(self, r, iss, fields=None, expand=(), props=None, comment_cap=None,
                   changelog_cap=None, newest_first=None):
        """The issue in Jira's shape.  ``fields``: set of field ids or None for all."""
        p = self.project(iss["project"]) or {"key": iss["project"], "id": "0", "name": iss["project"],
                                             "statuses": [], "issueTypes": []}
        order = (CLOUD_EXTRA if self.cloud else []) + ALL_FIELDS_DC
        if iss.get("parent"):
            order = order + ["parent"]
        extra = iss.get("extraFields", {})
        want = [f for f in order if fields is None or f in fields]
        if fields is not None:
            want += [f for f in fields if f in extra and f not in want]
        elif extra:
            want += [f for f in extra if f not in want]
        F = {}
        for f in want:
            F[f] = self.field_value(r, iss, p, f, comment_cap)
        b = {"expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
             "id": str(iss["id"]), "self": "%s/issue/%s" % (r.rest, iss["id"]), "key": iss["key"]}
        if props:
            allp = {k: json.loads(v) for k, v in
                    self.st.q("SELECT k, v FROM issue_props WHERE issue_id=?", iss["id"])}
            sel = allp if "*all" in props else {k: v for k, v in allp.items() if k in props}
            b["properties"] = sel
        if "names" in expand:
            b["names"] = {f: FIELD_NAMES.get(f, f) for f in F}
        if "schema" in expand:
            b["schema"] = {f: field_schema(f, v) for f, v in F.items()}
        if "transitions" in expand:
            b["transitions"] = [self.transition_bean(r, p, t) for t in self.transitions_for(r.user, iss)]
        if "changelog" in expand:
            hs = self.histories(iss["id"])
            newest = self.cloud if newest_first is None else newest_first
            total = len(hs)
            if newest:
                hs = list(reversed(hs))
            if changelog_cap is not None:
                hs = hs[:changelog_cap]
            b["changelog"] = {"startAt": 0, "maxResults": len(hs), "total": total,
                              "histories": [R.history(r, h) for h in hs]}
        b["fields"] = F
        return b

    def field_value(self, r, iss, p, f, comment_cap=None):
        if f in iss.get("extraFields", {}):
            return iss["extraFields"][f]
        rest = r.rest
        if f == "summary":
            return iss.get("summary")
        if f in ("description", "environment"):
            return r.rich(iss.get(f))
        if f == "issuetype":
            it = self.issuetype_by(p, {"name": iss["issuetype"]}) or {"id": "0", "name": iss["issuetype"]}
            return R.issuetype(r, it)
        if f == "project":
            return R.project_short(r, p)
        if f == "status":
            return R.status(r, self.status_by_name(p, iss["status"]))
        if f == "priority":
            return R.priority(r, self.priority_by_name(iss.get("priority")))
        if f == "resolution":
            return R.resolution(r, self.resolution_by_name(iss.get("resolution")))
        if f in ("assignee", "reporter", "creator"):
            return R.user(r, iss.get(f))
        if f in ("created", "updated", "resolutiondate", "statuscategorychangedate", "lastViewed"):
            return r.ts(iss.get(f))
        if f == "labels":
            return list(iss.get("labels") or [])
        if f == "components":
            comps = {c["name"]: c for c in p.get("components", [])}
            return [R.component(r, comps.get(n, {"id": "0", "name": n})) for n in iss.get("components") or []]
        if f in ("fixVersions", "versions"):
            return list(iss.get(f) or [])
        if f == "duedate":
            return iss.get("duedate")
        if f in ("timespent", "aggregatetimespent", "timeestimate", "aggregatetimeoriginalestimate",
                 "timeoriginalestimate", "aggregatetimeestimate", "security"):
            return iss.get(f)
        if f == "workratio":
            return -1
        if f == "watches":
            return {"self": "%s/issue/%s/watchers" % (rest, iss["key"]), "watchCount": 0, "isWatching": False}
        if f == "votes":
            return {"self": "%s/issue/%s/votes" % (rest, iss["key"]), "votes": 0, "hasVoted": False}
        if f in ("progress", "aggregateprogress"):
            return {"progress": 0, "total": 0}
        if f == "timetracking":
            return {}
        if f == "issuelinks":
            return list(iss.get("issuelinks") or [])
        if f == "issuerestriction":
            return {"issuerestrictions": {}, "shouldDisplay": False}
        if f == "subtasks":
            out = []
            for s in self.subtasks(iss["id"]):
                sp = self.project(s["project"]) or p
                out.append({"id": str(s["id"]), "key": s["key"], "self": "%s/issue/%s" % (rest, s["id"]),
                            "fields": {"summary": s["summary"],
                                       "status": R.status(r, self.status_by_name(sp, s["status"])),
                                       "priority": R.priority(r, self.priority_by_name(s.get("priority"))),
                                       "issuetype": R.issuetype(r, self.issuetype_by(sp, {"name": s["issuetype"]})
                                                                or {"id": "0", "name": s["issuetype"]})}})
            return out
        if f == "parent":
            par = self.issue_raw(iss["parent"])
            if par is None:
                return None
            pp = self.project(par["project"]) or p
            return {"id": str(par["id"]), "key": par["key"], "self": "%s/issue/%s" % (rest, par["id"]),
                    "fields": {"summary": par["summary"],
                               "status": R.status(r, self.status_by_name(pp, par["status"])),
                               "priority": R.priority(r, self.priority_by_name(par.get("priority"))),
                               "issuetype": R.issuetype(r, self.issuetype_by(pp, {"name": par["issuetype"]})
                                                        or {"id": "0", "name": par["issuetype"]})}}
        if f == "attachment":
            return [R.attachment(r, a) for a in self.attachments(iss["id"])]
        if f == "comment":
            cs = [c for c in self.comments(iss["id"]) if self.visible(r.user, iss, c.get("visibility"))]
            total = len(cs)
            if comment_cap is not None:
                cs = cs[:comment_cap]
            b = {"comments": [R.comment(r, c, iss["id"]) for c in cs], "maxResults": len(cs),
                 "total": total, "startAt": 0}
            if self.cloud:
                b["self"] = "%s/issue/%s/comment" % (rest, iss["id"])
            return b
        if f == "worklog":
            return {"startAt": 0, "maxResults": 20 if self.cloud else 0, "total": 0, "worklogs": []}
        return None

    def transition_bean(self, r, p, t, with_fields=False):
        b = {"id": t["id"], "name": t["name"], "to": R.status(r, self.status_by_name(p, t["to"]))}
        if self.cloud:
            b.update(hasScreen=False, isGlobal=t.get("from") in (None, "*"), isInitial=False,
                     isAvailable=True, isConditional=False, isLooped=False)
        if with_fields:
            b["fields"] = {}
        return b

    # ------------------------------------------------------------- JQL support
    def jql_issue(self, iss):
        p = self.project(iss["project"]) or {"statuses": []}
        st = self.status_by_name(p, iss["status"])
        cat = R.STATUS_CATEGORIES.get(st.get("category"), R.STATUS_CATEGORIES["undefined"])["name"] \
            if hasattr(R, "STATUS_CATEGORIES") else None
        par = self.issue_raw(iss["parent"]) if iss.get("parent") else None
        return {"id": iss["id"], "key": iss["key"], "old_keys": list(iss.get("old_keys", [])),
                "project": iss["project"], "issuetype": iss["issuetype"], "status": iss["status"],
                "statusCategory": cat, "priority": iss.get("priority"),
                "labels": list(iss.get("labels") or []), "summary": iss.get("summary") or "",
                "description": iss.get("description"), "resolution": iss.get("resolution"),
                "assignee": self.user_ident(iss.get("assignee")),
                "reporter": self.user_ident(iss.get("reporter")),
                "created": from_ms(iss["created"]), "updated": from_ms(iss["updated"]),
                "parent": par["key"] if par else None}

    def all_issue_rows(self):
        return self.st.q("SELECT data, prev, written, wlag FROM issues ORDER BY id")

