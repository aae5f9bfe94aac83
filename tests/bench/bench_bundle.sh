#!/bin/sh
# bench_bundle.sh: `make bench` for bundles (issue 12).
#
# Writes and reads a bundle of 10,000 operations + 200 MB of attachments
# with ferry's writer and reader (build/bench_bundle), and the same files
# with the pipeline an administrator would write:
#     tar --zstd -c ... | gpg --sign --encrypt --compress-algo none
#     gpg --decrypt ... | tar --zstd -x
# in the same run, RUNS times each, reporting the median wall time and the
# peak RSS (ferry's own process, from getrusage; and the whole tree, gpg
# included, from /usr/bin/time).  Then the size of the bundle of 2,000
# typical issues against gzip -9 of the same issues' Jira JSON.
# The results go to stdout as Markdown; docs/benchmarks.md keeps them.
set -eu
TOOL=${1:-build/bench_bundle}
RUNS=${RUNS:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
T=$(mktemp -d "${TMPDIR:-/tmp}/ferry-bench-XXXXXX")
cleanup() {
	for h in "$T/alpha" "$T/beta"; do
		[ -d "$h" ] && gpgconf --homedir "$h" --kill all 2>/dev/null
	done
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

"$TOOL" setup "$T" > "$T/fprs"
FA=$(awk '/^alpha/ {print $2}' "$T/fprs")
FB=$(awk '/^beta/ {print $2}' "$T/fprs")
/usr/bin/python3 "$HERE/bench_bundle_data.py" "$T"
mkdir -p "$T/out" "$T/pipe/blobs"
cp "$T/ops10k.msgpack" "$T/pipe/ops.msgpack"
for f in "$T"/att/*; do ln "$f" "$T/pipe/blobs/$(basename "$f")"; done
ATT_BYTES=$(cat "$T"/att/* | wc -c)

# median of the first field of the lines on stdin
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# run CMD..., append "wall maxrss_tree_kib" to FILE
timed() {
	f=$1; shift
	if ! /usr/bin/time -f "%e %M" -o "$T/time.tmp" "$@" > "$T/cmd.out" \
	    2> "$T/cmd.err"; then
		echo "bench_bundle.sh: failed: $*" >&2
		cat "$T/cmd.err" >&2
		exit 1
	fi
	cat "$T/time.tmp" >> "$f"
}

sync
for i in $(seq "$RUNS"); do
	rm -rf "$T/out"/* "$T/work"
	timed "$T/ferry-write" "$TOOL" write "$T" "$T/ops10k.msgpack" \
	    "$T/out" "$T"/att/*
	grep maxrss "$T/cmd.err" | sed 's/.*maxrss_kib=//' >> "$T/ferry-write-self"
	B=$(cat "$T/cmd.out")
	timed "$T/ferry-read" "$TOOL" read "$T" "$B"
	grep maxrss "$T/cmd.err" | sed 's/.*maxrss_kib=//' >> "$T/ferry-read-self"
	rm -rf "$T/pipe.gpg" "$T/pipeout"; mkdir "$T/pipeout"
	timed "$T/pipe-write" sh -c "tar --zstd -cf - -C '$T/pipe' . | \
	    gpg --homedir '$T/alpha' --batch --yes --trust-model always \
	    -u $FA -r $FB -r $FA --compress-algo none --sign --encrypt \
	    -o '$T/pipe.gpg'"
	timed "$T/pipe-read" sh -c "gpg --homedir '$T/beta' --batch -q \
	    --decrypt '$T/pipe.gpg' 2>/dev/null | tar --zstd -xf - -C \
	    '$T/pipeout'"
done
BSIZE=$(wc -c < "$B")
PSIZE=$(wc -c < "$T/pipe.gpg")

rm -rf "$T/out"/*
"$TOOL" write "$T" "$T/ops2000.msgpack" "$T/out" > "$T/b2000" 2>/dev/null
S2000=$(wc -c < "$(cat "$T/b2000")")
OPS2000=$(wc -c < "$T/ops2000.msgpack")
JSON=$(wc -c < "$T/issues.jsonl")
GZ=$(gzip -9 < "$T/issues.jsonl" | wc -c)

fw=$(cut -d' ' -f1 "$T/ferry-write" | median)
fr=$(cut -d' ' -f1 "$T/ferry-read" | median)
pw=$(cut -d' ' -f1 "$T/pipe-write" | median)
pr=$(cut -d' ' -f1 "$T/pipe-read" | median)
fwm=$(median < "$T/ferry-write-self")
frm=$(median < "$T/ferry-read-self")
fwt=$(cut -d' ' -f2 "$T/ferry-write" | median)
frt=$(cut -d' ' -f2 "$T/ferry-read" | median)
pwt=$(cut -d' ' -f2 "$T/pipe-write" | median)
prt=$(cut -d' ' -f2 "$T/pipe-read" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

cat <<REPORT
## Bundle benchmark ($(date -u +%Y-%m-%dT%H:%MZ))

Machine: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM; $(uname -sr); $(gpg --version | head -1); libarchive $(pkg-config --modversion libarchive); zstd level 3 (both).
Data: 10,000 operations ($(wc -c < "$T/ops10k.msgpack") bytes of msgpack) + $ATT_BYTES bytes of attachments (10 x 10 MB random, 10 x 10 MB log text); median of $RUNS runs; files in the page cache.

| step | ferry | pipeline | ferry / pipeline |
|---|---|---|---|
| write (sign + encrypt) | ${fw} s | ${pw} s | $(ratio "$fw" "$pw") |
| read (decrypt + verify + unpack) | ${fr} s | ${pr} s | $(ratio "$fr" "$pr") |

| peak RSS | write | read |
|---|---|---|
| ferry process (getrusage) | $(mib "$fwm") MiB | $(mib "$frm") MiB |
| largest process of the run, gpg included (/usr/bin/time %M) | $(mib "$fwt") MiB | $(mib "$frt") MiB |
| pipeline, largest process | $(mib "$pwt") MiB | $(mib "$prt") MiB |

Bundle: $BSIZE bytes (pipeline output: $PSIZE bytes).

Size for 2,000 typical issues (issue.create + 2 comments each, 6,000 operations):

| form | bytes |
|---|---|
| Jira JSON (GET issue, as returned) | $JSON |
| gzip -9 of that JSON | $GZ |
| ops.msgpack, uncompressed | $OPS2000 |
| ferry bundle (zstd, signed, encrypted) | $S2000 |
| bundle / gzip -9 | $(ratio "$S2000" "$GZ") |
REPORT
