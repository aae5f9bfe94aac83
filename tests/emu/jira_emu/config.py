"""Emulator configuration: the built-in default and loading/normalising a JSON file.

Internally ``users`` and ``projects`` are dicts keyed by user name / project key, so a
runtime patch (``POST /_emu/config``) can be deep-merged.  A config file may give them
as lists or as dicts.  The format is documented in tests/emu/README.md.
"""
import copy
import json
import zlib

from .util import deep_merge

PROJECT_PERMISSIONS = [
    # key, id, name, description
    ("ADD_COMMENTS", "15", "Add Comments", "Ability to comment on issues."),
    ("ADMINISTER_PROJECTS", "23", "Administer Projects", "Ability to administer a project in Jira."),
    ("ASSIGNABLE_USER", "17", "Assignable User", "Users with this permission may be assigned to issues."),
    ("ASSIGN_ISSUES", "13", "Assign Issues", "Ability to assign issues to other people."),
    ("BROWSE_PROJECTS", "10", "Browse Projects", "Ability to browse projects and the issues within them."),
    ("CLOSE_ISSUES", "18", "Close Issues", "Ability to close issues."),
    ("CREATE_ATTACHMENTS", "19", "Create Attachments", "Users with this permission may create attachments."),
    ("CREATE_ISSUES", "11", "Create Issues", "Ability to create issues."),
    ("DELETE_ALL_ATTACHMENTS", "38", "Delete All Attachments", "Users with this permission may delete all attachments."),
    ("DELETE_ALL_COMMENTS", "36", "Delete All Comments", "Ability to delete all comments made on issues."),
    ("DELETE_ISSUES", "16", "Delete Issues", "Ability to delete issues."),
    ("DELETE_OWN_ATTACHMENTS", "39", "Delete Own Attachments", "Users with this permission may delete own attachments."),
    ("DELETE_OWN_COMMENTS", "37", "Delete Own Comments", "Ability to delete own comments made on issues."),
    ("EDIT_ALL_COMMENTS", "34", "Edit All Comments", "Ability to edit all comments made on issues."),
    ("EDIT_ISSUES", "12", "Edit Issues", "Ability to edit issues."),
    ("EDIT_OWN_COMMENTS", "35", "Edit Own Comments", "Ability to edit own comments made on issues."),
    ("LINK_ISSUES", "21", "Link Issues", "Ability to link issues together and create linked issues."),
    ("MODIFY_REPORTER", "30", "Modify Reporter", "Ability to modify the reporter when creating or editing an issue."),
    ("MOVE_ISSUES", "25", "Move Issues", "Ability to move issues between projects or between workflows of the same project."),
    ("RESOLVE_ISSUES", "14", "Resolve Issues", "Ability to resolve and reopen issues."),
    ("SCHEDULE_ISSUES", "28", "Schedule Issues", "Ability to set or edit an issue's due date."),
    ("SET_ISSUE_SECURITY", "26", "Set Issue Security", "Ability to set the level of security on an issue."),
    ("TRANSITION_ISSUES", "46", "Transition Issues", "Ability to transition issues."),
    ("VIEW_VOTERS_AND_WATCHERS", "31", "View Voters and Watchers", "Ability to view the voters and watchers of an issue."),
    ("WORK_ON_ISSUES", "20", "Work On Issues", "Ability to log work done against an issue."),
]
GLOBAL_PERMISSIONS = [
    ("ADMINISTER", "0", "Administer Jira", "Ability to perform most administration functions (excluding Import & Export, SMTP Configuration, etc.)."),
    ("SYSTEM_ADMIN", "44", "Jira System Administrators", "Ability to perform all administration functions."),
    ("USER_PICKER", "27", "Browse users and groups", "Ability to select a user or group from a popup window."),
    ("CREATE_SHARED_OBJECTS", "22", "Create Shared Objects", "Ability to share dashboards and filters with other users, groups and roles."),
    ("BULK_CHANGE", "33", "Make bulk changes", "Ability to modify a collection of issues at once."),
]
# Pre-6.3 keys still reported (deprecated) by Jira [PERM]: old key -> modern key.
DEPRECATED_KEYS = {
    "BROWSE": "BROWSE_PROJECTS", "CREATE_ISSUE": "CREATE_ISSUES", "EDIT_ISSUE": "EDIT_ISSUES",
    "COMMENT_ISSUE": "ADD_COMMENTS", "CREATE_ATTACHMENT": "CREATE_ATTACHMENTS",
    "PROJECT_ADMIN": "ADMINISTER_PROJECTS", "DELETE_ISSUE": "DELETE_ISSUES",
    "LINK_ISSUE": "LINK_ISSUES", "COMMENT_EDIT_ALL": "EDIT_ALL_COMMENTS",
    "COMMENT_DELETE_ALL": "DELETE_ALL_COMMENTS", "ATTACHMENT_DELETE_ALL": "DELETE_ALL_ATTACHMENTS",
}

