"""Issue 10: a Jira that rewrites, lags, drifts and gets restored.  One test per behaviour."""
import datetime as dt

from emutest import ADMIN, ALICE
from jira_emu.util import parse_ts


def _hist(emu, key):
    """Histories oldest first (Cloud's expand=changelog lists newest first)."""
    hs = emu.issue(key, "?expand=changelog")["changelog"]["histories"]
    return sorted(hs, key=lambda h: int(h["id"]))


def _updated(emu, key):
    return parse_ts(emu.issue(key)["fields"]["updated"])


def _tick(emu, seconds=2):
    """Advance the site clock instead of sleeping."""
    emu.ctl("POST", "clock", {"advanceSeconds": seconds})


# ---------------------------------------------------------------- updated + changelog
def test_field_edit_bumps_updated_with_one_history(emu):
    k = emu.create("old", labels=["a"])["key"]
    u0 = _updated(emu, k)
    _tick(emu)
    emu.put("/rest/api/2/issue/" + k, {"fields": {"summary": "new", "labels": ["a", "b"],
                                                  "priority": {"name": "Low"}}})
    assert _updated(emu, k) >= u0 + 2000
    hs = _hist(emu, k)
    assert len(hs) == 1
    h = hs[0]
    assert h["author"]["displayName"] == "Ferry Sync"
    assert parse_ts(h["created"]) == _updated(emu, k)
    items = {i["field"]: i for i in h["items"]}
    assert items["summary"]["fromString"] == "old" and items["summary"]["toString"] == "new"
    assert items["labels"]["fromString"] == "a" and items["labels"]["toString"] == "a b"
    assert items["priority"]["fromString"] == "Medium" and items["priority"]["to"] == "4"


def test_edit_without_change_writes_nothing(emu):
    k = emu.create("same")["key"]
    u0 = _updated(emu, k)
    _tick(emu)
    assert emu.put("/rest/api/2/issue/" + k, {"fields": {"summary": "same"}}).status == 204
    assert _updated(emu, k) == u0 and _hist(emu, k) == []


def test_transition_bumps_updated_and_logs_status(emu):
    k = emu.create()["key"]
    u0 = _updated(emu, k)
    _tick(emu)
    emu.post("/rest/api/2/issue/%s/transitions" % k, {"transition": {"id": "21"}})
    assert _updated(emu, k) > u0
    items = {i["field"]: i for i in _hist(emu, k)[0]["items"]}
    assert (items["status"]["fromString"], items["status"]["toString"]) == ("Open", "Done")
    assert items["resolution"]["toString"] == "Done"


def test_comment_add_sets_updated_to_comment_time_without_history(emu):
    k = emu.create()["key"]
    _tick(emu)
    c = emu.post("/rest/api/2/issue/%s/comment" % k, {"body": "hi"}).json
    assert emu.issue(k)["fields"]["updated"] == c["created"]
    assert _hist(emu, k) == []


def test_comment_edit_bumps_only_if_changed(emu):
    k = emu.create()["key"]
    c = emu.post("/rest/api/2/issue/%s/comment" % k, {"body": "hi"}).json
    u0 = _updated(emu, k)
    _tick(emu)
    r = emu.put("/rest/api/2/issue/%s/comment/%s" % (k, c["id"]), {"body": "hi"})
    assert r.json["updated"] == c["updated"] and _updated(emu, k) == u0
    _tick(emu)
    r = emu.put("/rest/api/2/issue/%s/comment/%s" % (k, c["id"]), {"body": "changed"})
    assert r.json["updated"] != c["updated"]
    assert _updated(emu, k) == parse_ts(r.json["updated"]) and _hist(emu, k) == []


def test_comment_delete_bumps_and_logs_body(emu):
    k = emu.create()["key"]
    c = emu.post("/rest/api/2/issue/%s/comment" % k, {"body": "bye"}).json
    r = emu.post("/rest/api/2/issue/%s/comment" % k,
                 {"body": "restricted", "visibility": {"type": "role", "value": "Developers"}}).json
    u0 = _updated(emu, k)
    _tick(emu)
    emu.delete("/rest/api/2/issue/%s/comment/%s" % (k, c["id"]))
    emu.delete("/rest/api/2/issue/%s/comment/%s" % (k, r["id"]))
    assert _updated(emu, k) > u0
    items = [h["items"][0] for h in _hist(emu, k)]
    assert [i["field"] for i in items] == ["Comment", "Comment"]
    assert items[0]["fromString"] == "bye"
    assert "Developers" in items[1]["fromString"] and "restricted" not in items[1]["fromString"]


