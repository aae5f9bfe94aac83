"""serverInfo, myself, users, permissions, projects, metadata, authentication, transport."""
import base64
import gzip
import http.client
import re

from emutest import ADMIN, NOBODY

TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d{4}$")


def test_server_info_server(server):
    r = server.get("/rest/api/2/serverInfo", auth=None)
    assert r.status == 200
    b = r.json
    assert b["deploymentType"] != "Cloud"
    assert TS.match(b["serverTime"])
    assert b["baseUrl"] == server.base
    assert isinstance(b["versionNumbers"], list) and b["versionNumbers"][0] >= 9


def test_server_info_cloud(cloud):
    b = cloud.get("/rest/api/3/serverInfo", auth=None).json
    assert b["deploymentType"] == "Cloud"
    assert b["version"] == "1001.0.0-SNAPSHOT"
    assert b["serverTimeZone"] == "UTC"


def test_myself(emu):
    b = emu.get("/rest/api/2/myself").json
    assert b["displayName"] == "Ferry Sync"
    assert b["timeZone"] == "Europe/Berlin"
    if emu.cloud:
        assert b["accountId"].startswith("557058:") and "name" not in b
    else:
        assert b["name"] == "ferry" and b["key"].startswith("JIRAUSER")
    assert b["groups"]["size"] == len(b["groups"]["items"])


def test_user_lookup(emu):
    if emu.cloud:
        acc = emu.user_ref("alice")["accountId"]
        assert emu.get("/rest/api/3/user?accountId=" + acc).json["displayName"] == "Alice Example"
        assert emu.get("/rest/api/2/user?accountId=nope").status == 404
        assert emu.get("/rest/api/2/user?username=alice").status == 400
    else:
        assert emu.get("/rest/api/2/user?username=alice").json["name"] == "alice"
        key = emu.get("/rest/api/2/user?username=alice").json["key"]
        assert emu.get("/rest/api/2/user?key=" + key).json["name"] == "alice"
        assert emu.get("/rest/api/2/user?username=nope").status == 404


def test_mypermissions_dc_returns_all(server):
    p = server.get("/rest/api/2/mypermissions?projectKey=DEMO").json["permissions"]
    assert p["BROWSE_PROJECTS"]["havePermission"] is True
    assert p["ADMINISTER_PROJECTS"]["havePermission"] is False
    assert "BROWSE" in p and len(p) > 30
    n = server.get("/rest/api/2/mypermissions?projectKey=DEMO", auth=ADMIN["server"]).json
    assert n["permissions"]["ADMINISTER_PROJECTS"]["havePermission"] is True


def test_mypermissions_cloud_requires_permissions(cloud):
    r = cloud.get("/rest/api/3/mypermissions")
    assert r.status == 400
    r = cloud.get("/rest/api/3/mypermissions?projectKey=DEMO&permissions=BROWSE_PROJECTS,EDIT_ISSUES")
    assert r.status == 200
    assert set(r.json["permissions"]) == {"BROWSE_PROJECTS", "EDIT_ISSUES"}
    assert r.json["permissions"]["EDIT_ISSUES"]["havePermission"] is True


def test_mypermissions_user_without_rights(emu):
    q = "?permissions=BROWSE_PROJECTS" if emu.cloud else ""
    p = emu.get("/rest/api/2/mypermissions" + q, auth=NOBODY[emu.flavor]).json["permissions"]
    assert p["BROWSE_PROJECTS"]["havePermission"] is False


def test_project_and_statuses(emu):
    b = emu.get("/rest/api/2/project/DEMO").json
    assert b["key"] == "DEMO" and b["id"] == "10000"
    assert [t["name"] for t in b["issueTypes"]] == ["Task", "Bug", "Story", "Sub-task"]
    assert emu.get("/rest/api/2/project/10000").json["key"] == "DEMO"
    ops = emu.get("/rest/api/2/project/OPS").json
    assert "Incident" in [t["name"] for t in ops["issueTypes"]]
    st = emu.get("/rest/api/2/project/DEMO/statuses").json
    assert {s["name"] for s in st[0]["statuses"]} == {"Open", "In Progress", "Done"}
    assert emu.get("/rest/api/2/project/NOPE").status == 404
    assert emu.get("/rest/api/2/project/DEMO", auth=NOBODY[emu.flavor]).status == 404
    keys = [p["key"] for p in emu.get("/rest/api/2/project").json]
    assert keys == ["DEMO", "OPS"]