ALL_ROLES = ["role:Users", "role:Developers", "role:Administrators"]
DEV_ROLES = ["role:Developers", "role:Administrators"]
DEFAULT_SCHEME = {k: list(ALL_ROLES) for k, _i, _n, _d in PROJECT_PERMISSIONS}
DEFAULT_SCHEME.update({
    "ADMINISTER_PROJECTS": ["role:Administrators"],
    "EDIT_ALL_COMMENTS": list(DEV_ROLES), "DELETE_ALL_COMMENTS": list(DEV_ROLES),
    "DELETE_ALL_ATTACHMENTS": list(DEV_ROLES), "DELETE_ISSUES": list(DEV_ROLES),
    "MOVE_ISSUES": list(DEV_ROLES),
})

STATUS_CATEGORIES = {
    "new": {"id": 2, "key": "new", "colorName": "blue-gray", "name": "To Do"},
    "indeterminate": {"id": 4, "key": "indeterminate", "colorName": "yellow", "name": "In Progress"},
    "done": {"id": 3, "key": "done", "colorName": "green", "name": "Done"},
    "undefined": {"id": 1, "key": "undefined", "colorName": "medium-gray", "name": "No Category"},
}

_WORKFLOW_STATUSES = [
    {"id": "1", "name": "Open", "category": "new"},
    {"id": "3", "name": "In Progress", "category": "indeterminate"},
    {"id": "10001", "name": "Done", "category": "done"},
]
_WORKFLOW_TRANSITIONS = [
    {"id": "11", "name": "Start Progress", "from": ["Open"], "to": "In Progress"},
    {"id": "21", "name": "Done", "from": ["Open", "In Progress"], "to": "Done",
     "resolution": "Done"},
    {"id": "31", "name": "Reopen", "from": ["Done"], "to": "Open"},
    {"id": "41", "name": "Stop Progress", "from": ["In Progress"], "to": "Open"},
]

DEFAULT_CONFIG = {
    "serverTitle": "Jira",
    "version": None,            # default per flavour
    "timeZone": "UTC",          # site zone: rendering of timestamps, serverTimeZone
    "renderZone": "site",       # "site" or "user": the zone timestamps are rendered in
    "textRewrite": None,        # None: Cloud rewrites text, DC keeps it; true/false forces
    "contextPath": "",
    "basicAuthDisabled": False,
    "captchaAfter": 3,          # failed basic logins before the CAPTCHA state (server)
    "cloudAnonymousOnBadCredentials": True,   # cloud: rejected credentials = anonymous on reads
    "searchLagSeconds": 0,      # cloud: eventual consistency of search
    "searchWindow": 10000,      # server: jira.search.platform.max.result.window
    "searchMaxResults": 100,    # cap of maxResults on search
    "cloudEmbedCap": 20,        # enhanced search: embedded comments/changelog cap
    "issueLinking": True,
    "visibility": {"group": True, "role": True},
    "attachments": {"enabled": True, "uploadLimit": 10485760},
    "faultSeed": 1,
    "priorities": [
        {"id": "1", "name": "Highest"}, {"id": "2", "name": "High"},
        {"id": "3", "name": "Medium"}, {"id": "4", "name": "Low"}, {"id": "5", "name": "Lowest"},
    ],
    "defaultPriority": "Medium",
    "resolutions": [
        {"id": "10000", "name": "Done", "description": "Work has been completed on this issue."},
        {"id": "10001", "name": "Won't Do", "description": "This issue won't be actioned."},
        {"id": "10002", "name": "Duplicate", "description": "The problem is a duplicate of an existing issue."},
    ],
    "groups": ["jira-users", "jira-administrators", "jira-developers", "secret-group"],
    "users": {
        "ferry": {"key": "JIRAUSER10100", "accountId": "557058:f0e1d2c3-0000-4000-8000-000000000001",
                  "displayName": "Ferry Sync", "email": "ferry@example.com",
                  "password": "ferry-secret", "apiTokens": ["ferry-api-token"],
                  "pats": ["ferry-pat"], "timeZone": "Europe/Berlin",
                  "groups": ["jira-users", "jira-developers"]},
        "admin": {"key": "JIRAUSER10000", "accountId": "557058:f0e1d2c3-0000-4000-8000-000000000002",
                  "displayName": "Administrator", "email": "admin@example.com",
                  "password": "admin-secret", "apiTokens": ["admin-api-token"],
                  "pats": ["admin-pat"], "timeZone": "UTC",
                  "groups": ["jira-users", "jira-administrators", "secret-group"]},
        "alice": {"key": "JIRAUSER10101", "accountId": "557058:f0e1d2c3-0000-4000-8000-000000000003",
                  "displayName": "Alice Example", "email": "alice@example.com",
                  "password": "alice-secret", "apiTokens": ["alice-api-token"],
                  "pats": ["alice-pat"], "timeZone": "America/New_York",
                  "groups": ["jira-users", "jira-developers"]},
        "nobody": {"key": "JIRAUSER10102", "accountId": "557058:f0e1d2c3-0000-4000-8000-000000000004",
                   "displayName": "No Permissions", "email": "nobody@example.com",
                   "password": "nobody-secret", "apiTokens": ["nobody-api-token"],
                   "pats": ["nobody-pat"], "timeZone": "UTC", "groups": []},
    },
    "projects": {
        "DEMO": {
            "id": "10000", "name": "Demo Project", "lead": "admin",
            "description": "Project synced by ferry.",
            "issueTypes": [
                {"id": "10001", "name": "Task", "description": "A task that needs to be done."},
                {"id": "10002", "name": "Bug", "description": "A problem which impairs or prevents the functions of the product."},
                {"id": "10003", "name": "Story", "description": "Functionality or a feature expressed as a user goal."},
                {"id": "10004", "name": "Sub-task", "subtask": True, "description": "The sub-task of the issue"},
            ],
            "statuses": copy.deepcopy(_WORKFLOW_STATUSES),
            "initialStatus": "Open",
            "transitions": copy.deepcopy(_WORKFLOW_TRANSITIONS),
            "roles": {"Administrators": ["admin"], "Developers": ["ferry", "alice"],
                      "Users": ["ferry", "alice", "admin"]},
            "permissions": {},
            "components": [{"id": "10000", "name": "Backend", "description": "Server side"},
                           {"id": "10001", "name": "Frontend", "description": "User interface"}],
        },
        "OPS": {
            "id": "10001", "name": "Operations", "lead": "admin",
            "description": "Second project (different issue types).",
            "issueTypes": [
                {"id": "10001", "name": "Task", "description": "A task that needs to be done."},
                {"id": "10005", "name": "Incident", "description": "A problem in production."},
                {"id": "10004", "name": "Sub-task", "subtask": True, "description": "The sub-task of the issue"},
            ],
            "statuses": copy.deepcopy(_WORKFLOW_STATUSES),
            "initialStatus": "Open",
            "transitions": copy.deepcopy(_WORKFLOW_TRANSITIONS),
            "roles": {"Administrators": ["admin"], "Developers": ["ferry"],
                      "Users": ["ferry", "admin"]},
            "permissions": {},
            "components": [],
        },
    },
}