def test_attachment_add_and_delete_bump_and_log(emu):
    k = emu.create()["key"]
    u0 = _updated(emu, k)
    _tick(emu)
    a = emu.upload(k, [("f.txt", b"x")]).json[0]
    u1 = _updated(emu, k)
    assert u1 > u0
    _tick(emu)
    emu.delete("/rest/api/2/attachment/%s" % a["id"])
    assert _updated(emu, k) > u1
    add, rem = [h["items"][0] for h in _hist(emu, k)]
    assert (add["field"], add["to"], add["toString"], add["from"]) == ("Attachment", str(a["id"]), "f.txt", None)
    assert (rem["from"], rem["fromString"], rem["to"]) == (str(a["id"]), "f.txt", None)


def test_property_set_does_not_bump(emu):
    k = emu.create()["key"]
    u0 = _updated(emu, k)
    _tick(emu)
    emu.put("/rest/api/2/issue/%s/properties/ferry" % k, {"x": 1})
    emu.delete("/rest/api/2/issue/%s/properties/ferry" % k)
    assert _updated(emu, k) == u0 and _hist(emu, k) == []


def test_search_get_and_changelog_agree(emu):
    k = emu.create()["key"]
    _tick(emu)
    emu.put("/rest/api/2/issue/" + k, {"fields": {"summary": "v2"}})
    got = emu.issue(k)["fields"]["updated"]
    found = emu.search("key = %s" % k, fields=["updated", "summary"])[0]["fields"]
    assert found["updated"] == got and found["summary"] == "v2"
    assert _hist(emu, k)[-1]["created"] == got


def test_history_metadata_on_edit_and_properties_on_create(emu):
    meta = {"type": "ferry", "description": "bundle 7 from site-b", "extraData": {"seq": "7"}}
    r = emu.post("/rest/api/2/issue", {"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"},
                                                  "summary": "m"}, "historyMetadata": meta,
                                       "properties": [{"key": "ferry", "value": {"twin": "B-1"}}]})
    k = r.json["key"]
    assert emu.get("/rest/api/2/issue/%s/properties/ferry" % k).json["value"] == {"twin": "B-1"}
    emu.put("/rest/api/2/issue/" + k, {"fields": {"summary": "m2"}, "historyMetadata": meta})
    assert _hist(emu, k)[0]["historyMetadata"] == meta
    c = emu.post("/rest/api/2/issue/%s/comment" % k,
                 {"body": "x", "properties": [{"key": "ferry", "value": {"twin": "c1"}}]}).json
    assert emu.get("/rest/api/2/comment/%s/properties/ferry" % c["id"]).json["value"] == {"twin": "c1"}


# ---------------------------------------------------------------- text rewriting + limits
SENT = "h1.Title\r\n*first  \r\n-second\r\n\r\n\r\n\r\nend\t\r\n\r\n"


def test_cloud_rewrites_text(cloud):
    k = cloud.create(description=SENT)["key"]
    got = cloud.issue(k)["fields"]["description"]
    assert got == "h1. Title\n* first\n* second\n\nend"
    assert got != SENT
    # stable: what Cloud stored comes back unchanged when written again (no echo loop)
    cloud.put("/rest/api/2/issue/" + k, {"fields": {"description": got}})
    assert cloud.issue(k)["fields"]["description"] == got
    assert _hist(cloud, k) == []
    c = cloud.post("/rest/api/2/issue/%s/comment" % k, {"body": "a  \r\nb"}).json
    assert c["body"] == "a\nb"


def test_server_keeps_text_as_sent(server):
    k = server.create(description=SENT)["key"]
    assert server.issue(k)["fields"]["description"] == SENT
    c = server.post("/rest/api/2/issue/%s/comment" % k, {"body": "a  \r\nb"}).json
    assert c["body"] == "a  \r\nb"