def test_createmeta_jira9(emu):
    r = emu.get("/rest/api/2/issue/createmeta/DEMO/issuetypes?maxResults=2")
    b = r.json
    assert b["total"] == 4 and b["maxResults"] == 2 and not b["isLast"] and len(b["values"]) == 2
    b2 = emu.get("/rest/api/2/issue/createmeta/DEMO/issuetypes?startAt=2").json
    assert b2["isLast"] and [v["name"] for v in b2["values"]] == ["Story", "Sub-task"]
    f = emu.get("/rest/api/2/issue/createmeta/DEMO/issuetypes/10001").json
    ids = {v["fieldId"] for v in f["values"]}
    assert {"summary", "description", "labels", "priority"} <= ids
    summary = [v for v in f["values"] if v["fieldId"] == "summary"][0]
    assert summary["required"] is True


def test_createmeta_legacy(emu):
    r = emu.get("/rest/api/2/issue/createmeta")
    if emu.cloud:
        assert r.status == 200 and r.json["projects"]
    else:
        assert r.status == 404   # removed in Jira 9


def test_fields_and_editmeta(emu):
    fs = emu.get("/rest/api/2/field").json
    assert "summary" in {f["id"] for f in fs}
    i = emu.create()
    em = emu.get("/rest/api/2/issue/%s/editmeta" % i["key"]).json
    assert "labels" in em["fields"] and "add" in em["fields"]["labels"]["operations"]


# ----------------------------------------------------------------------- authentication
def _basic(u, p):
    return {"Authorization": "Basic " + base64.b64encode(("%s:%s" % (u, p)).encode()).decode()}


def test_basic_auth_server(server):
    assert server.get("/rest/api/2/myself", auth=("ferry", "ferry-secret")).status == 200
    r = server.get("/rest/api/2/myself", auth=("ferry", "wrong"))
    assert r.status == 401
    assert r.headers["x-seraph-loginreason"] == "AUTHENTICATED_FAILED"
    r = server.get("/rest/api/2/myself", auth=None)
    assert r.status == 401 and r.json["errorMessages"]
    assert "x-seraph-loginreason" not in r.headers


def test_bearer_pat_server(server):
    assert server.get("/rest/api/2/myself", auth="ferry-pat").json["name"] == "ferry"
    r = server.get("/rest/api/2/myself", auth="bogus-pat")
    assert r.status == 401


def test_cloud_auth_email_token(cloud):
    assert cloud.get("/rest/api/3/myself", auth=("ferry@example.com", "ferry-api-token")).status == 200
    # passwords and user names are not accepted on Cloud; nor are PATs
    r = cloud.get("/rest/api/3/myself", auth=("ferry", "ferry-secret"))
    assert r.status == 401 and r.text == "Client must be authenticated to access this resource."
    assert cloud.get("/rest/api/3/myself", auth="ferry-pat").status == 401


def test_captcha_after_failed_logins(server):
    for _ in range(2):
        assert server.get("/rest/api/2/myself", auth=("alice", "bad")).status == 401
    r = server.get("/rest/api/2/myself", auth=("alice", "bad"))
    assert r.status == 403
    assert r.headers["x-seraph-loginreason"] == "AUTHENTICATION_DENIED"
    assert r.headers["x-authentication-denied-reason"].startswith("CAPTCHA_CHALLENGE; login-url=")
    # now even the right password is refused until an admin (here /_emu/) clears it
    assert server.get("/rest/api/2/myself", auth=("alice", "alice-secret")).status == 403
    assert server.ctl("GET", "logins") == {"alice": 3}
    server.ctl("DELETE", "logins")
    assert server.get("/rest/api/2/myself", auth=("alice", "alice-secret")).status == 200


def test_successful_login_resets_failed_count(server):
    server.get("/rest/api/2/myself", auth=("alice", "bad"))
    server.get("/rest/api/2/myself", auth=("alice", "bad"))
    assert server.get("/rest/api/2/myself", auth=("alice", "alice-secret")).status == 200
    assert server.get("/rest/api/2/myself", auth=("alice", "bad")).status == 401


def test_basic_auth_disabled(emu):
    emu.ctl("POST", "config", {"basicAuthDisabled": True})
    r = emu.get("/rest/api/2/myself")
    assert r.status == 403
    assert r.json == {"message": "Basic Authentication has been disabled on this instance."}
    if not emu.cloud:
        assert emu.get("/rest/api/2/myself", auth="ferry-pat").status == 200
    emu.ctl("DELETE", "config")
    assert emu.get("/rest/api/2/myself").status == 200


def test_invisible_issue_is_404(emu):
    i = emu.create()
    r = emu.get("/rest/api/2/issue/" + i["key"], auth=NOBODY[emu.flavor])
    assert r.status == 404
    assert r.json == {"errorMessages": ["Issue does not exist or you do not have permission to see it."],
                      "errors": {}}


def test_unknown_route_404_and_api3_only_on_cloud(emu):
    r = emu.get("/rest/api/3/myself")
    assert r.status == (200 if emu.cloud else 404)


