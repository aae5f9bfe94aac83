"""Search: DC /rest/api/2/search and Cloud's enhanced /search/jql (+ the removed old search)."""
import pytest

from emutest import NOBODY


def _mk(emu, n, **kw):
    return [emu.create("issue %d" % i, **kw)["key"] for i in range(n)]


# ---------------------------------------------------------------------- Data Center
def test_dc_search_paging_and_total(server):
    _mk(server, 7)
    r = server.get("/rest/api/2/search?jql=project%3DDEMO%20ORDER%20BY%20key%20ASC&startAt=2&maxResults=3")
    b = r.json
    assert (b["startAt"], b["maxResults"], b["total"]) == (2, 3, 7)
    assert [i["key"] for i in b["issues"]] == ["DEMO-3", "DEMO-4", "DEMO-5"]
    b = server.post("/rest/api/2/search", {"jql": "project = DEMO", "maxResults": 1000}).json
    assert b["maxResults"] == 100            # the server caps; read the cap back
    assert [i["key"] for i in b["issues"]][:2] == ["DEMO-7", "DEMO-6"]   # default order key DESC


def test_dc_search_default_fields_navigable(server):
    k = _mk(server, 1)[0]
    server.post("/rest/api/2/issue/%s/comment" % k, {"body": "c"})
    i = server.post("/rest/api/2/search", {"jql": "key = %s" % k}).json["issues"][0]
    assert "summary" in i["fields"] and "comment" not in i["fields"] and "attachment" not in i["fields"]
    i = server.post("/rest/api/2/search", {"jql": "key = %s" % k, "fields": ["summary", "comment"]}).json["issues"][0]
    assert set(i["fields"]) == {"summary", "comment"}
    i = server.get("/rest/api/2/search?jql=key=%s&fields=summary&fields=labels" % k).json["issues"][0]
    assert set(i["fields"]) == {"summary", "labels"}


def test_dc_search_expand_changelog(server):
    k = _mk(server, 1)[0]
    server.put("/rest/api/2/issue/" + k, {"fields": {"summary": "new"}})
    i = server.post("/rest/api/2/search", {"jql": "key = %s" % k, "expand": ["changelog"]}).json["issues"][0]
    assert i["changelog"]["total"] == 1


def test_dc_search_result_window(make_emu):
    e = make_emu("server", {"searchWindow": 5})
    _mk(e, 8)
    assert e.get("/rest/api/2/search?jql=project=DEMO&startAt=0&maxResults=5").status == 200
    r = e.get("/rest/api/2/search?jql=project=DEMO&startAt=5&maxResults=5")
    assert r.status == 500 and "Search limit exceeded" in r.json["errorMessages"][0]
    # a page that ends inside the window is fine, even near its edge
    assert e.get("/rest/api/2/search?jql=project=DEMO&startAt=3&maxResults=2").status == 200


def test_dc_search_bad_jql(server):
    r = server.get("/rest/api/2/search?jql=project%20%3D%20NOPE")
    assert r.status == 400 and r.json["errors"] == {} and r.json["errorMessages"]
    r = server.get("/rest/api/2/search?jql=updated%20%3E%3D%20%222020-05-06T12%3A15%3A17.831Z%22")
    assert r.status == 400
    assert r.json["errorMessages"][0].startswith("Date value '2020-05-06T12:15:17.831Z' for field 'updated' is invalid")


def test_search_hides_unbrowsable(emu):
    _mk(emu, 2)
    if emu.cloud:
        r = emu.post("/rest/api/3/search/jql", {"jql": "created > -1d"}, auth=NOBODY["cloud"])
        assert r.json["issues"] == []
    else:
        r = emu.post("/rest/api/2/search", {"jql": ""}, auth=NOBODY["server"])
        assert r.json["total"] == 0


# ---------------------------------------------------------------------- Cloud
def test_cloud_old_search_removed(cloud):
    for path in ("/rest/api/2/search", "/rest/api/3/search", "/rest/api/latest/search"):
        r = cloud.get(path + "?jql=project=DEMO")
        assert r.status == 410
        assert r.json == {"errorMessages": [
            "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
            "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"]}
    assert cloud.post("/rest/api/2/search", {"jql": "project=DEMO"}).status == 410


def test_server_has_no_enhanced_search(server):
    assert server.get("/rest/api/2/search/jql?jql=project=DEMO").status == 404


@pytest.mark.parametrize("api", ["2", "3"])
def test_cloud_enhanced_search_tokens(cloud, api):
    _mk(cloud, 5)
    seen = []
    tok = None
    pages = 0
    while True:
        body = {"jql": "project = DEMO ORDER BY key ASC", "maxResults": 2, "fields": ["summary"]}
        if tok:
            body["nextPageToken"] = tok
        b = cloud.post("/rest/api/%s/search/jql" % api, body).json
        assert "total" not in b and "startAt" not in b
        seen += [i["key"] for i in b["issues"]]
        pages += 1
        if b["isLast"]:
            assert "nextPageToken" not in b
            break
        tok = b["nextPageToken"]
    assert seen == ["DEMO-1", "DEMO-2", "DEMO-3", "DEMO-4", "DEMO-5"] and pages == 3