def test_v3_reads_adf(cloud):
    k = cloud.create(description="para one\n\npara two")["key"]
    d = cloud.get("/rest/api/3/issue/" + k).json["fields"]["description"]
    assert d["type"] == "doc" and len(d["content"]) == 2


def test_text_limits(emu):
    r = emu.post("/rest/api/2/issue", {"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"},
                                                  "summary": "s", "description": "x" * 32768}})
    assert r.status == 400
    assert r.json == {"errorMessages": [], "errors": {
        "description": "The entered text is too long. It exceeds the allowed limit of 32,767 characters."}}
    k = emu.create(description="x" * 32767)["key"]
    r = emu.put("/rest/api/2/issue/" + k, {"fields": {"environment": "y" * 40000}})
    assert r.status == 400 and "environment" in r.json["errors"]
    r = emu.put("/rest/api/2/issue/" + k, {"fields": {"summary": "s" * 256}})
    assert r.json["errors"] == {"summary": "Summary must be less than 255 characters."}


# ---------------------------------------------------------------- Cloud search lag
def test_cloud_search_lag_and_reconcile(cloud):
    old = cloud.create("before")
    cloud.ctl("POST", "search-lag", {"seconds": 60})
    new = cloud.create("fresh")
    cloud.put("/rest/api/2/issue/" + old["key"], {"fields": {"summary": "changed"}})
    found = {i["key"]: i["fields"]["summary"] for i in cloud.search("project = DEMO", fields=["summary"])}
    assert found == {old["key"]: "before"}               # new one missing, old one stale
    found = {i["key"]: i["fields"]["summary"] for i in
             cloud.search("project = DEMO", fields=["summary"], reconcileIssues=[int(new["id"]), int(old["id"])])}
    assert found == {old["key"]: "changed", new["key"]: "fresh"}
    assert cloud.issue(new["key"])["fields"]["summary"] == "fresh"     # issue get is always current
    # a stale index can even match on the old value
    assert [i["key"] for i in cloud.search("summary ~ \"before\"", fields=["summary"])] == [old["key"]]
    cloud.ctl("POST", "search-lag", {"seconds": 0})
    assert len(cloud.search("project = DEMO")) == 2


def test_search_lag_configurable_at_startup(make_emu):
    e = make_emu("cloud", {"searchLagSeconds": 60})
    e.create()
    assert e.search("project = DEMO") == []


# ---------------------------------------------------------------- clock and time zones
def test_site_clock_offset(emu):
    t0 = parse_ts(emu.get("/rest/api/2/serverInfo").json["serverTime"])
    emu.ctl("POST", "clock", {"offsetSeconds": -3600})
    t1 = parse_ts(emu.get("/rest/api/2/serverInfo").json["serverTime"])
    assert -3700_000 < t1 - t0 < -3590_000
    k = emu.create()["key"]
    assert abs(parse_ts(emu.issue(k)["fields"]["created"]) - t1) < 10_000
    # relative JQL dates count from the site clock
    assert [i["key"] for i in emu.search("updated >= -5m")] == [k]
    emu.ctl("POST", "clock", {"offsetSeconds": 3600})       # two hours later
    assert emu.search("updated >= -5m") == []
    assert [i["key"] for i in emu.search("updated >= -3h")] == [k]


def test_startofday_uses_site_clock_and_user_zone(emu):
    emu.ctl("POST", "clock", {"set": "2024-06-10T21:30:00.000+0000"})   # Berlin: 23:30, New York: 17:30
    k = emu.create()["key"]
    assert [i["key"] for i in emu.search("created >= startOfDay()")] == [k]
    emu.ctl("POST", "clock", {"set": "2024-06-10T22:30:00.000+0000"})   # Berlin: next day 00:30
    assert emu.search("created >= startOfDay()") == []
    if emu.cloud:
        r = emu.post("/rest/api/3/search/jql", {"jql": "created >= startOfDay()"}, auth=ALICE["cloud"])
    else:
        r = emu.post("/rest/api/2/search", {"jql": "created >= startOfDay()"}, auth=ALICE["server"])
    assert len(r.json["issues"]) == 1        # New York is still on the 10th


