"""Issue CRUD, bulk create, edit operations, delete, transitions, changelog, entity
properties and remote links."""
from emutest import ADMIN, ALICE, NOBODY


def test_create_and_get(emu):
    r = emu.create("First", description="Body", labels=["a", "b"], priority={"name": "High"})
    assert set(r) == {"id", "key", "self"}
    assert r["key"] == "DEMO-1" and r["id"].isdigit()
    assert r["self"].endswith("/rest/api/2/issue/" + r["id"])
    b = emu.issue(r["key"])
    f = b["fields"]
    assert f["summary"] == "First" and f["labels"] == ["a", "b"] and f["priority"]["name"] == "High"
    assert f["status"]["name"] == "Open" and f["issuetype"]["name"] == "Task"
    assert f["created"] == f["updated"]
    assert emu.issue(r["id"])["key"] == "DEMO-1"
    assert emu.issue("demo-1")["key"] == "DEMO-1"      # keys are case-insensitive
    # per-project key counters, global numeric ids
    r2 = emu.create(project="OPS")
    assert r2["key"] == "OPS-1" and int(r2["id"]) == int(r["id"]) + 1
    assert emu.create()["key"] == "DEMO-2"


def test_get_fields_selection(emu):
    k = emu.create("x", labels=["l"])["key"]
    b = emu.issue(k, "?fields=summary,labels")
    assert set(b["fields"]) == {"summary", "labels"}
    b = emu.issue(k, "?fields=*all,-comment")
    assert "comment" not in b["fields"] and "summary" in b["fields"]
    b = emu.issue(k, "?fields=-description")           # only exclusions: the default minus those
    assert "description" not in b["fields"] and "comment" in b["fields"]


def test_create_errors(emu):
    r = emu.post("/rest/api/2/issue", {"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}}})
    assert r.status == 400 and "summary" in r.json["errors"]
    r = emu.post("/rest/api/2/issue", {"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"},
                                                  "summary": "x", "invalid": 1}})
    assert r.status == 400
    assert r.json == {"errorMessages": [], "errors": {"invalid": "Field 'invalid' is not valid for this operation."}}
    r = emu.post("/rest/api/2/issue", {"fields": {"project": {"key": "OPS"}, "issuetype": {"name": "Bug"},
                                                  "summary": "x"}})
    assert r.status == 400 and "issuetype" in r.json["errors"]   # OPS has no Bug type
    r = emu.post("/rest/api/2/issue", {"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"},
                                                  "summary": "x" * 256}})
    assert r.json == {"errorMessages": [], "errors": {"summary": "Summary must be less than 255 characters."}}
    r = emu.post("/rest/api/2/issue", {})
    assert r.json["errorMessages"] == ["one of 'fields' or 'update' required"]
    r = emu.post("/rest/api/2/issue", {"fields": {"summary": "x"}, "bogus": 1})
    assert r.status == 400 and "errors" not in r.json and "Unrecognized field" in r.json["errorMessages"][0]


def test_create_with_properties(emu):
    r = emu.post("/rest/api/2/issue", {"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"},
                                                  "summary": "p"},
                                       "properties": [{"key": "ferry.origin", "value": {"site": "a", "id": 7}}]})
    assert r.status == 201
    k = r.json["key"]
    assert emu.get("/rest/api/2/issue/%s/properties/ferry.origin" % k).json == {
        "key": "ferry.origin", "value": {"site": "a", "id": 7}}
    b = emu.issue(k, "?properties=ferry.origin")
    assert b["properties"] == {"ferry.origin": {"site": "a", "id": 7}}


def test_subtask_and_parent(emu):
    parent = emu.create("parent")["key"]
    r = emu.post("/rest/api/2/issue", {"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Sub-task"},
                                                  "summary": "child"}})
    assert r.status == 400 and "parent" in r.json["errors"]
    sub = emu.create("child", issuetype="Sub-task", parent={"key": parent})["key"]
    assert emu.issue(sub)["fields"]["parent"]["key"] == parent
    assert [s["key"] for s in emu.issue(parent)["fields"]["subtasks"]] == [sub]


