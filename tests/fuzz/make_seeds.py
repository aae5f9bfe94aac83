#!/usr/bin/python3
"""Write the seed corpus of the fuzz targets (tests/fuzz/corpus/*).

Seeds are valid bundles as docs/bundle-format.md specifies them, made
with tarfile (pax), the zstd program and python3-msgpack: the fuzzer
starts from inputs that reach deep into the walk.  Run from anywhere;
existing seeds are overwritten, other corpus files are kept.
"""
import hashlib
import io
import os
import subprocess
import tarfile

import msgpack

HERE = os.path.dirname(os.path.abspath(__file__))


def sha(b):
    return hashlib.sha256(b).digest()


OPS = [
    {"t": "issue.create", "issue": 10001, "key": "DEMO-1", "at": 1700000000000,
     "by": "Ada", "fields": [{"n": "summary", "v": "Printer on fire"},
                             {"n": "issuetype", "v": "Bug"},
                             {"n": "priority", "v": "High"},
                             {"n": "labels", "v": ["hw", "urgent"]},
                             {"n": "customfield_10010", "v": 3.5}]},
    {"t": "issue.update", "issue": 10001, "key": "DEMO-1", "at": 1700000001000,
     "fields": [{"n": "summary", "v": "Printer fixed", "b": "Printer on fire",
                 "at": 1700000000500}, {"n": "duedate", "v": None,
                                         "b": "2024-01-01"}]},
    {"t": "comment.add", "issue": 10001, "key": "DEMO-1", "at": 1700000002000,
     "comment": 5, "body": "It smokes.", "vis": ["role", "Developers"]},
    {"t": "comment.edit", "issue": 10001, "key": "DEMO-1", "at": 1700000003000,
     "comment": 5, "body": "It smoked.", "base": "It smokes."},
    {"t": "comment.delete", "issue": 10001, "key": "DEMO-1",
     "at": 1700000004000, "comment": 5},
    {"t": "attachment.add", "issue": 10001, "key": "DEMO-1",
     "at": 1700000005000, "att": 7, "name": "photo.jpg", "mime": "image/jpeg",
     "size": 11, "sha256": sha(b"hello world")},
    {"t": "attachment.delete", "issue": 10001, "key": "DEMO-1",
     "at": 1700000006000, "att": 7},
]


def pack(o):
    return msgpack.packb(o, use_bin_type=True)


def manifest(kind="data", seq=1, members=(), nops=0, control=None):
    m = {"format": 1, "reads": [1], "kind": kind, "conn": "demo",
         "from": "alpha", "to": "beta", "seq": seq, "prev": sha(b"prev"),
         "peer_last": None, "ack": 2, "jira_time": 1700000000000,
         "created": 1700000000001, "ops": nops,
         "members": [dict(x) for x in members]}
    if control is not None:
        m["control"] = control
    return m


def archive(m, members):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in [("manifest.msgpack", pack(m))] + members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c"], input=data,
                          capture_output=True, check=True).stdout


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def main():
    ops = b"".join(pack(o) for o in OPS)
    blob = b"hello world"
    big = bytes(range(256)) * 8
    chunk = big[512:1024]
    members = [("ops.msgpack", ops), ("blobs/" + sha(blob).hex(), blob)]
    listed = [{"name": n, "size": len(b), "sha256": sha(b)}
              for n, b in members]
    cname = "blobs/%s.1" % sha(big).hex()
    chunked = listed[:1] + [{"name": cname, "size": len(chunk),
                             "sha256": sha(chunk), "blob": sha(big),
                             "blob_size": len(big), "offset": 512,
                             "index": 1, "chunks": 4}]
    data = manifest(members=listed, nops=len(OPS))
    chunky = manifest(seq=2, members=chunked, nops=len(OPS))
    ack = manifest(kind="ack", seq=0, control={})
    hello = manifest(kind="hello", seq=0,
                     control={"key": b"\x99\x00\x33key", "auth": b"x" * 32})
    resync = manifest(kind="resync", seq=0, control={"from_seq": 4})
    for name, m, mem in [("data", data, members),
                         ("chunk", chunky, [members[0], (cname, chunk)]),
                         ("ack", ack, []), ("hello", hello, []),
                         ("resync", resync, [])]:
        # fuzz_archive's first byte: 0 walk as is, 1 compress first.
        tar = archive(m, mem)
        write("archive", name, b"\x00" + zstd(tar))
        write("archive", name + ".tar", b"\x01" + tar)
        write("manifest", name, pack(m))
    write("ops", "all", ops)
    for o in OPS:
        write("ops", o["t"], pack(o))


if __name__ == "__main__":
    main()