def test_offsetless_jql_dates_in_user_zone_across_dst(emu):
    # Europe/Berlin switches to summer time at 2024-03-31 01:00 UTC (02:00 -> 03:00 local)
    emu.ctl("POST", "clock", {"set": "2024-03-31T00:29:30.000+0000"})    # 01:29:30 CET
    a = emu.create("before dst")["key"]
    emu.ctl("POST", "clock", {"set": "2024-03-31T01:29:30.000+0000"})    # 03:29:30 CEST
    b = emu.create("after dst")["key"]
    keys = lambda jql: sorted(i["key"] for i in emu.search(jql))  # noqa: E731
    assert keys('created >= "2024-03-31 01:29" AND project = DEMO') == [a, b]
    assert keys('created > "2024-03-31 01:30" AND project = DEMO') == [b]
    assert keys('created >= "2024-03-31 03:29" AND project = DEMO') == [b]
    assert keys('created >= "2024-03-31 03:30" AND project = DEMO') == []
    assert keys('created >= "2024-03-31 01:00" AND project = DEMO') == [a, b]
    # the admin's zone is UTC: the same literal means another instant
    if emu.cloud:
        r = emu.post("/rest/api/3/search/jql", {"jql": 'created >= "2024-03-31 01:00" AND project = DEMO',
                                                 "fields": ["summary"]}, auth=ADMIN["cloud"])
    else:
        r = emu.post("/rest/api/2/search", {"jql": 'created >= "2024-03-31 01:00" AND project = DEMO'},
                     auth=ADMIN["server"])
    assert [i["key"] for i in r.json["issues"]] == [b]


def test_timestamps_carry_site_zone_offset_with_dst(make_emu):
    e = make_emu("server", {"timeZone": "Europe/London"})
    e.ctl("POST", "clock", {"set": "2024-01-15T12:00:00.000+0000"})
    a = e.create()["key"]
    e.ctl("POST", "clock", {"set": "2024-07-15T12:00:00.000+0000"})
    b = e.create()["key"]
    assert e.issue(a)["fields"]["created"].startswith("2024-01-15T12:00:")
    assert e.issue(a)["fields"]["created"].endswith("+0000")
    assert e.issue(b)["fields"]["created"].startswith("2024-07-15T13:00:00.")
    assert e.issue(b)["fields"]["created"].endswith("+0100")
    assert e.get("/rest/api/2/serverInfo").json["serverTime"].endswith("+0100")


# ---------------------------------------------------------------- snapshot / restore
def test_snapshot_restore_rolls_back_data_and_counters(emu):
    a = emu.create("kept")
    emu.ctl("POST", "snapshot", {"name": "backup"})
    b = emu.create("lost")
    emu.post("/rest/api/2/issue/%s/comment" % a["key"], {"body": "lost comment"})
    emu.put("/rest/api/2/issue/" + a["key"], {"fields": {"summary": "lost edit"}})
    emu.ctl("POST", "restore", {"name": "backup"})
    assert emu.get("/rest/api/2/issue/" + b["key"]).status == 404
    got = emu.issue(a["key"])
    assert got["fields"]["summary"] == "kept" and got["fields"]["comment"]["total"] == 0
    c = emu.create("reuses")
    assert (c["id"], c["key"]) == (b["id"], b["key"])       # id and key counters went back
    assert emu.ctl("GET", "snapshots")["snapshots"] == ["backup"]
    assert emu.request("POST", "/_emu/restore", {"name": "nope"}, auth=None).status == 404