def test_bulk_create_partial_failure(emu):
    good = {"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": "ok"}}
    bad = {"fields": {"issuetype": {"name": "Task"}, "summary": "no project"}}
    r = emu.post("/rest/api/2/issue/bulk", {"issueUpdates": [good, bad, good]})
    assert r.status == 201
    assert [i["key"] for i in r.json["issues"]] == ["DEMO-1", "DEMO-2"]
    e = r.json["errors"]
    assert len(e) == 1 and e[0]["failedElementNumber"] == 1 and e[0]["status"] == 400
    assert e[0]["elementErrors"]["errors"]["project"] == "project is required"
    r = emu.post("/rest/api/2/issue/bulk", {"issueUpdates": [bad]})
    assert r.status == 400 and r.json["issues"] == [] and len(r.json["errors"]) == 1


def test_bulk_create_cloud_limit(cloud):
    one = {"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": "x"}}
    assert cloud.post("/rest/api/3/issue/bulk", {"issueUpdates": [one] * 51}).status == 400


def test_edit_fields_and_update_ops(emu):
    k = emu.create("s", labels=["a", "b"])["key"]
    r = emu.put("/rest/api/2/issue/" + k, {"fields": {"summary": "s2"},
                                           "update": {"labels": [{"add": "c"}, {"remove": "a"}],
                                                      "components": [{"add": {"name": "Backend"}}]}})
    assert r.status == 204 and r.body == b""
    f = emu.issue(k)["fields"]
    assert f["summary"] == "s2" and f["labels"] == ["b", "c"]
    assert [c["name"] for c in f["components"]] == ["Backend"]
    r = emu.put("/rest/api/2/issue/" + k, {"update": {"summary": [{"set": "s3"}], "labels": [{"set": ["z"]}]}})
    assert r.status == 204
    f = emu.issue(k)["fields"]
    assert f["summary"] == "s3" and f["labels"] == ["z"]
    r = emu.put("/rest/api/2/issue/" + k, {"fields": {"assignee": emu.user_ref("alice")}})
    assert r.status == 204
    assert emu.issue(k)["fields"]["assignee"]["displayName"] == "Alice Example"


def test_edit_errors(emu):
    k = emu.create()["key"]
    r = emu.put("/rest/api/2/issue/" + k, {"fields": {"invalid": "x"}})
    assert r.status == 400 and r.json["errors"] == {"invalid": "Field 'invalid' is not valid for this operation."}
    r = emu.put("/rest/api/2/issue/" + k, {})
    assert r.json == {"errorMessages": ["one of 'fields' or 'update' required"], "errors": {}}
    r = emu.put("/rest/api/2/issue/" + k, {"fields": {"summary": "a"}, "update": {"summary": [{"set": "b"}]}})
    assert r.status == 400 and "summary" in r.json["errors"]
    r = emu.put("/rest/api/2/issue/" + k, {"fields": {"summary": "x"}}, auth=NOBODY[emu.flavor])
    assert r.status == 404


def test_notify_users_false_needs_admin(emu):
    k = emu.create()["key"]
    r = emu.put("/rest/api/2/issue/%s?notifyUsers=false" % k, {"fields": {"summary": "quiet"}})
    assert r.status == 403
    assert r.json == {"errorMessages": ["To discard the user notification either admin or project admin "
                                        "permissions are required."], "errors": {}}
    assert emu.issue(k)["fields"]["summary"] == "An issue"      # the whole edit was rejected
    r = emu.put("/rest/api/2/issue/%s?notifyUsers=false" % k, {"fields": {"summary": "quiet"}},
                auth=ADMIN[emu.flavor])
    assert r.status == 204


