"""The Jira client (src/jira*.c) against the emulator, through build/tools/jira-probe.

Each test checks what the client returned *and* what Jira received: the emulator's
request counts (/_emu/counts) show the fewest-calls rules (a search of N issues costs
ceil(N / page) calls, all field changes of an issue one edit, several files one upload)
and that writes which are not safe to repeat are never repeated.
"""
import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

# Not imported from conftest: with tests/emu in the same pytest run, "conftest" may be
# the emulator's own.
SRCDIR = os.environ.get("FERRY_SRCDIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.environ.get("FERRY_TOOLS") or os.path.join(SRCDIR, "build", "tools")
PATS = {"ferry": "ferry-pat", "admin": "admin-pat"}
PROBE = os.path.join(TOOLS, "jira-probe")
FAST = ["--timeout-ms", "5000", "--connect-ms", "2000", "--budget-ms", "30000",
        "--attempts", "4", "--backoff-ms", "20", "--backoff-max-ms", "100"]
# Latency tests: a timeout well below the injected delay, well above a loaded machine's.
SHORT = ["--timeout-ms", "1000"]
FLAVORS = ["server", "cloud"]


class Run:
    def __init__(self, proc, elapsed):
        self.rc = proc.returncode
        self.stderr = proc.stderr
        self.elapsed = elapsed
        lines = [json.loads(x) for x in proc.stdout.splitlines() if x.strip()]
        assert lines and "stats" in lines[-1], proc.stdout + proc.stderr
        self.cmds = lines[:-1]
        self.stats = lines[-1]["stats"]
        self.vmhwm_kb = lines[-1]["vmhwm_kb"]

    def __getitem__(self, i):
        return self.cmds[i]

    @property
    def one(self):
        assert len(self.cmds) == 1
        return self.cmds[0]

    @property
    def result(self):
        c = self.one
        assert c["ok"], c
        return c["result"]


def probe(emu, *cmds, user="ferry", secret=None, bearer=None, opts=(), verbose=False,
          fast=True, timeout=120, env_extra=None):
    """Run jira-probe with one or more commands (each a list) against emu."""
    args = [PROBE, "--url", emu.url]
    env = dict(os.environ)
    env.update(env_extra or {})
    if bearer is not None:
        args.append("--bearer")
        env["JIRA_PROBE_SECRET"] = bearer
    else:
        login, sec = emu.creds(user) if user in ("ferry", "admin", "alice", "nobody") else (user, "x")
        args += ["--user", login]
        env["JIRA_PROBE_SECRET"] = secret if secret is not None else sec
    if fast:
        args += FAST
    if verbose:
        args.append("-v")
    args += list(opts)
    for i, c in enumerate(cmds):
        if i:
            args.append("+")
        args += [str(x) for x in c]
    t0 = time.monotonic()
    p = subprocess.run(args, capture_output=True, text=True, env=env, timeout=timeout)
    # A sanitizer build (FERRY_TOOLS=build-asan/tools) reports here.
    assert "Sanitizer" not in p.stderr and "runtime error:" not in p.stderr, p.stderr
    return Run(p, time.monotonic() - t0)


def calls(emu, prefix=""):
    """Requests the emulator received, minus serverInfo probes, filtered by prefix."""
    return {k: v for k, v in emu.counts().items()
            if k.startswith(prefix) and "serverInfo" not in k}


def api_count(emu, key):
    return emu.counts().get(key, 0)


def J(obj):
    return json.dumps(obj)


def project_ref(emu):
    return {"key": "DEMO"}


def create_body(summary="An issue", **fields):
    f = {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": summary}
    f.update(fields)
    return {"fields": f}


@pytest.fixture(params=FLAVORS)
def emu(request, emulator_shared):
    e = emulator_shared(request.param)
    e.reset()
    return e


# ======================================================================== server, identity
@pytest.mark.parametrize("flavor", FLAVORS)
def test_detect_reads_flavour_version_and_server_time(emulator_shared, flavor):
    e = emulator_shared(flavor)
    e.reset()
    r = probe(e, ["detect"], ["flavor"], ["server-time"])
    d = r[0]["result"]
    assert d["flavor"] == flavor
    if flavor == "cloud":
        assert d["deploymentType"] == "Cloud" and d["version"].startswith("1001.")
    else:
        assert d["deploymentType"] != "Cloud" and d["versionNumbers"][0] >= 9
    assert r[1]["result"] == flavor
    assert abs(r[2]["result"] - e.ctl("GET", "clock")["nowMs"]) < 60000
    assert api_count(e, "GET /rest/api/2/serverInfo") == 2


def test_configured_flavour_is_not_probed(emu):
    other = "server" if emu.cloud else "cloud"
    r = probe(emu, ["search", "project = DEMO"], opts=["--flavor", emu.flavor])
    assert r.result["stats"]["issues"] == 0
    assert api_count(emu, "GET /rest/api/2/serverInfo") == 0
    # A wrong configured flavour is kept, and the wrong search fails clearly.
    r = probe(emu, ["search", "project = DEMO"], opts=["--flavor", other])
    assert not r.one["ok"] and r.one["code"] == "not-found"


def test_server_clock_set_ahead_is_what_the_client_reads(emu):
    emu.ctl("POST", "clock", {"offsetSeconds": 3600})
    t = probe(emu, ["server-time"]).result
    assert t - int(time.time() * 1000) > 3500 * 1000


def test_myself_gives_the_time_zone_used_for_jql_dates(emu):
    r = probe(emu, ["myself"], ["jql-date", "1704164645678"], ["jql-date", "1704164645678", "UTC"])
    me = r[0]["result"]
    assert me["timeZone"] == "Europe/Berlin" and me["displayName"] == "Ferry Sync"
    if emu.cloud:
        assert me["accountId"] and me["name"] is None
    else:
        assert me["name"] == "ferry" and me["key"] == "JIRAUSER10100"
    assert r[1]["result"] == '"2024-01-02 04:04"'
    assert r[2]["result"] == '"2024-01-02 03:04"'


def test_jql_date_in_the_user_zone_finds_what_jira_finds(emu):
    """An issue updated at 12:00:30 UTC is found by "updated >= <12:00 in Berlin>" (13:00)
    and not by the same wall time read as UTC, which is an hour too late."""
    emu.seed([{"key": "DEMO-1", "fields": {"summary": "tz", "project": {"key": "DEMO"},
                                           "updated": "2024-05-01T12:00:30.000+0000",
                                           "created": "2024-05-01T11:00:00.000+0000"}}])
    ms = 1714564830000  # 2024-05-01T12:00:30Z
    r = probe(emu, ["myself"], ["jql-date", ms])
    d = r[1]["result"]
    assert d == '"2024-05-01 14:00"'
    found = probe(emu, ["search", "project = DEMO AND updated >= %s" % d]).result
    assert found["keys"] == ["DEMO-1"]
    utc = probe(emu, ["jql-date", ms, "UTC"]).result
    missed = probe(emu, ["search", "project = DEMO AND updated >= %s" % utc]).result
    assert missed["keys"] == ["DEMO-1"]  # 12:00 Berlin = 10:00Z: earlier, still matches
    late = probe(emu, ["search", "project = DEMO AND updated > %d" % ms]).result
    assert late["keys"] == []            # epoch ms is exact


def test_permissions_of_the_sync_user_and_of_one_without(emu):
    r = probe(emu, ["permissions", "DEMO"])
    p = r.result
    assert p["BROWSE_PROJECTS"] and p["CREATE_ISSUES"] and p["ADD_COMMENTS"]
    assert not p["ADMINISTER_PROJECTS"]
    assert calls(emu) == {"GET /rest/api/2/mypermissions": 1}
    r = probe(emu, ["permissions", "DEMO", "BROWSE_PROJECTS,CREATE_ISSUES"], user="alice")
    p = r.result
    assert p["BROWSE_PROJECTS"] and p["CREATE_ISSUES"]
    if emu.cloud:   # Cloud answers what was asked; DC answers every permission
        assert set(p) == {"BROWSE_PROJECTS", "CREATE_ISSUES"}
    # A user who cannot browse the project does not see it at all (Jira: 404).
    r = probe(emu, ["permissions", "DEMO", "BROWSE_PROJECTS"], user="nobody")
    assert r.one["code"] == "not-found" and r.one["http"] == 404


def test_project_metadata_and_createmeta_every_page(emu):
    r = probe(emu, ["project", "DEMO"], ["statuses", "DEMO"], ["priorities"], ["fields"],
              ["createmeta-types", "DEMO"], ["createmeta-fields", "DEMO", "10001"],
              opts=["--meta-page", "2"])
    proj, statuses, prios, fields, types, cfields = [c["result"] for c in r.cmds]
    assert proj["key"] == "DEMO" and {t["name"] for t in proj["issueTypes"]} >= {"Task", "Bug"}
    assert any(s["name"] == "Open" for it in statuses for s in it["statuses"])
    assert [p["name"] for p in prios][:2] == ["Highest", "High"]
    assert any(f["id"] == "summary" for f in fields)
    assert [t["name"] for t in types] == [t["name"] for t in proj["issueTypes"]]
    assert any(f["fieldId"] == "summary" and f["required"] for f in cfields)
    c = emu.counts()
    n_types, n_fields = len(types), len(cfields)
    assert c["GET /rest/api/2/issue/createmeta/{project}/issuetypes"] == -(-n_types // 2)
    assert c["GET /rest/api/2/issue/createmeta/{project}/issuetypes/{typeid}"] \
        in (-(-n_fields // 2), -(-n_fields // 2) + 1)


# ======================================================================== search
N_SEEDED = 1000


@pytest.fixture(scope="module", params=FLAVORS)
def seeded(request, emulator_shared):
    """1,000 issues DEMO-1..DEMO-1000, 50 per second of the site's clock (bulk created:
    /_emu/seed takes ~25 s for as many); labels pick the first 1, 100 and 101."""
    e = emulator_shared(request.param, "search")
    e.reset()
    for k in range(0, N_SEEDED, 50):
        ups = []
        for i in range(k + 1, k + 51):
            labels = ["every"] + [l for l, n in (("one", 1), ("hundred", 100),
                                                 ("hundredone", 101)) if i <= n]
            ups.append(create_body("seeded %d" % i, labels=labels))
        st, body = e.rest("POST", "/rest/api/2/issue/bulk", {"issueUpdates": ups})
        assert st == 201 and len(body["issues"]) == 50, body
        # Each batch in its own second: Jira compares dates in whole seconds.
        e.ctl("POST", "clock", {"advanceSeconds": 1})
    return e


@pytest.mark.parametrize("label,n", [("none", 0), ("one", 1), ("hundred", 100),
                                     ("hundredone", 101), ("every", 1000)])
def test_search_of_n_issues_costs_ceil_n_over_page_calls(seeded, label, n):
    e = seeded
    e.clear_counts()
    r = probe(e, ["search", "project = DEMO AND labels = %s" % label, "--fields", "summary"],
              opts=["--flavor", e.flavor])
    res = r.result
    page = 100  # the emulator's cap (searchMaxResults); the client asks for more
    assert res["stats"]["issues"] == n
    assert res["keys"] == ["DEMO-%d" % i for i in range(1, n + 1)]
    key = "POST /rest/api/3/search/jql" if e.cloud else "POST /rest/api/2/search"
    assert e.counts() == {key: max(1, -(-n // page))}
    assert res["stats"]["calls"] == max(1, -(-n // page))
    assert sum(p["count"] for p in res["pages"]) == n
    assert res["pages"][-1]["last"]
    if not e.cloud:
        assert res["stats"]["pageSize"] == page
        assert all(p["total"] == n for p in res["pages"])


def test_search_stops_when_the_callback_says_so(seeded):
    e = seeded
    e.clear_counts()
    r = probe(e, ["search", "project = DEMO", "--stop-after", "2"], opts=["--flavor", e.flavor])
    assert not r.one["ok"] and "stopped by the callback" in r.one["error"]
    assert sum(e.counts().values()) == 2


@pytest.mark.parametrize("seeded", ["server"], indirect=True)
def test_dc_search_pages_past_the_result_window_by_an_updated_bound(seeded):
    e = seeded
    e.patch_config({"searchWindow": 250})
    try:
        e.clear_counts()
        r = probe(e, ["search", "project = DEMO"], opts=["--window", "250"])
        res = r.result
        assert res["stats"]["issues"] == 1000 and res["stats"]["windows"] >= 3
        assert res["keys"] == ["DEMO-%d" % i for i in range(1, 1001)]
        # Each new window repeats the last issue of the one before (skipped): a few more
        # calls than ceil(1000/100), far fewer than re-reading.
        assert 10 <= e.counts()["POST /rest/api/2/search"] <= 10 + 2 * res["stats"]["windows"]
        # Without the bound, the same search hits Jira's window error.
        st, body = e.rest("POST", "/rest/api/2/search", {"jql": "project = DEMO",
                                                         "startAt": 300, "maxResults": 100})
        assert st == 500 and "Search limit exceeded" in json.dumps(body)
    finally:
        e.patch_config({"searchWindow": 10000})


@pytest.mark.parametrize("seeded", ["server"], indirect=True)
def test_dc_search_refuses_a_window_filled_within_one_second(seeded):
    """50 issues share each second; a window of 40 cannot move its bound past them."""
    e = seeded
    e.patch_config({"searchWindow": 40})
    try:
        r = probe(e, ["search", "project = DEMO"], opts=["--window", "40"])
        assert r.one["code"] == "limit" and "within one second" in r.one["error"]
    finally:
        e.patch_config({"searchWindow": 10000})


def test_search_reads_selected_fields_and_changelog(emu):
    k = emu.rest("POST", "/rest/api/2/issue", create_body("before"))[1]["key"]
    emu.rest("PUT", "/rest/api/2/issue/" + k, {"fields": {"summary": "after"}})
    r = probe(emu, ["search", "key = %s" % k, "--fields", "summary,labels", "--changelog",
                    "--full"])
    it = r.result["items"][0]
    assert it["fields"]["summary"] == "after"
    assert "labels" in it["fields"] and "description" not in it["fields"]
    items = [i for h in it["changelog"]["histories"] for i in h["items"]]
    assert any(i["field"] == "summary" and i["toString"] == "after" for i in items)


def test_an_in_doubt_create_is_found_by_its_stamp(emu):
    """What apply does after FERRY_EINDOUBT: search a bounded window, read the stamp
    inline (a property, not JQL: property JQL needs an app's index)."""
    emu.fault(route="/rest/api/2/issue", method="POST", kind="drop", after=True)
    body = create_body("stamped")
    body["properties"] = [{"key": "ferry.op", "value": {"op": "alpha-42"}}]
    r = probe(emu, ["create", J(body)])
    assert r.one["code"] == "in-doubt"
    found = probe(emu, ["search", "project = DEMO AND updated >= -10m", "--properties",
                        "ferry.op", "--fields", "summary", "--full"]).result["items"]
    stamped = [i for i in found if (i.get("properties") or {}).get("ferry.op") ==
               {"op": "alpha-42"}]
    assert len(stamped) == 1 and stamped[0]["fields"]["summary"] == "stamped"
    assert calls(emu, "POST /rest/api/2/issue") == {"POST /rest/api/2/issue": 1}


def test_cloud_search_lag_is_bridged_by_reconcile_ids(emulator_shared):
    e = emulator_shared("cloud")
    e.reset()
    e.ctl("POST", "search-lag", {"seconds": 300})
    new = e.rest("POST", "/rest/api/2/issue", create_body("just written"))[1]
    plain = probe(e, ["search", "project = DEMO"]).result
    assert new["key"] not in plain["keys"]
    rec = probe(e, ["search", "project = DEMO", "--reconcile", new["id"]]).result
    assert rec["keys"] == [new["key"]]


# ======================================================================== issues
def test_issue_create_get_edit_delete_with_fewest_calls(emu):
    body = create_body("Créé ✓ 漢字 🚀", labels=["a"], description="x" * 20000)
    body["properties"] = [{"key": "ferry.origin", "value": {"site": "alpha", "op": 7}}]
    r = probe(emu, ["create", J(body)])
    created = r.result
    k = created["key"]
    assert created["id"].isdigit() and k.startswith("DEMO-")
    assert calls(emu) == {"POST /rest/api/2/issue": 1}
    emu.clear_counts()
    edit = {"fields": {"summary": "edited", "description": "d" * 30000},
            "update": {"labels": [{"add": "b"}, {"remove": "a"}],
                       "priority": [{"set": {"name": "High"}}]},
            "historyMetadata": {"type": "ferry", "description": "from alpha bundle 7"}}
    r = probe(emu, ["edit", k, J(edit)], ["get", k, "summary,labels,priority,description", "",
                                         "ferry.origin"], ["prop-get", "issue", k, "ferry.origin"])
    assert r[0]["ok"]
    got = r[1]["result"]
    assert got["fields"]["summary"] == "edited"
    assert got["fields"]["labels"] == ["b"] and got["fields"]["priority"]["name"] == "High"
    assert len(got["fields"]["description"]) == 30000
    assert r[2]["result"] == {"site": "alpha", "op": 7}
    c = calls(emu)
    assert c["PUT /rest/api/2/issue/{id}"] == 1 and c["GET /rest/api/2/issue/{id}"] == 1
    r = probe(emu, ["delete", k], ["get", k])
    assert r[0]["ok"] and r[1]["code"] == "not-found" and r[1]["http"] == 404


def test_known_issues_are_read_in_bulk_and_deleted_ones_left_out(emu):
    made = [probe(emu, ["create", J(create_body("r%d" % i))]).result for i in range(5)]
    probe(emu, ["delete", made[4]["key"]])
    emu.clear_counts()
    want = [made[0]["id"], made[1]["key"], made[2]["id"]]
    r = probe(emu, ["read", ",".join(want), "--fields", "summary"])
    assert sorted(r.result["keys"]) == sorted(m["key"] for m in made[:3])
    assert {i["fields"]["summary"] for i in r.result["items"]} == {"r0", "r1", "r2"}
    key = "POST /rest/api/3/issue/bulkfetch" if emu.cloud else "POST /rest/api/2/search"
    assert calls(emu) == {key: 1}
    # One of them deleted, named by id: left out.
    emu.clear_counts()
    r = probe(emu, ["read", ",".join(want + [made[4]["id"]]), "--fields", "summary"])
    assert sorted(r.result["keys"]) == sorted(m["key"] for m in made[:3])
    assert calls(emu) == {key: 1}
    # Named by key: Cloud leaves it out; DC's JQL fails on it, then one GET each.
    emu.clear_counts()
    r = probe(emu, ["read", ",".join(want + [made[4]["key"]]), "--fields", "summary"])
    assert sorted(r.result["keys"]) == sorted(m["key"] for m in made[:3])
    if emu.cloud:
        assert calls(emu) == {"POST /rest/api/3/issue/bulkfetch": 1}
    else:
        assert calls(emu) == {"POST /rest/api/2/search": 1, "GET /rest/api/2/issue/{id}": 4}


def test_issue_unicode_round_trips_and_too_long_text_is_refused(emu):
    s = "Ünïcødé ✓ 漢字 🚀 \"quotes\" \\ back"
    k = probe(emu, ["create", J(create_body(s))]).result["key"]
    got = probe(emu, ["get", k, "summary"]).result
    assert got["fields"]["summary"] == s
    r = probe(emu, ["edit", k, J({"fields": {"description": "y" * 32768}})],
              ["edit", k, J({"fields": {"summary": "s" * 256}})])
    assert r[0]["code"] == "refused" and r[0]["http"] == 400
    assert "32,767" in r[0]["error"] and "description" in r[0]["error"]
    assert r[1]["code"] == "refused" and "summary" in r[1]["error"]
    # Jira's per-field errors and messages both come through.
    r = probe(emu, ["edit", k, J({"fields": {"nosuchfield": 1}})])
    assert "nosuchfield" in r.one["error"]


def test_bulk_create_partial_and_total_failure(emu):
    good = [create_body("bulk %d" % i) for i in range(3)]
    bad = {"fields": {"summary": "no project", "issuetype": {"name": "Task"}}}
    r = probe(emu, ["bulk", J(good[:2] + [bad] + good[2:])])
    res = r.result
    assert len(res["issues"]) == 3
    assert [e["failedElementNumber"] for e in res["errors"]] == [2]
    assert calls(emu) == {"POST /rest/api/2/issue/bulk": 1}
    r = probe(emu, ["bulk", J([bad, bad])])
    assert r.one["code"] == "refused" and "issue 1: " in r.one["error"]
    assert [e["failedElementNumber"] for e in r.one["result"]["errors"]] == [0, 1]


def test_bulk_create_sends_fifty_per_request(emu):
    emu.clear_counts()
    r = probe(emu, ["bulk", J([create_body("b%d" % i) for i in range(120)])])
    assert len(r.result["issues"]) == 120
    assert calls(emu) == {"POST /rest/api/2/issue/bulk": 3}


def test_transitions_list_and_perform(emu):
    k = probe(emu, ["create", J(create_body("t"))]).result["key"]
    r = probe(emu, ["transitions", k, "fields"])
    ts = {t["name"]: t["id"] for t in r.result}
    assert "Start Progress" in ts
    r = probe(emu, ["transition", k, J({"transition": {"id": ts["Start Progress"]}})],
              ["get", k, "status"])
    assert r[0]["ok"] and r[1]["result"]["fields"]["status"]["name"] == "In Progress"
    r = probe(emu, ["transition", k, J({"transition": {"id": "99999"}})])
    assert not r.one["ok"] and r.one["code"] in ("refused", "in-doubt")


def test_changelog_every_page(emu):
    k = probe(emu, ["create", J(create_body("c0"))]).result["key"]
    for i in range(1, 6):
        emu.rest("PUT", "/rest/api/2/issue/" + k, {"fields": {"summary": "c%d" % i}})
    emu.clear_counts()
    r = probe(emu, ["changelog", k], opts=["--meta-page", "2"])
    hs = r.result["items"]
    tos = [i["toString"] for h in hs for i in h["items"] if i["field"] == "summary"]
    assert tos == ["c1", "c2", "c3", "c4", "c5"]
    if emu.cloud:
        assert calls(emu) == {"GET /rest/api/3/issue/{id}/changelog": 3}
    else:
        assert calls(emu) == {"GET /rest/api/2/issue/{id}": 1}


def test_changelogs_of_several_issues_in_one_call_on_cloud(emu):
    made = [probe(emu, ["create", J(create_body("m%d" % i))]).result for i in range(3)]
    for i, m in enumerate(made):
        for v in range(i + 1):
            emu.rest("PUT", "/rest/api/2/issue/" + m["key"], {"fields": {"summary": "v%d" % v}})
    emu.clear_counts()
    r = probe(emu, ["changelogs", ",".join(m["id"] for m in made)])
    per = {}
    for it in r.result["items"]:
        per.setdefault(it["issueId"], []).extend(it["changeHistories"])
    assert [len(per[m["id"]]) for m in made] == [1, 2, 3]
    if emu.cloud:
        assert calls(emu) == {"POST /rest/api/3/changelog/bulkfetch": 1}
    else:   # Data Center has no bulk form
        assert calls(emu) == {"GET /rest/api/2/issue/{id}": 3}


# ======================================================================== comments
def test_comments_paged_add_edit_delete_and_visibility_kept(emu):
    k = probe(emu, ["create", J(create_body("comments"))]).result["key"]
    restricted = {"body": "for developers only", "visibility": {"type": "role",
                                                                "value": "Developers"},
                  "properties": [{"key": "ferry.stamp", "value": {"op": 1}}]}
    r = probe(emu, ["comment-add", k, J(restricted)],
              *[["comment-add", k, J({"body": "c%d ✓" % i})] for i in range(4)])
    cid = r[0]["result"]["id"]
    assert r[0]["result"]["visibility"] == {"type": "role", "value": "Developers"} or \
        r[0]["result"]["visibility"]["value"] == "Developers"
    emu.clear_counts()
    r = probe(emu, ["comments", k, "properties"], opts=["--meta-page", "2"])
    cs = r.result["items"]
    assert [c["body"] for c in cs] == ["for developers only", "c0 ✓", "c1 ✓", "c2 ✓", "c3 ✓"]
    assert calls(emu) == {"GET /rest/api/2/issue/{id}/comment": 3}
    assert probe(emu, ["prop-get", "comment", cid, "ferry.stamp"]).result == {"op": 1}
    edited = {"body": "edited", "visibility": {"type": "role", "value": "Developers"}}
    r = probe(emu, ["comment-edit", k, cid, J(edited)])
    assert r.result["body"] == "edited" and r.result["visibility"]["value"] == "Developers"
    # Someone outside the role does not see it at all.
    st, body = emu.rest("GET", "/rest/api/2/issue/%s/comment" % k, user="admin")
    r = probe(emu, ["comment-delete", k, cid], ["comments", k])
    assert r[0]["ok"] and len(r[1]["result"]["items"]) == 4


def test_comment_restricted_to_a_missing_group_is_refused(emu):
    k = probe(emu, ["create", J(create_body("vis"))]).result["key"]
    r = probe(emu, ["comment-add", k, J({"body": "x", "visibility": {"type": "group",
                                                                     "value": "no-such-group"}})])
    assert r.one["code"] == "refused" and r.one["http"] == 400


# ======================================================================== properties, links
def test_entity_properties_on_issues_and_comments(emu):
    k = probe(emu, ["create", J(create_body("props"))]).result["key"]
    cid = probe(emu, ["comment-add", k, J({"body": "c"})]).result["id"]
    big = {"text": "é" * 1000, "n": [1, 2, 3]}
    r = probe(emu, ["prop-set", "issue", k, "ferry.x", J(big)],
              ["prop-get", "issue", k, "ferry.x"], ["prop-keys", "issue", k],
              ["prop-delete", "issue", k, "ferry.x"], ["prop-get", "issue", k, "ferry.x"],
              ["prop-set", "comment", cid, "ferry.c", J({"a": 1})],
              ["prop-get", "comment", cid, "ferry.c"], ["prop-delete", "comment", cid, "ferry.c"])
    assert r[1]["result"] == big
    assert [x["key"] for x in r[2]["result"]] == ["ferry.x"]
    assert r[3]["ok"] and r[4]["code"] == "not-found"
    assert r[6]["result"] == {"a": 1} and r[7]["ok"]


def test_remote_links_upsert_by_global_id(emu):
    k = probe(emu, ["create", J(create_body("links"))]).result["key"]
    link = {"globalId": "ferry:beta:10042", "object": {"url": "https://beta/browse/B-1",
                                                        "title": "B-1 (twin)"}}
    r = probe(emu, ["link-put", k, J(link)], ["link-put", k, J(dict(link, object={
        "url": "https://beta/browse/B-2", "title": "B-2"}))], ["links", k],
        ["links", k, "ferry:beta:10042"])
    assert r[0]["result"]["id"] == r[1]["result"]["id"]
    assert len(r[2]["result"]) == 1 and r[3]["result"]["object"]["title"] == "B-2"
    r = probe(emu, ["link-delete", k, "global", "ferry:beta:10042"], ["links", k])
    assert r[0]["ok"] and r[1]["result"] == []
    r = probe(emu, ["link-put", k, J({"object": {"title": "no url"}})])
    assert r.one["code"] == "refused" and "url" in r.one["error"]


# ======================================================================== attachments
NAMES = ["with space.txt", 'quo"ted\'.txt', "naïve ✓ 漢字.txt", "dir/sub\\file.txt", "empty.bin"]


def test_attachments_several_in_one_upload_names_and_content_round_trip(emu, tmp_path):
    k = probe(emu, ["create", J(create_body("files"))]).result["key"]
    files = []
    for i, name in enumerate(NAMES):
        p = tmp_path / ("f%d" % i)
        p.write_bytes(b"" if name == "empty.bin" else (name.encode() + bytes(range(256))) * 50)
        files.append((p, name))
    emu.clear_counts()
    r = probe(emu, ["upload", k] + ["%s=%s" % (p, n) for p, n in files])
    got = r.result
    assert [a["filename"] for a in got] == NAMES
    assert calls(emu) == {"POST /rest/api/2/issue/{id}/attachments": 1}
    for (p, name), a in zip(files, got):
        out = tmp_path / ("out-" + a["id"])
        r = probe(emu, ["att-meta", a["id"]], ["download", a["id"], str(out)])
        assert r[0]["result"]["filename"] == name and r[0]["result"]["size"] == p.stat().st_size
        assert r[1]["ok"], (name, r[1])
        assert r[1]["result"]["size"] == p.stat().st_size
        assert out.read_bytes() == p.read_bytes()
    r = probe(emu, ["att-delete", got[0]["id"]], ["att-meta", got[0]["id"]])
    assert r[0]["ok"] and r[1]["code"] == "not-found"


def test_dc_download_of_a_name_with_a_slash(emulator_shared, tmp_path):
    e = emulator_shared("server")
    e.reset()
    k = probe(e, ["create", J(create_body("slash"))]).result["key"]
    p = tmp_path / "f"
    p.write_bytes(b"data")
    a = probe(e, ["upload", k, "%s=dir/sub.txt" % p]).result[0]
    r = probe(e, ["download", a["id"], str(tmp_path / "out")])
    assert r.result["size"] == 4


def test_download_of_a_non_ascii_name(emu, tmp_path):
    k = probe(emu, ["create", J(create_body("utf8"))]).result["key"]
    p = tmp_path / "f"
    p.write_bytes(b"data")
    a = probe(emu, ["upload", k, "%s=naïve ✓.txt" % p]).result[0]
    assert a["filename"] == "naïve ✓.txt"
    r = probe(emu, ["download", a["id"], str(tmp_path / "out")])
    assert r.result["size"] == 4


def test_attachment_settings_and_too_large_upload(emu, tmp_path):
    emu.patch_config({"attachments": {"uploadLimit": 1000}})
    k = probe(emu, ["create", J(create_body("big"))]).result["key"]
    p = tmp_path / "big"
    p.write_bytes(b"z" * 2000)
    r = probe(emu, ["att-settings"], ["upload", k, str(p)])
    assert r[0]["result"] == {"enabled": True, "uploadLimit": 1000}
    assert not r[1]["ok"]
    if emu.cloud:
        assert r[1]["code"] == "limit" and r[1]["http"] == 413
    else:  # Data Center answers 404 for an oversize file
        assert r[1]["http"] == 404 and "too large" in r[1]["error"]
    assert "too large" in r[1]["error"]


def test_upload_of_a_missing_file_sends_nothing(emu, tmp_path):
    r = probe(emu, ["upload", "DEMO-1", str(tmp_path / "nope")])
    assert r.one["code"] == "io" and r.stats["requests"] == 0


def test_100_mb_attachment_is_streamed_both_ways(emu, tmp_path):
    emu.patch_config({"attachments": {"uploadLimit": 200 * 1024 * 1024}})
    k = probe(emu, ["create", J(create_body("huge"))]).result["key"]
    src = tmp_path / "huge.bin"
    with open(src, "wb") as f:
        chunk = os.urandom(1024 * 1024)
        for i in range(100):
            f.write(bytes([i]) + chunk[1:])
    up = probe(emu, ["upload", k, "%s=huge.bin" % src], fast=False)
    a = up.result[0]
    assert a["size"] == 100 * 1024 * 1024
    assert up.vmhwm_kb < 40 * 1024, up.vmhwm_kb
    out = tmp_path / "back.bin"
    down = probe(emu, ["download", a["id"], str(out)], fast=False)
    assert down.result["size"] == 100 * 1024 * 1024
    assert down.vmhwm_kb < 40 * 1024, down.vmhwm_kb
    assert subprocess.run(["cmp", "-s", str(src), str(out)]).returncode == 0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        srv = self.server
        srv.seen.append((self.path, dict(self.headers)))
        if self.path.startswith("/rest/api/2/attachment/"):
            body = json.dumps({"id": "1", "filename": "f", "size": 5,
                               "content": srv.jira + "/secure/attachment/1/f"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
        elif self.path.startswith("/secure/attachment/"):
            self.send_response(302)
            self.send_header("Location", srv.other + "/blob/1")
            body = b""
        elif self.path.startswith("/blob/"):
            body = b"hello"
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
        else:
            body = b"{}"
            self.send_response(404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _server(seen):
    s = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    s.seen = seen
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s


def test_download_redirect_to_another_host_carries_no_credentials(tmp_path):
    """The emulator redirects only to itself; a two-host stand-in shows that credentials
    stay with Jira's origin when a download is redirected elsewhere (Cloud's media host)."""
    seen_jira, seen_other = [], []
    jira, other = _server(seen_jira), _server(seen_other)
    try:
        jira.jira = "http://127.0.0.1:%d" % jira.server_address[1]
        jira.other = "http://localhost:%d" % other.server_address[1]
        other.jira, other.other = jira.jira, jira.other

        class E:
            url = jira.jira

            def creds(self, user):
                return ("ferry", "s3cret-pw")
        out = tmp_path / "f"
        r = probe(E(), ["download", "1", str(out)], opts=["--flavor", "server"], verbose=True)
        assert r.result["size"] == 5 and out.read_bytes() == b"hello"
        auth = [h.get("Authorization") for _p, h in seen_jira]
        assert all(a and a.startswith("Basic ") for a in auth)
        assert [p for p, _h in seen_other] == ["/blob/1"]
        assert all("Authorization" not in h for _p, h in seen_other)
        ua = seen_jira[0][1]["User-Agent"]
        assert ua.startswith("ferry/")
        assert "gzip" in seen_jira[0][1].get("Accept-Encoding", "")
        assert "s3cret-pw" not in r.stderr and "(no credentials)" in r.stderr
        assert "GET http://localhost:%d/blob/1 -> 200" % other.server_address[1] in r.stderr
    finally:
        jira.shutdown()
        other.shutdown()


def test_a_stalled_download_is_retried_and_the_file_rewritten(emu, tmp_path):
    k = emu.rest("POST", "/rest/api/2/issue", create_body("stall"))[1]["key"]
    p = tmp_path / "src"
    p.write_bytes(b"0123456789" * 1000)
    a = probe(emu, ["upload", k, "%s=s.bin" % p]).result[0]
    route = "/media/file/{aid}/binary" if emu.cloud else "/secure/attachment/{aid}/{filename*}"
    out = tmp_path / "out"
    # Cut off half way: what was written is thrown away, not appended to.
    emu.fault(route=route, kind="truncate", mode="cut")
    emu.clear_counts()
    r = probe(emu, ["download-fd", a["id"], str(out)])
    assert r.result["size"] == 10000 and out.read_bytes() == p.read_bytes()
    assert emu.counts()["GET " + route] == 2 and r.stats["retries"] == 1
    # Nothing for longer than the timeout: a stream has no overall limit, a stall has.
    emu.fault(route=route, kind="latency", ms=3000)
    emu.clear_counts()
    r = probe(emu, ["download-fd", a["id"], str(out)], opts=SHORT)
    assert r.result["size"] == 10000 and out.read_bytes() == p.read_bytes()
    assert emu.counts()["GET " + route] == 2 and r.stats["retries"] == 1


def test_one_connection_is_kept_alive_across_requests(emu):
    r = probe(emu, ["myself"], ["permissions", "DEMO"], ["priorities"], ["fields"],
              ["search", "project = DEMO"])
    assert all(c["ok"] for c in r.cmds)
    assert r.stats["requests"] >= 6 and r.stats["connects"] == 1


def test_cloud_download_follows_the_media_redirect_and_logs_no_token(emulator_shared, tmp_path):
    e = emulator_shared("cloud")
    e.reset()
    k = probe(e, ["create", J(create_body("media"))]).result["key"]
    p = tmp_path / "m"
    p.write_bytes(b"media bytes")
    a = probe(e, ["upload", k, "%s=m.txt" % p]).result[0]
    e.clear_counts()
    r = probe(e, ["download", a["id"], str(tmp_path / "out")], verbose=True)
    assert r.result["size"] == 11 and (tmp_path / "out").read_bytes() == b"media bytes"
    assert calls(e) == {"GET /rest/api/3/attachment/content/{aid}": 1,
                        "GET /media/file/{aid}/binary": 1}
    assert "-> 303" in r.stderr and "token=" not in r.stderr


def _tls_server(tmp_path, seen):
    import ssl
    key, crt = tmp_path / "key.pem", tmp_path / "crt.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    s = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    s.seen = seen
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(crt), str(key))
    s.socket = ctx.wrap_socket(s.socket, server_side=True)
    s.jira = "https://127.0.0.1:%d" % s.server_address[1]
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s, crt


def test_tls_is_verified_and_a_ca_file_makes_it_pass(tmp_path):
    seen = []
    s, crt = _tls_server(tmp_path, seen)
    try:
        class E:
            url = "https://127.0.0.1:%d" % s.server_address[1]

            def creds(self, user):
                return ("ferry", "s3cret-pw")
        r = probe(E(), ["att-meta", "1"], opts=["--flavor", "server"])
        assert r.one["code"] == "config" and "TLS verification" in r.one["error"]
        assert r.stats["requests"] == 1 and seen == []
        r = probe(E(), ["call", "GET", "/rest/api/2/attachment/1"],
                  opts=["--flavor", "server", "--ca-file", str(crt)])
        assert r.one["ok"], r.one
        assert seen and seen[0][1]["Authorization"].startswith("Basic ")
    finally:
        s.shutdown()


# ======================================================================== faults
def _idempotent(emu, k):
    return ["get", k, "summary"]


@pytest.mark.parametrize("spec", [
    {"kind": "status", "status": 500},
    {"kind": "status", "status": 502},
    {"kind": "status", "status": 503},
    {"kind": "status", "status": 503, "retryAfter": 1},
    {"kind": "rate_limit"},
    {"kind": "rate_limit", "retryAfter": 1},
    {"kind": "drop"},
    {"kind": "truncate"},
    {"kind": "truncate", "mode": "cut"},
    {"kind": "html"},
    {"kind": "latency", "ms": 2500},
], ids=lambda s: "-".join(str(v) for v in s.values()))
def test_a_read_survives_one_fault_by_retrying(emu, spec):
    k = emu.rest("POST", "/rest/api/2/issue", create_body("faulty"))[1]["key"]
    emu.clear_counts()
    emu.fault(route="/rest/api/2/issue/{id}", method="GET", **spec)
    r = probe(emu, ["get", k, "summary"], opts=SHORT if spec["kind"] == "latency" else ())
    assert r.result["fields"]["summary"] == "faulty"
    assert calls(emu) == {"GET /rest/api/2/issue/{id}": 2}
    assert r.stats["retries"] == 1
    if spec.get("retryAfter") or (emu.cloud and spec["kind"] == "rate_limit"):
        # Retry-After, or Cloud's X-RateLimit-Reset (1 s ahead) when there is none.
        assert r.elapsed >= 0.9


@pytest.mark.parametrize("spec,word", [
    ({"kind": "status", "status": 500}, "HTTP 500"),
    ({"kind": "status", "status": 503}, "HTTP 503"),
    ({"kind": "html"}, "HTML"),
    ({"kind": "truncate"}, "JSON"),
    ({"kind": "drop"}, "connection"),
    ({"kind": "latency", "ms": 2500}, "did not answer"),
    ({"kind": "rate_limit"}, "rate limited"),
], ids=lambda s: s if isinstance(s, str) else s["kind"])
def test_a_read_gives_up_after_bounded_attempts_with_a_clear_error(emu, spec, word):
    k = emu.rest("POST", "/rest/api/2/issue", create_body("down"))[1]["key"]
    emu.clear_counts()
    emu.fault(route="/rest/api/2/issue/{id}", method="GET", count=100, **spec)
    r = probe(emu, ["get", k, "summary"], opts=SHORT if spec["kind"] == "latency" else ())
    assert r.one["code"] == "retry", r.one
    assert word in r.one["error"] and "attempts" in r.one["error"]
    assert calls(emu) == {"GET /rest/api/2/issue/{id}": 4}


def test_429_retry_after_beyond_the_budget_gives_up_at_once(emu):
    emu.fault(route="/rest/api/2/myself", kind="rate_limit", retryAfter=3600, count=10)
    r = probe(emu, ["myself"])
    assert r.one["code"] == "retry" and r.one["http"] == 429
    assert "budget" in r.one["error"] and r.elapsed < 10
    assert calls(emu) == {"GET /rest/api/2/myself": 1}


def test_a_whole_call_gives_up_within_its_time_budget(emu):
    emu.fault(route="/rest/api/2/myself", kind="latency", ms=1200, count=100)
    r = probe(emu, ["myself"], opts=["--budget-ms", "2500", "--timeout-ms", "1000",
                                     "--attempts", "50"])
    assert r.one["code"] == "retry" and r.elapsed < 6


@pytest.mark.parametrize("spec", [
    {"kind": "status", "status": 500, "after": True},
    {"kind": "status", "status": 502},
    {"kind": "drop", "after": True},
    {"kind": "truncate", "after": True},
    {"kind": "latency", "ms": 2500},
], ids=lambda s: "-".join(str(v) for v in s.values()))
def test_a_create_is_never_repeated_blindly(emu, spec):
    emu.fault(route="/rest/api/2/issue", method="POST", **spec)
    r = probe(emu, ["create", J(create_body("once"))],
              opts=SHORT if spec["kind"] == "latency" else ())
    assert r.one["code"] == "in-doubt", r.one
    assert "in doubt" in r.one["error"]
    time.sleep(1.5 if spec["kind"] == "latency" else 0)
    assert calls(emu, "POST") == {"POST /rest/api/2/issue": 1}


def test_a_create_refused_by_rate_limit_is_retried(emu):
    emu.fault(route="/rest/api/2/issue", method="POST", kind="rate_limit")
    r = probe(emu, ["create", J(create_body("later"))])
    assert r.result["key"]
    assert calls(emu, "POST") == {"POST /rest/api/2/issue": 2}


def test_upload_and_comment_are_in_doubt_after_a_5xx(emu, tmp_path):
    k = emu.rest("POST", "/rest/api/2/issue", create_body("doubt"))[1]["key"]
    p = tmp_path / "a.txt"
    p.write_text("a")
    emu.fault(route="/rest/api/2/issue/{id}/attachments", kind="status", status=500, after=True)
    emu.fault(route="/rest/api/2/issue/{id}/comment", method="POST", kind="status", status=503,
              after=True)
    emu.clear_counts()
    r = probe(emu, ["upload", k, str(p)], ["comment-add", k, J({"body": "x"})])
    assert r[0]["code"] == "in-doubt" and r[1]["code"] == "in-doubt"
    assert calls(emu) == {"POST /rest/api/2/issue/{id}/attachments": 1,
                          "POST /rest/api/2/issue/{id}/comment": 1}


def test_an_edit_is_retried_and_a_delete_retried_into_404_is_done(emu):
    k = emu.rest("POST", "/rest/api/2/issue", create_body("e"))[1]["key"]
    emu.fault(route="/rest/api/2/issue/{id}", method="PUT", kind="status", status=502)
    emu.fault(route="/rest/api/2/issue/{id}", method="DELETE", kind="status", status=500,
              after=True)
    r = probe(emu, ["edit", k, J({"fields": {"summary": "e2"}})], ["delete", k])
    assert r[0]["ok"] and r[1]["ok"], r.cmds
    c = calls(emu)
    assert c["PUT /rest/api/2/issue/{id}"] == 2 and c["DELETE /rest/api/2/issue/{id}"] == 2


# ======================================================================== authentication
def test_wrong_password_stops_every_further_request(emu):
    r = probe(emu, ["myself"], ["search", "project = DEMO"], ["get", "DEMO-1"],
              secret="Tr0ub4dor-x9")
    assert [c["code"] for c in r.cmds] == ["auth", "auth", "auth"]
    assert r[0]["http"] == 401 and "refused the credentials" in r[0]["error"]
    assert "not sent" in r[1]["error"]
    assert r.stats["requests"] == 1
    assert "Tr0ub4dor-x9" not in r[0]["error"] + r.stderr


def test_a_dead_token_is_not_an_empty_result(emu):
    """Cloud answers an anonymous-readable request with bad credentials as to an
    anonymous caller (200, no issues) and says so only in X-Seraph-LoginReason."""
    emu.rest("POST", "/rest/api/2/issue", create_body("visible"))
    r = probe(emu, ["search", "project = DEMO"], ["get", "DEMO-1"], secret="expired-token",
              opts=["--flavor", emu.flavor])
    assert r[0]["code"] == "auth" and r[1]["code"] == "auth", r.cmds
    assert r.stats["requests"] == 1


def test_unknown_user_is_an_auth_error(emu):
    r = probe(emu, ["myself"], user="ghost", secret="whatever")
    assert r.one["code"] == "auth" and r.one["http"] == 401


def test_captcha_after_failed_logins_tells_the_admin_to_log_in(emulator_shared):
    e = emulator_shared("server")
    e.reset()
    for _ in range(3):
        probe(e, ["myself"], secret="wrong")
    r = probe(e, ["myself"], ["myself"])   # right password, but the account is locked
    assert r[0]["code"] == "auth" and "CAPTCHA" in r[0]["error"]
    assert "browser" in r[0]["error"]
    assert r.stats["requests"] == 1 and "not sent" in r[1]["error"]


def test_bearer_personal_access_token_and_basic_auth_disabled(emulator_shared):
    e = emulator_shared("server")
    e.reset()
    r = probe(e, ["myself"], bearer=PATS["ferry"])
    assert r.result["name"] == "ferry"
    e.patch_config({"basicAuthDisabled": True})
    try:
        r = probe(e, ["myself"], ["myself"])
        assert r[0]["code"] == "auth" and r[0]["http"] == 403
        assert "personal access token" in r[0]["error"]
        assert probe(e, ["myself"], bearer=PATS["ferry"]).result["name"] == "ferry"
    finally:
        e.patch_config({"basicAuthDisabled": False})


def test_missing_permission_is_refused_not_auth(emu):
    k = emu.rest("POST", "/rest/api/2/issue", create_body("private"))[1]["key"]
    r = probe(emu, ["get", k], ["create", J(create_body("x"))], user="nobody")
    assert r[0]["code"] == "not-found" and r[0]["http"] == 404
    assert r[1]["code"] in ("refused",) and r[1]["http"] in (400, 403)
    assert r.stats["requests"] == 2


def test_proxy_variables_of_the_environment_are_ignored(emu):
    dead = "http://127.0.0.1:1"
    r = probe(emu, ["myself"], env_extra={"http_proxy": dead, "HTTP_PROXY": dead,
                                          "https_proxy": dead, "ALL_PROXY": dead})
    assert r.result["displayName"] == "Ferry Sync"
    # A configured proxy is used (and here, being dead, fails: nothing reached Jira).
    r = probe(emu, ["myself"], opts=["--proxy", dead, "--attempts", "1"])
    assert r.one["code"] == "retry" and calls(emu) == {"GET /rest/api/2/myself": 1}


def test_verbose_logs_method_path_status_time_never_secrets(emu):
    r = probe(emu, ["myself"], verbose=True)
    assert r.one["ok"]
    assert "GET /rest/api/2/myself -> 200 (" in r.stderr
    login, secret = emu.creds("ferry")
    assert secret not in r.stderr and "Authorization" not in r.stderr