def _keyed(items, keyname):
    if isinstance(items, dict):
        return {k: dict(v, **{keyname: k}) for k, v in items.items()}
    out = {}
    for it in items:
        out[it[keyname]] = dict(it)
    return out


def normalise(cfg, flavor):
    cfg["flavor"] = flavor
    cfg["users"] = _keyed(cfg.get("users", {}), "name")
    cfg["projects"] = _keyed(cfg.get("projects", {}), "key")
    if not cfg.get("version"):
        cfg["version"] = "1001.0.0-SNAPSHOT" if flavor == "cloud" else "9.12.15"
    for p in cfg["projects"].values():
        p.setdefault("roles", {"Administrators": ["group:jira-administrators"],
                               "Developers": ["group:jira-developers"],
                               "Users": ["group:jira-users"]})
        p.setdefault("permissions", {})
        p.setdefault("components", [])
        p.setdefault("statuses", copy.deepcopy(_WORKFLOW_STATUSES))
        p.setdefault("transitions", copy.deepcopy(_WORKFLOW_TRANSITIONS))
        p.setdefault("initialStatus", p["statuses"][0]["name"])
        p.setdefault("description", "")
        p.setdefault("lead", None)
        for it in p.get("issueTypes", []):
            it.setdefault("subtask", False)
            it.setdefault("description", "")
    for n, u in cfg["users"].items():
        u.setdefault("key", "JIRAUSER" + str(20000 + zlib.crc32(n.encode()) % 70000))
        u.setdefault("accountId", "557058:" + n)
        u.setdefault("displayName", n)
        u.setdefault("email", n + "@example.com")
        u.setdefault("apiTokens", [])
        u.setdefault("pats", [])
        u.setdefault("timeZone", "UTC")
        u.setdefault("groups", [])
        u.setdefault("active", True)
    return cfg


def load(path, flavor):
    cfg = copy.deepcopy(DEFAULT_CONFIG)
    if path:
        with open(path, encoding="utf-8") as f:
            user = json.load(f)
        replace = user.pop("replace", [])   # top-level keys to replace rather than merge
        for k in replace:
            cfg.pop(k, None)
        for k in ("users", "projects"):
            if k in user:
                user[k] = _keyed(user[k], "name" if k == "users" else "key")
        deep_merge(cfg, user)
    return normalise(cfg, flavor)


def _patch_keyed(patch):
    """A runtime patch may give users/projects as lists; key them like the config."""
    patch = copy.deepcopy(patch)
    for k, name in (("users", "name"), ("projects", "key")):
        if isinstance(patch.get(k), list):
            patch[k] = {it[name]: it for it in patch[k]}
    return patch