def test_delete_and_subtasks(emu):
    parent = emu.create("p")["key"]
    emu.create("c", issuetype="Sub-task", parent={"key": parent})
    r = emu.delete("/rest/api/2/issue/" + parent)
    assert r.status == 400
    assert emu.delete("/rest/api/2/issue/%s?deleteSubtasks=true" % parent).status == 204
    assert emu.get("/rest/api/2/issue/" + parent).status == 404
    assert emu.get("/rest/api/2/issue/DEMO-2").status == 404
    assert emu.get("/rest/api/2/issue/%s/comment" % parent).status == 404
    assert emu.search("project = DEMO") == []


def test_delete_needs_permission(emu):
    k = emu.create()["key"]
    # the default scheme gives Delete Issues to Developers and Administrators only
    emu.ctl("POST", "membership", {"user": "alice", "project": "DEMO", "role": "Developers", "member": False})
    assert emu.delete("/rest/api/2/issue/" + k, auth=ALICE[emu.flavor]).status == 403


def test_transitions(emu):
    k = emu.create()["key"]
    b = emu.get("/rest/api/2/issue/%s/transitions" % k).json
    ids = {t["id"]: t for t in b["transitions"]}
    assert set(ids) == {"11", "21"}
    assert ids["11"]["to"]["name"] == "In Progress"
    if emu.cloud:
        assert ids["11"]["isAvailable"] is True
    assert emu.post("/rest/api/2/issue/%s/transitions" % k, {"transition": {"id": "11"}}).status == 204
    f = emu.issue(k)["fields"]
    assert f["status"]["name"] == "In Progress" and f["resolution"] is None
    assert emu.post("/rest/api/2/issue/%s/transitions" % k, {"transition": {"id": "21"}}).status == 204
    f = emu.issue(k)["fields"]
    assert f["status"]["name"] == "Done" and f["resolution"]["name"] == "Done"
    assert f["resolutiondate"] is not None
    # 31 (Reopen) exists but is not available from Open -> 400; an unknown id: DC 500, Cloud 400
    r = emu.post("/rest/api/2/issue/%s/transitions" % k, {"transition": {"id": "11"}})
    assert r.status == 400
    r = emu.post("/rest/api/2/issue/%s/transitions" % k, {"transition": {"id": "999"}})
    assert r.status == (400 if emu.cloud else 500)
    assert emu.post("/rest/api/2/issue/%s/transitions" % k, {"transition": {"id": "31"}}).status == 204
    f = emu.issue(k)["fields"]
    assert f["status"]["name"] == "Open" and f["resolution"] is None


def test_changelog_endpoint_cloud_only(emu):
    k = emu.create()["key"]
    for n in range(3):
        emu.put("/rest/api/2/issue/" + k, {"fields": {"summary": "v%d" % n}})
    r = emu.get("/rest/api/3/issue/%s/changelog?maxResults=2" % k)
    if not emu.cloud:
        assert r.status == 404
        assert emu.get("/rest/api/2/issue/%s/changelog" % k).status == 404
        h = emu.issue(k, "?expand=changelog")["changelog"]["histories"]
        assert [x["items"][0]["toString"] for x in h] == ["v0", "v1", "v2"]   # DC: oldest first
        return
    b = r.json
    assert b["total"] == 3 and b["maxResults"] == 2 and b["isLast"] is False
    assert [h["items"][0]["toString"] for h in b["values"]] == ["v0", "v1"]     # oldest first
    b2 = emu.get("/rest/api/2/issue/%s/changelog?startAt=2" % k).json
    assert b2["isLast"] and b2["values"][0]["items"][0]["fieldId"] == "summary"
    # expand=changelog on Cloud: newest first
    h = emu.issue(k, "?expand=changelog")["changelog"]["histories"]
    assert [x["items"][0]["toString"] for x in h] == ["v2", "v1", "v0"]
    bulk = emu.post("/rest/api/3/changelog/bulkfetch", {"issueIdsOrKeys": [k], "fieldIds": ["summary"]}).json
    assert len(bulk["issueChangeLogs"][0]["changeHistories"]) == 3