def test_cloud_search_get_and_default_fields_id_only(cloud):
    _mk(cloud, 2)
    b = cloud.get("/rest/api/3/search/jql?jql=project%3DDEMO").json
    assert b["issues"] == [{"id": "10001"}, {"id": "10000"}] and b["isLast"] is True
    b = cloud.get("/rest/api/3/search/jql?jql=project%3DDEMO&fields=summary,status").json
    assert set(b["issues"][0]["fields"]) == {"summary", "status"}
    assert b["issues"][0]["key"] == "DEMO-2"


def test_cloud_search_unbounded_rejected(cloud):
    r = cloud.post("/rest/api/3/search/jql", {"jql": "order by key desc"})
    assert r.status == 400
    assert r.json["errorMessages"] == [
        "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."]
    assert cloud.post("/rest/api/3/search/jql", {"jql": ""}).status == 400


def test_cloud_search_bad_token(cloud):
    _mk(cloud, 1)
    r = cloud.post("/rest/api/3/search/jql", {"jql": "project = DEMO", "nextPageToken": "garbage"})
    assert r.status == 400


def test_cloud_search_embedded_cap_20(cloud):
    k = _mk(cloud, 1)[0]
    for n in range(25):
        cloud.post("/rest/api/2/issue/%s/comment" % k, {"body": "c%d" % n})
        cloud.put("/rest/api/2/issue/" + k, {"fields": {"summary": "s%d" % n}})
    b = cloud.post("/rest/api/3/search/jql", {"jql": "key = %s" % k, "fields": ["comment"],
                                               "expand": "changelog"}).json
    i = b["issues"][0]
    assert len(i["fields"]["comment"]["comments"]) == 20 and i["fields"]["comment"]["total"] == 25
    assert len(i["changelog"]["histories"]) == 20 and i["changelog"]["total"] == 25
    # the issue itself returns them all (comments) / the changelog endpoint pages the rest
    assert len(cloud.issue(k)["fields"]["comment"]["comments"]) == 25


def test_cloud_search_properties_and_reconcile_limits(cloud):
    k = _mk(cloud, 1)[0]
    cloud.put("/rest/api/2/issue/%s/properties/ferry" % k, {"a": 1})
    b = cloud.post("/rest/api/3/search/jql", {"jql": "key = %s" % k, "properties": ["ferry"],
                                               "fields": ["summary"]}).json
    assert b["issues"][0]["properties"] == {"ferry": {"a": 1}}
    r = cloud.post("/rest/api/3/search/jql", {"jql": "key = %s" % k, "properties": list("abcdef")})
    assert r.status == 400
    r = cloud.post("/rest/api/3/search/jql", {"jql": "key = %s" % k, "reconcileIssues": list(range(51))})
    assert r.status == 400


def test_cloud_approximate_count(cloud):
    _mk(cloud, 3)
    assert cloud.post("/rest/api/3/search/approximate-count", {"jql": "project = DEMO"}).json == {"count": 3}


def test_search_jql_features(emu):
    a = emu.create("alpha", labels=["x"], priority={"name": "High"})["key"]
    b = emu.create("beta", project="OPS", issuetype="Incident")["key"]
    emu.post("/rest/api/2/issue/%s/transitions" % a, {"transition": {"id": "11"}})
    keys = lambda jql: sorted(i["key"] for i in emu.search(jql, fields=["summary"]))  # noqa: E731
    assert keys("project in (DEMO, OPS)") == [a, b]
    assert keys("key in (%s, %s) AND labels = x" % (a, b)) == [a]
    assert keys("issuetype = Incident OR status = \"In Progress\"") == [a, b]
    assert keys("project = OPS AND (status = Open OR labels = x)") == [b]
    assert keys("updated >= -5m") == [a, b]
    assert keys("created < -1d AND project = DEMO") == []
    assert keys("assignee is EMPTY and project = DEMO") == [a]


def test_dc_search_default_window_of_10000(server):
    server.ctl("POST", "generate", {"count": 10050})
    r = server.get("/rest/api/2/search?jql=project%3DDEMO&startAt=9900&maxResults=100&fields=summary")
    assert r.status == 200 and r.json["total"] == 10050 and len(r.json["issues"]) == 100
    r = server.get("/rest/api/2/search?jql=project%3DDEMO&startAt=10000&maxResults=100&fields=summary")
    assert r.status == 500 and r.json["errorMessages"][0].startswith("Search limit exceeded")
    # paging by a moving bound instead works past the window
    r = server.get("/rest/api/2/search?jql=project%3DDEMO%20AND%20key%20%3E%20DEMO-10000%20ORDER%20BY%20key%20ASC"
                   "&maxResults=100&fields=summary")
    assert r.status == 200 and r.json["total"] == 50


def test_dc_validate_query_warn_and_false(server):
    k = _mk(server, 1)[0]
    jql = "key in (%s, DEMO-99)" % k
    assert server.post("/rest/api/2/search", {"jql": jql}).status == 400
    b = server.post("/rest/api/2/search", {"jql": jql, "validateQuery": "warn"}).json
    assert [i["key"] for i in b["issues"]] == [k] and b["warningMessages"]
    b = server.post("/rest/api/2/search", {"jql": jql, "validateQuery": False}).json
    assert [i["key"] for i in b["issues"]] == [k] and "warningMessages" not in b