# ----------------------------------------------------------------------- transport
def test_gzip_and_keepalive(emu):
    conn = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=5)
    try:
        for _ in range(3):   # several requests on one connection (HTTP/1.1 keep-alive)
            r = emu.get("/rest/api/2/project/DEMO", headers={"Accept-Encoding": "gzip"}, conn=conn)
            assert r.status == 200 and r.json["key"] == "DEMO"
            assert r.headers.get("content-encoding") == "gzip"
    finally:
        conn.close()
    raw = http.client.HTTPConnection("127.0.0.1", emu.port, timeout=5)
    raw.request("GET", "/rest/api/2/project/DEMO", headers=dict(_basic(*emu.creds), **{"Accept-Encoding": "gzip"}))
    resp = raw.getresponse()
    body = resp.read()
    assert int(resp.getheader("Content-Length")) == len(body)
    assert gzip.decompress(body).startswith(b"{")
    raw.close()


def test_context_path(make_emu):
    e = make_emu("server", {"contextPath": "/jira"})
    r = e.get("/jira/rest/api/2/serverInfo", auth=None)
    assert r.status == 200 and r.json["baseUrl"].endswith("/jira")
    assert e.create()["self"].startswith(e.base + "/jira/rest/api/2/issue/")


def test_concurrent_requests(emu):
    import threading
    keys, errors = [], []

    def work():
        try:
            for _ in range(5):
                keys.append(emu.create()["key"])
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    ts = [threading.Thread(target=work) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors and len(set(keys)) == 40


def test_project_roles_issuetypes_user_search(emu):
    roles = emu.get("/rest/api/2/project/DEMO/role").json
    assert set(roles) == {"Administrators", "Developers", "Users"}
    rid = roles["Developers"].rsplit("/", 1)[1]
    dev = emu.get("/rest/api/2/project/DEMO/role/" + rid).json
    assert dev["name"] == "Developers"
    names = {a["displayName"] for a in dev["actors"]}
    assert names == {"Ferry Sync", "Alice Example"}
    assert emu.get("/rest/api/2/project/DEMO/role/1").status == 404
    types = {t["name"] for t in emu.get("/rest/api/2/issuetype").json}
    assert {"Task", "Bug", "Incident", "Sub-task"} <= types
    if emu.cloud:
        found = emu.get("/rest/api/3/user/search?query=alice").json
        assert [u["displayName"] for u in found] == ["Alice Example"]
    else:
        found = emu.get("/rest/api/2/user/search?username=ali").json
        assert [u["name"] for u in found] == ["alice"]


def test_dc_names_the_user_in_a_header(server):
    assert server.get("/rest/api/2/myself").headers["x-ausername"] == "ferry"
    assert server.get("/rest/api/2/serverInfo", auth=None).headers["x-ausername"] == "anonymous"


def test_cloud_rejected_credentials_read_as_anonymous(cloud):
    """Cloud treats a rejected API token as an anonymous caller on reads: 200 with nothing in
    it (or 404), plus X-Seraph-LoginReason: AUTHENTICATED_FAILED; /myself answers 401."""
    k = cloud.create()["key"]
    bad = ("ferry@example.com", "revoked-token")
    r = cloud.post("/rest/api/3/search/jql", {"jql": "project = DEMO", "fields": ["summary"]}, auth=bad)
    assert r.status == 200 and r.json["issues"] == []
    assert r.headers["x-seraph-loginreason"] == "AUTHENTICATED_FAILED"
    r = cloud.get("/rest/api/3/issue/" + k, auth=bad)
    assert r.status == 404 and r.headers["x-seraph-loginreason"] == "AUTHENTICATED_FAILED"
    assert cloud.get("/rest/api/3/project", auth=bad).json == []
    assert cloud.get("/rest/api/3/myself", auth=bad).status == 401
    assert cloud.put("/rest/api/3/issue/" + k, {"fields": {"summary": "x"}}, auth=bad).status == 401
    r = cloud.post("/rest/api/3/search/jql", {"jql": "project = DEMO"}, auth=None)
    assert r.status == 200 and r.json["issues"] == [] and "x-seraph-loginreason" not in r.headers
    cloud.ctl("POST", "config", {"cloudAnonymousOnBadCredentials": False})
    assert cloud.post("/rest/api/3/search/jql", {"jql": "project = DEMO"}, auth=bad).status == 401


def test_gzip_request_body(emu):
    body = gzip.compress(b'{"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"}, "summary": "gz"}}')
    r = emu.request("POST", "/rest/api/2/issue", raw=body,
                    headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert r.status == 201 and emu.issue(r.json["key"])["fields"]["summary"] == "gz"