def test_issue_properties(emu):
    k = emu.create()["key"]
    u = "/rest/api/2/issue/%s/properties" % k
    assert emu.get(u).json == {"keys": []}
    assert emu.put(u + "/ferry", {"v": 1}).status == 201
    assert emu.put(u + "/ferry", {"v": 2}).status == 200
    assert emu.put(u + "/other", "plain string").status == 201
    assert emu.get(u + "/ferry").json == {"key": "ferry", "value": {"v": 2}}
    keys = emu.get(u).json["keys"]
    assert [x["key"] for x in keys] == ["ferry", "other"] and keys[0]["self"].endswith("/properties/ferry")
    assert emu.delete(u + "/ferry").status == 204
    assert emu.get(u + "/ferry").status == 404
    assert emu.delete(u + "/ferry").status == 404
    assert emu.put(u + "/" + "k" * 256, {"v": 1}).status == 400
    assert emu.put(u + "/big", {"v": "x" * 33000}).status == 400


def test_comment_properties(emu):
    k = emu.create()["key"]
    c = emu.post("/rest/api/2/issue/%s/comment" % k,
                 {"body": "hi", "properties": [{"key": "ferry", "value": {"origin": "a"}}]}).json
    u = "/rest/api/2/comment/%s/properties" % c["id"]
    assert emu.get(u + "/ferry").json == {"key": "ferry", "value": {"origin": "a"}}
    assert emu.put(u + "/two", {"x": 1}).status == 201
    assert emu.put(u + "/two", {"x": 2}).status == 200
    assert [x["key"] for x in emu.get(u).json["keys"]] == ["ferry", "two"]
    assert emu.delete(u + "/two").status == 204
    assert emu.get("/rest/api/2/comment/999999/properties").status == 404


def test_remote_links(emu):
    k = emu.create()["key"]
    u = "/rest/api/2/issue/%s/remotelink" % k
    link = {"globalId": "ferry:site-b:10001", "application": {"type": "ferry", "name": "ferry"},
            "relationship": "mirrors", "object": {"url": "https://b.example/browse/X-1", "title": "X-1"}}
    r = emu.post(u, link)
    assert r.status == 201 and set(r.json) == {"id", "self"}
    lid = r.json["id"]
    link["object"]["title"] = "X-1 renamed"
    r = emu.post(u, link)                       # same globalId: update
    assert r.status == 200 and r.json["id"] == lid
    ls = emu.get(u).json
    assert len(ls) == 1 and ls[0]["object"]["title"] == "X-1 renamed"
    assert emu.get(u + "?globalId=ferry:site-b:10001").json["id"] == lid
    assert emu.get("%s/%s" % (u, lid)).json["globalId"] == "ferry:site-b:10001"
    r = emu.post(u, {"object": {"title": "no url"}})
    assert r.status == 400 and r.json["errors"]["url"] == "Missing mandatory field: url"
    assert emu.delete(u + "?globalId=ferry%3Asite-b%3A10001").status == 204
    assert emu.get(u).json == []
    lid2 = emu.post(u, {"object": {"url": "https://x", "title": "t"}}).json["id"]
    assert emu.delete("%s/%s" % (u, lid2)).status == 204
    items = [i["field"] for h in emu.issue(k, "?expand=changelog")["changelog"]["histories"] for i in h["items"]]
    assert items.count("RemoteIssueLink") == 5   # create, update, delete, create, delete


def test_remote_links_disabled(emu):
    k = emu.create()["key"]
    emu.ctl("POST", "config", {"issueLinking": False})
    r = emu.get("/rest/api/2/issue/%s/remotelink" % k)
    assert r.status == 403 and r.json == {"errorMessages": ["Issue linking is currently disabled."], "errors": {}}


def test_bulkfetch_cloud(cloud):
    a = cloud.create("a")["key"]
    b = cloud.create("b")["key"]
    r = cloud.post("/rest/api/3/issue/bulkfetch", {"issueIdsOrKeys": [b, a, "NOPE-1"], "fields": ["summary"]})
    assert [i["key"] for i in r.json["issues"]] == [a, b]
    assert r.json["issueErrors"][0]["issueIdOrKey"] == "NOPE-1"