# ---------------------------------------------------------------- move and delete
def test_move_issue_to_other_project(emu):
    a = emu.create("moving")
    emu.create("other")
    emu.ctl("POST", "clock", {"advanceSeconds": 5})
    moved = emu.ctl("POST", "move", {"issue": a["key"], "project": "OPS"})
    assert moved["id"] == a["id"] and moved["key"] == "OPS-1"
    got = emu.issue(a["key"])                        # the old key still resolves, no redirect
    assert got["key"] == "OPS-1" and got["id"] == a["id"]
    assert got["fields"]["project"]["key"] == "OPS"
    assert emu.issue("demo-1")["key"] == "OPS-1"
    items = {i["field"]: i for i in _hist(emu, "OPS-1")[-1]["items"]}
    assert (items["Key"]["fromString"], items["Key"]["toString"]) == ("DEMO-1", "OPS-1")
    assert (items["project"]["from"], items["project"]["to"]) == ("10000", "10001")
    assert [i["key"] for i in emu.search("project = OPS")] == ["OPS-1"]
    assert [i["key"] for i in emu.search("key = DEMO-1")] == ["OPS-1"]
    assert emu.create("next")["key"] == "DEMO-3"          # the old key is never reused
    assert emu.get("/rest/api/2/issue/%s/comment" % a["key"]).status == 200


def test_move_changes_missing_issue_type(emu):
    a = emu.create("bug", issuetype="Bug")
    emu.ctl("POST", "move", {"issue": a["key"], "project": "OPS"})
    f = emu.issue(a["id"])["fields"]
    assert f["issuetype"]["name"] == "Task"


def test_deleted_issue_is_gone_everywhere(emu):
    a = emu.create()
    assert emu.delete("/rest/api/2/issue/" + a["key"]).status == 204
    assert emu.get("/rest/api/2/issue/" + a["id"]).status == 404
    assert emu.search("project = DEMO") == []
    assert emu.post("/rest/api/2/issue/%s/comment" % a["key"], {"body": "x"}).status == 404


# ---------------------------------------------------------------- persistence
def test_restart_keeps_data(make_emu):
    e = make_emu("server")
    a = e.create("persist")
    e.post("/rest/api/2/issue/%s/comment" % a["key"], {"body": "c"})
    e.upload(a["key"], [("f.bin", b"12345")])
    e.ctl("POST", "clock", {"offsetSeconds": 7200})
    e.restart()
    got = e.issue(a["key"], "?expand=changelog")
    assert got["fields"]["summary"] == "persist" and got["fields"]["comment"]["total"] == 1
    assert got["fields"]["attachment"][0]["size"] == 5
    assert e.create()["key"] == "DEMO-2"
    assert e.ctl("GET", "clock")["offsetMs"] == 7200_000


def test_now_is_aware(emu):
    # serverTime parses as an aware instant within the site clock
    st = emu.get("/rest/api/2/serverInfo").json["serverTime"]
    assert dt.datetime.strptime(st, "%Y-%m-%dT%H:%M:%S.%f%z").tzinfo is not None


def test_text_rewrite_switchable_per_site(make_emu):
    c = make_emu("cloud", {"textRewrite": False})
    k = c.create(description="a  \r\nb")["key"]
    assert c.issue(k)["fields"]["description"] == "a  \r\nb"
    s = make_emu("server")
    s.ctl("POST", "config", {"textRewrite": True})
    k = s.create(description="a  \r\nb")["key"]
    assert s.issue(k)["fields"]["description"] == "a\nb"


def test_timestamps_in_user_zone_when_configured(emu):
    emu.ctl("POST", "config", {"renderZone": "user"})
    emu.ctl("POST", "clock", {"set": "2024-07-01T12:00:00.000+0000"})
    k = emu.create()["key"]
    assert emu.issue(k)["fields"]["created"].startswith("2024-07-01T14:00:00.")     # ferry: Berlin
    assert emu.issue(k)["fields"]["created"].endswith("+0200")
    r = emu.get("/rest/api/2/issue/" + k, auth=ADMIN[emu.flavor]).json
    assert r["fields"]["created"].endswith("+0000")


def test_clock_set_back_moves_updated_back_but_not_for_comments(emu):
    """The issue updater sets ``updated`` to the site's now, even if that is earlier; a comment
    only moves it forward (API-NOTES 16.1, JRA-36334)."""
    k = emu.create()["key"]
    u0 = _updated(emu, k)
    emu.ctl("POST", "clock", {"offsetSeconds": -600})
    emu.post("/rest/api/2/issue/%s/comment" % k, {"body": "from the past"})
    assert _updated(emu, k) == u0
    emu.put("/rest/api/2/issue/" + k, {"fields": {"summary": "edited in the past"}})
    assert u0 - 700_000 < _updated(emu, k) < u0 - 500_000
