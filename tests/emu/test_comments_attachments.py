"""Comments (paging, order, visibility, errors) and attachments (upload, limits, download)."""
import re
from urllib.parse import quote

from emutest import ADMIN, ALICE, NOBODY


def _comment(emu, key, body, **kw):
    return emu.post("/rest/api/2/issue/%s/comment" % key, dict(body=body, **kw))


def test_comment_crud(emu):
    k = emu.create()["key"]
    r = _comment(emu, k, "first")
    assert r.status == 201
    c = r.json
    assert c["body"] == "first" and c["author"]["displayName"] == "Ferry Sync"
    assert c["created"] == c["updated"]
    assert emu.get("/rest/api/2/issue/%s/comment/%s" % (k, c["id"])).json["body"] == "first"
    r = emu.put("/rest/api/2/issue/%s/comment/%s" % (k, c["id"]), {"body": "edited"})
    assert r.status == 200 and r.json["body"] == "edited"
    assert emu.delete("/rest/api/2/issue/%s/comment/%s" % (k, c["id"])).status == 204
    assert emu.get("/rest/api/2/issue/%s/comment/%s" % (k, c["id"])).status == 404


def test_comment_client_timestamps_ignored(emu):
    k = emu.create()["key"]
    c = _comment(emu, k, "x", created="2001-01-01T00:00:00.000+0000").json
    assert not c["created"].startswith("2001")


def test_comment_paging_and_order(emu):
    k = emu.create()["key"]
    for n in range(5):
        _comment(emu, k, "c%d" % n)
    b = emu.get("/rest/api/2/issue/%s/comment?startAt=1&maxResults=2" % k).json
    assert (b["startAt"], b["maxResults"], b["total"]) == (1, 2, 5)
    assert [c["body"] for c in b["comments"]] == ["c1", "c2"]
    b = emu.get("/rest/api/2/issue/%s/comment?orderBy=-created" % k).json
    assert [c["body"] for c in b["comments"]] == ["c4", "c3", "c2", "c1", "c0"]
    b = emu.get("/rest/api/2/issue/%s/comment" % k).json
    assert b["maxResults"] == (1048576 if emu.cloud else 50)
    assert emu.get("/rest/api/2/issue/%s/comment?orderBy=bogus" % k).status == 400


def test_comment_too_long(emu):
    k = emu.create()["key"]
    r = _comment(emu, k, "x" * 32768)
    assert r.status == 400
    assert r.json == {"errorMessages": [], "errors": {
        "comment": "The entered text is too long. It exceeds the allowed limit of 32,767 characters."}}
    assert _comment(emu, k, "x" * 32767).status == 201


def test_comment_visibility_role_and_group(emu):
    k = emu.create()["key"]
    r = _comment(emu, k, "devs only", visibility={"type": "role", "value": "Developers"})
    assert r.status == 201 and r.json["visibility"]["value"] == "Developers"
    # ferry is not in secret-group: DC's commentLevel error
    r = _comment(emu, k, "secret", visibility={"type": "group", "value": "secret-group"})
    assert r.status == 400
    assert r.json["errors"] == {"commentLevel": "You are currently not a member of the group: secret-group."}
    r = _comment(emu, k, "admins", visibility={"type": "role", "value": "Administrators"})
    assert r.json["errors"] == {"commentLevel": "You are currently not a member of the project role: Administrators."}
    r = _comment(emu, k, "x", visibility={"type": "group", "value": "some-fake-group"})
    assert r.json["errors"] == {"commentLevel": "Group: some-fake-group does not exist."}
    r = _comment(emu, k, "x", visibility={"type": "role", "value": "Nope"})
    assert r.json["errors"] == {"commentLevel": "Invalid role level specified."}
    # the admin posts a comment restricted to secret-group: hidden from ferry, visible to admin
    r = emu.post("/rest/api/2/issue/%s/comment" % k,
                 {"body": "hidden", "visibility": {"type": "group", "value": "secret-group"}},
                 auth=ADMIN[emu.flavor])
    assert r.status == 201
    hid = r.json["id"]
    mine = emu.get("/rest/api/2/issue/%s/comment" % k).json
    assert [c["body"] for c in mine["comments"]] == ["devs only"] and mine["total"] == 1
    assert emu.get("/rest/api/2/issue/%s/comment/%s" % (k, hid)).status == 404
    assert [c["body"] for c in emu.issue(k)["fields"]["comment"]["comments"]] == ["devs only"]
    adm = emu.get("/rest/api/2/issue/%s/comment" % k, auth=ADMIN[emu.flavor]).json
    assert [c["body"] for c in adm["comments"]] == ["hidden"]   # admin is not in Developers
    # membership changes at runtime
    emu.ctl("POST", "membership", {"user": "ferry", "group": "secret-group"})
    assert emu.get("/rest/api/2/issue/%s/comment" % k).json["total"] == 2
    emu.ctl("POST", "membership", {"user": "ferry", "project": "DEMO", "role": "Developers", "member": False})
    assert [c["body"] for c in emu.get("/rest/api/2/issue/%s/comment" % k).json["comments"]] == ["hidden"]


def test_comment_visibility_disabled(emu):
    emu.ctl("POST", "config", {"visibility": {"group": False}})
    k = emu.create()["key"]
    r = _comment(emu, k, "x", visibility={"type": "group", "value": "jira-users"})
    assert r.json["errors"] == {"commentLevel": "Group level visibility has been disabled."}


