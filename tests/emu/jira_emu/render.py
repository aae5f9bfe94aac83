"""JSON beans in Jira's shapes (field names and types follow the recorded payloads in
shared/jira-reference/payloads; modern additions follow the DC 10.3 / Cloud schemas)."""
from urllib.parse import quote

from .config import STATUS_CATEGORIES
from .text import wiki_to_adf
from .util import fmt_ts

SIZES = ("48x48", "24x24", "16x16", "32x32")


class Req:
    """Who asks, through which API version, on which site."""

    def __init__(self, site, user=None, api="2"):
        self.site = site
        self.user = user
        self.api = "3" if api == "3" else "2"
        self.base = site.base_url
        self.cloud = site.cloud
        self.tz = site.site_tz()
        if site.cfg.get("renderZone") == "user" and user is not None:
            from .util import zone
            self.tz = zone(user.get("timeZone"))

    @property
    def rest(self):
        return self.base + "/rest/api/" + self.api

    def ts(self, ms):
        return fmt_ts(ms, self.tz)

    def rich(self, text):
        """A rich-text value: wiki string on v2, ADF on v3."""
        return wiki_to_adf(text) if self.api == "3" else text


def avatars(r, kind, ident):
    return {s: "%s/secure/%savatar?size=%s&avatarId=%s" % (r.base, kind, s.split("x")[0], ident)
            for s in SIZES}


def user(r, name):
    if name is None:
        return None
    u = r.site.cfg["users"].get(name) or {"name": name, "key": name, "accountId": name,
                                          "displayName": name, "email": None,
                                          "timeZone": "UTC", "active": False}
    if r.cloud:
        return {"self": "%s/user?accountId=%s" % (r.rest, quote(u["accountId"])),
                "accountId": u["accountId"], "emailAddress": u.get("email"),
                "avatarUrls": avatars(r, "user", 10122), "displayName": u["displayName"],
                "active": u.get("active", True), "timeZone": u.get("timeZone", "UTC"),
                "accountType": "atlassian"}
    return {"self": "%s/user?username=%s" % (r.rest, quote(u["name"])), "name": u["name"],
            "key": u["key"], "emailAddress": u.get("email"),
            "avatarUrls": avatars(r, "user", 10122), "displayName": u["displayName"],
            "active": u.get("active", True), "timeZone": u.get("timeZone", "UTC")}


def status_category(r, cat):
    c = STATUS_CATEGORIES.get(cat, STATUS_CATEGORIES["undefined"])
    return {"self": "%s/statuscategory/%d" % (r.rest, c["id"]), "id": c["id"], "key": c["key"],
            "colorName": c["colorName"], "name": c["name"]}


def status(r, st):
    return {"self": "%s/status/%s" % (r.rest, st["id"]), "description": st.get("description", ""),
            "iconUrl": "%s/images/icons/statuses/generic.png" % r.base, "name": st["name"],
            "id": st["id"], "statusCategory": status_category(r, st.get("category", "new"))}


def issuetype(r, it):
    b = {"self": "%s/issuetype/%s" % (r.rest, it["id"]), "id": it["id"],
         "description": it.get("description", ""),
         "iconUrl": "%s/secure/viewavatar?size=xsmall&avatarId=10318&avatarType=issuetype" % r.base,
         "name": it["name"], "subtask": bool(it.get("subtask"))}
    b["avatarId"] = 10318
    if r.cloud:
        b["hierarchyLevel"] = -1 if it.get("subtask") else 0
    return b


def priority(r, p):
    if p is None:
        return None
    return {"self": "%s/priority/%s" % (r.rest, p["id"]),
            "iconUrl": "%s/images/icons/priorities/%s.svg" % (r.base, p["name"].lower()),
            "name": p["name"], "id": p["id"]}


def resolution(r, res):
    if res is None:
        return None
    return {"self": "%s/resolution/%s" % (r.rest, res["id"]), "id": res["id"],
            "description": res.get("description", ""), "name": res["name"]}


def project_short(r, p):
    b = {"self": "%s/project/%s" % (r.rest, p["id"]), "id": p["id"], "key": p["key"],
         "name": p["name"], "projectTypeKey": "software", "avatarUrls": avatars(r, "project", 10011)}
    if r.cloud:
        b["simplified"] = False
    return b


def component(r, c):
    b = {"self": "%s/component/%s" % (r.rest, c.get("id", "0")), "id": str(c.get("id", "0")),
         "name": c["name"]}
    if c.get("description"):
        b["description"] = c["description"]
    return b


def comment(r, c, issue_id):
    b = {"self": "%s/issue/%s/comment/%s" % (r.rest, issue_id, c["id"]), "id": str(c["id"]),
         "author": user(r, c["author"]), "body": r.rich(c["body"]),
         "updateAuthor": user(r, c.get("updateAuthor") or c["author"]),
         "created": r.ts(c["created"]), "updated": r.ts(c["updated"])}
    if c.get("visibility"):
        v = dict(c["visibility"])
        b["visibility"] = v
    if r.cloud:
        b["jsdPublic"] = True
    return b


def attachment(r, a, numeric_id=False):
    aid = a["id"]
    if r.cloud:
        content = "%s/rest/api/3/attachment/content/%s" % (r.base, aid)
        thumb = "%s/rest/api/3/attachment/thumbnail/%s" % (r.base, aid)
    else:
        content = "%s/secure/attachment/%s/%s" % (r.base, aid, quote(a["filename"]))
        thumb = "%s/secure/thumbnail/%s/_thumb_%s.png" % (r.base, aid, aid)
    b = {"self": "%s/attachment/%s" % (r.rest, aid), "id": aid if numeric_id else str(aid),
         "filename": a["filename"], "author": user(r, a["author"]), "created": r.ts(a["created"]),
         "size": a["size"], "mimeType": a["mimeType"], "content": content}
    if a["mimeType"].startswith("image/"):
        b["thumbnail"] = thumb
    return b


def history(r, h):
    items = []
    for it in h["items"]:
        i = {"field": it["field"], "fieldtype": it.get("fieldtype", "jira")}
        if r.cloud:
            i["fieldId"] = it.get("fieldId", it["field"])
        for k in ("from", "fromString", "to", "toString"):
            i[k] = it.get(k)
        items.append(i)
    b = {"id": str(h["id"]), "author": user(r, h["author"]), "created": r.ts(h["created"]),
         "items": items}
    if h.get("historyMetadata") is not None:
        b["historyMetadata"] = h["historyMetadata"]
    return b
