"""The /_emu/ control API: every fault it can inject, request counts, reset, seeding, config."""
import http.client
import json
import os
import time

import pytest

from emutest import PAYLOADS


def _fault(emu, **spec):
    return emu.ctl("POST", "faults", spec)


def test_fail_next_n_with_500(emu):
    _fault(emu, route="/rest/api/2/myself", status=500, count=2)
    assert emu.get("/rest/api/2/myself").status == 500
    r = emu.get("/rest/api/2/myself")
    assert r.status == 500 and r.json["errorMessages"]
    assert emu.get("/rest/api/2/myself").status == 200
    assert emu.ctl("GET", "faults")["faults"] == []


@pytest.mark.parametrize("status", [502, 503])
def test_gateway_errors(emu, status):
    _fault(emu, route="*/serverInfo", status=status, retryAfter=3)
    r = emu.get("/rest/api/2/serverInfo")
    assert r.status == status and r.headers["retry-after"] == "3"
    if status == 502:
        assert r.headers["content-type"].startswith("text/html") and b"502 Bad Gateway" in r.body
    else:
        assert r.json["errorMessages"]


def test_error_rate(emu):
    _fault(emu, route="/rest/api/2/serverInfo", status=503, rate=0.5)
    codes = [emu.get("/rest/api/2/serverInfo").status for _ in range(40)]
    assert 5 < codes.count(503) < 35 and codes.count(200) > 5
    emu.ctl("DELETE", "faults")
    assert all(emu.get("/rest/api/2/serverInfo").status == 200 for _ in range(5))


def test_rate_limit_with_retry_after(emu):
    _fault(emu, kind="rate_limit", route="*/myself", retryAfter=2)
    r = emu.get("/rest/api/2/myself")
    assert r.status == 429 and r.headers["retry-after"] == "2"
    if emu.cloud:
        assert r.headers["ratelimit-reason"] == "jira-burst-based"
        assert r.headers["x-ratelimit-reset"].endswith("Z")
    else:
        assert r.headers["x-ratelimit-remaining"] == "0" and "x-ratelimit-fillrate" in r.headers


def test_rate_limit_without_retry_after(emu):
    _fault(emu, kind="rate_limit", route="*/myself")
    r = emu.get("/rest/api/2/myself")
    assert r.status == 429 and "retry-after" not in r.headers


def test_latency(emu):
    _fault(emu, kind="latency", route="*/myself", ms=300, count=1)
    t = time.time()
    assert emu.get("/rest/api/2/myself").status == 200
    assert time.time() - t >= 0.29


def test_dropped_connection(emu):
    _fault(emu, kind="drop", route="*/myself")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine)):
        emu.get("/rest/api/2/myself")
    assert emu.get("/rest/api/2/myself").status == 200


def test_truncated_json_body(emu):
    _fault(emu, kind="truncate", route="/rest/api/2/project/{key}")
    r = emu.get("/rest/api/2/project/DEMO")
    assert r.status == 200 and int(r.headers["content-length"]) == len(r.body)
    with pytest.raises(ValueError):
        json.loads(r.body)


def test_truncated_connection_cut(emu):
    _fault(emu, kind="truncate", mode="cut", route="/rest/api/2/project/{key}")
    with pytest.raises(http.client.IncompleteRead):
        emu.get("/rest/api/2/project/DEMO")


def test_html_error_page(emu):
    _fault(emu, kind="html", route="*", method="POST", status=504)
    r = emu.post("/rest/api/2/issue", {"fields": {}})
    assert r.status == 504 and r.headers["content-type"] == "text/html" and b"<html>" in r.body


def test_fault_after_the_write(emu):
    """``after: true``: the request is processed, then the answer is lost (in-doubt write)."""
    _fault(emu, kind="drop", method="POST", route="/rest/api/2/issue", after=True)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError, http.client.BadStatusLine)):
        emu.post("/rest/api/2/issue", {"fields": {"project": {"key": "DEMO"}, "issuetype": {"name": "Task"},
                                                  "summary": "in doubt"}})
    assert emu.issue("DEMO-1")["fields"]["summary"] == "in doubt"
    _fault(emu, status=502, method="POST", route="/rest/api/2/issue/{id}/comment", after=True)
    assert emu.post("/rest/api/2/issue/DEMO-1/comment", {"body": "x"}).status == 502
    assert emu.issue("DEMO-1")["fields"]["comment"]["total"] == 1


def test_fault_matches_method_and_route_template(emu):
    k = emu.create()["key"]
    _fault(emu, method="GET", route="/rest/api/2/issue/{id}", status=500, count=5)
    assert emu.put("/rest/api/2/issue/" + k, {"fields": {"summary": "ok"}}).status == 204
    assert emu.get("/rest/api/2/issue/%s/comment" % k).status == 200
    assert emu.get("/rest/api/2/issue/" + k).status == 500
    f = emu.ctl("GET", "faults")["faults"][0]
    assert f["count"] == 4 and f["hits"] == 1
    emu.ctl("DELETE", "faults/%d" % f["id"])
    assert emu.get("/rest/api/2/issue/" + k).status == 200