def test_comment_permissions(emu):
    k = emu.create()["key"]
    c = emu.post("/rest/api/2/issue/%s/comment" % k, {"body": "by admin"}, auth=ADMIN[emu.flavor]).json
    # alice is a Developer: may edit all comments? no - default scheme gives that to Developers too
    emu.ctl("POST", "membership", {"user": "alice", "project": "DEMO", "role": "Developers", "member": False})
    r = emu.put("/rest/api/2/issue/%s/comment/%s" % (k, c["id"]), {"body": "x"}, auth=ALICE[emu.flavor])
    assert r.status == 403
    assert emu.post("/rest/api/2/issue/%s/comment" % k, {"body": "x"}, auth=NOBODY[emu.flavor]).status == 404


# ---------------------------------------------------------------------- attachments
def test_upload_several_files_one_request(emu):
    k = emu.create()["key"]
    r = emu.upload(k, [("a.txt", b"hello"), ("b.bin", b"\x00\x01\x02")])
    assert r.status == 200
    b = r.json
    assert [a["filename"] for a in b] == ["a.txt", "b.bin"] and [a["size"] for a in b] == [5, 3]
    assert b[0]["mimeType"] == "text/plain"
    hs = emu.issue(k, "?expand=changelog")["changelog"]["histories"]
    assert len(hs) == 1 and [i["toString"] for i in hs[0]["items"]] == ["a.txt", "b.bin"]
    assert [a["filename"] for a in emu.issue(k)["fields"]["attachment"]] == ["a.txt", "b.bin"]


def test_upload_requires_xsrf_token(emu):
    k = emu.create()["key"]
    r = emu.upload(k, [("a.txt", b"x")], token=False)
    assert r.status == 403 and r.text == "XSRF check failed"


def test_upload_ignores_parts_not_named_file(emu):
    k = emu.create()["key"]
    r = emu.upload(k, [("a.txt", b"x")], name="attachment")
    assert r.status == 400
    assert emu.issue(k)["fields"]["attachment"] == []


def test_upload_limit(emu):
    m = emu.get("/rest/api/2/attachment/meta").json
    assert m == {"enabled": True, "uploadLimit": 10485760}
    emu.ctl("POST", "config", {"attachments": {"uploadLimit": 10}})
    k = emu.create()["key"]
    r = emu.upload(k, [("big.bin", b"x" * 11)])
    assert r.status == (413 if emu.cloud else 404)
    assert emu.upload(k, [("ok.bin", b"x" * 10)]).status == 200


def test_attachment_metadata_download_delete(emu):
    k = emu.create()["key"]
    data = bytes(range(256)) * 4
    a = emu.upload(k, [("data.bin", data)]).json[0]
    meta = emu.get("/rest/api/2/attachment/%s" % a["id"]).json
    assert meta["filename"] == "data.bin" and meta["size"] == len(data)
    if emu.cloud:
        assert meta["id"] == int(a["id"])
        r = emu.get("/rest/api/3/attachment/content/%s" % a["id"])
        assert r.status == 303
        loc = r.headers["location"]
        path = re.sub(r"^http://[^/]+", "", loc)
        r2 = emu.get(path, auth=None)            # the media URL is pre-signed
        assert r2.status == 200 and r2.body == data
        r3 = emu.get("/rest/api/3/attachment/content/%s?redirect=false" % a["id"])
        assert r3.status == 200 and r3.body == data
        rr = emu.get("/rest/api/3/attachment/content/%s?redirect=false" % a["id"], headers={"Range": "bytes=10-19"})
    else:
        path = re.sub(r"^http://[^/]+", "", meta["content"])
        assert path == "/secure/attachment/%s/data.bin" % a["id"]
        r = emu.get(path)
        assert r.status == 200 and r.body == data
        assert emu.get(path, auth=None).status == 401
        rr = emu.get(path, headers={"Range": "bytes=10-19"})
    assert rr.status == 206 and rr.body == data[10:20]
    assert rr.headers["content-range"] == "bytes 10-19/%d" % len(data)
    assert emu.delete("/rest/api/2/attachment/%s" % a["id"]).status == 204
    assert emu.get("/rest/api/2/attachment/%s" % a["id"]).status == 404
    items = [i for h in emu.issue(k, "?expand=changelog")["changelog"]["histories"] for i in h["items"]]
    dl = [i for i in items if i["from"] == str(a["id"])]
    assert dl and dl[0]["field"] == "Attachment" and dl[0]["fromString"] == "data.bin" and dl[0]["to"] is None


def test_download_of_awkward_names_by_id_with_rfc6266_header(emu):
    k = emu.create()["key"]
    for name in ["dir/sub.txt", "naïve ✓ 漢字.txt", "with space.txt"]:
        a = emu.upload(k, [(name, b"data")]).json[0]
        if emu.cloud:
            r = emu.get("/rest/api/3/attachment/content/%s?redirect=false" % a["id"])
        else:
            # Jira serves by id whatever the name part of the URL holds.
            r = emu.get("/secure/attachment/%s/%s" % (a["id"], quote(name, safe="/")))
        assert r.status == 200 and r.body == b"data", name
        cd = r.headers["content-disposition"]
        assert cd.startswith('attachment; filename="')
        assert "filename*=UTF-8''%s" % quote(name, safe="") in cd


def test_duplicate_filenames_are_kept(emu):
    k = emu.create()["key"]
    a = emu.upload(k, [("same.txt", b"1")]).json[0]
    b = emu.upload(k, [("same.txt", b"22")]).json[0]
    assert a["id"] != b["id"]
    assert len(emu.issue(k)["fields"]["attachment"]) == 2