def test_faults_never_touch_emu_api(emu):
    _fault(emu, kind="drop", route="*", rate=1.0)
    assert emu.ctl("GET", "health")["ok"] is True
    emu.ctl("DELETE", "faults")


def test_request_counts(emu):
    k = emu.create()["key"]
    emu.get("/rest/api/2/issue/" + k)
    emu.get("/rest/api/2/issue/" + k)
    emu.put("/rest/api/2/issue/" + k, {"fields": {"summary": "x"}})
    c = emu.ctl("GET", "counts")
    assert c["counts"]["GET /rest/api/2/issue/{id}"] == 2
    assert c["counts"]["PUT /rest/api/2/issue/{id}"] == 1
    assert c["counts"]["POST /rest/api/2/issue"] == 1
    assert c["total"] == 4
    emu.ctl("DELETE", "counts")
    assert emu.ctl("GET", "counts") == {"counts": {}, "total": 0}
    _fault(emu, route="*/myself", status=503)
    emu.get("/rest/api/2/myself")
    assert emu.ctl("GET", "counts")["counts"] == {"GET /rest/api/2/myself": 1}   # faulted ones count


def test_reset_all_data(emu):
    emu.create()
    emu.ctl("POST", "clock", {"offsetSeconds": 100})
    emu.ctl("POST", "reset")
    assert emu.get("/rest/api/2/issue/DEMO-1").status == 404
    assert emu.create()["key"] == "DEMO-1"
    assert emu.ctl("GET", "clock")["offsetMs"] == 0


def test_runtime_permission_removal(emu):
    k = emu.create()["key"]
    emu.ctl("POST", "config", {"projects": {"DEMO": {"permissions": {"BROWSE_PROJECTS": ["role:Administrators"]}}}})
    assert emu.get("/rest/api/2/issue/" + k).status == 404
    emu.ctl("DELETE", "config")
    assert emu.get("/rest/api/2/issue/" + k).status == 200
    emu.ctl("POST", "config", {"projects": {"DEMO": {"permissions": {"ADD_COMMENTS": []}}}})
    assert emu.post("/rest/api/2/issue/%s/comment" % k, {"body": "x"}).status == 403


def test_config_file_two_sites_differ(make_emu):
    cfg = {"projects": [{"key": "ABC", "id": "20000", "name": "Other site",
                         "issueTypes": [{"id": "1", "name": "Defect"}]}],
           "replace": ["projects"]}
    e = make_emu("server", cfg)
    assert [p["key"] for p in e.get("/rest/api/2/project").json] == ["ABC"]
    r = e.post("/rest/api/2/issue", {"fields": {"project": {"key": "ABC"}, "issuetype": {"name": "Defect"},
                                                "summary": "x"}})
    assert r.json["key"] == "ABC-1"


@pytest.mark.parametrize("name", ["dc-v2-issue-get-basic.json",
                                  "dc-v2-issue-get-comments-visibility-attachments-changelog.json",
                                  "cloud-v2-issue-get.json"])
def test_seed_from_recorded_issue(emu, name):
    with open(os.path.join(PAYLOADS, name)) as f:
        rec = json.load(f)
    r = emu.request("POST", "/_emu/seed", rec, auth=None)
    assert r.status == 201
    key = r.json["issues"][0]["key"]
    assert key == rec["key"]
    got = emu.get("/rest/api/2/issue/%s?expand=changelog" % key, auth=("admin", "admin-secret") if not emu.cloud
                  else ("admin@example.com", "admin-api-token")).json
    assert got["id"] == rec["id"]
    assert got["fields"]["summary"] == rec["fields"]["summary"]
    assert got["fields"]["labels"] == rec["fields"]["labels"]
    # the next issue created in the seeded project continues after the seeded key
    proj = rec["key"].rsplit("-", 1)[0]
    nxt = emu.post("/rest/api/2/issue", {"fields": {"project": {"key": proj}, "issuetype": {"name": rec["fields"]["issuetype"]["name"]},
                                                    "summary": "after seed"}},
                   auth=("admin", "admin-secret") if not emu.cloud else ("admin@example.com", "admin-api-token"))
    assert nxt.status == 201 and int(nxt.json["key"].rsplit("-", 1)[1]) > int(rec["key"].rsplit("-", 1)[1])


def test_seed_search_envelope(emu):
    with open(os.path.join(PAYLOADS, "dc-v2-search.json")) as f:
        rec = json.load(f)
    r = emu.request("POST", "/_emu/seed", rec, auth=None)
    assert len(r.json["issues"]) == len(rec["issues"])
