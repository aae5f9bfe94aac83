/*
 * test_bundle.c: writing and reading bundles with real keys, and every
 * bundle that must be rejected (issue 12), each by its reason.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/bundle.h"
#include "ferry/file.h"
#include "ferry/ops.h"
#include "testutil.h"
#include "../../src/bundle_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

struct site {
	char		*home;
	struct crypto	*c;
	char		 fpr[CRYPTO_FPR_MAX];
};

static char *tmp, *work, *outdir;
static struct site alpha, beta, gamma_, delta;

static void
site_make(struct site *s, const char *name)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char *uid = xasprintf("ferry site %s", name);

	s->home = xasprintf("%s/%s", tmp, name);
	if (crypto_open(s->home, &s->c, &err) != 0 ||
	    crypto_keygen(s->c, uid, CRYPTO_ALGO_ED25519, 30, s->fpr,
	    &err) != 0)
		fail_msg("site %s: %s", name, err.msg);
	free(uid);
}

static void
pin(struct site *a, struct site *b)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct buf key = BUF_INIT(0);

	assert_int_equal(crypto_export(b->c, b->fpr, false, &key, &err), 0);
	assert_int_equal(crypto_import(a->c, key.data, key.len, NULL, &err),
	    0);
	buf_release(&key);
}

static void
site_free(struct site *s)
{
	crypto_free(s->c);
	crypto_kill_agent(s->home);
	free(s->home);
}

static int
group_setup(void **state)
{
	(void)state;
	tmp = tu_mkdtemp();
	work = xasprintf("%s/work", tmp);
	outdir = xasprintf("%s/out", tmp);
	mkdir(work, 0700);
	mkdir(outdir, 0700);
	site_make(&alpha, "alpha");
	site_make(&beta, "beta");
	site_make(&gamma_, "gamma");
	site_make(&delta, "delta");
	pin(&alpha, &beta);
	pin(&beta, &alpha);
	pin(&beta, &gamma_);	/* another connection's peer */
	pin(&gamma_, &beta);
	pin(&delta, &beta);	/* delta is unknown to beta */
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	site_free(&alpha);
	site_free(&beta);
	site_free(&gamma_);
	site_free(&delta);
	tu_rmtree(tmp);
	free(tmp);
	free(work);
	free(outdir);
	return 0;
}

static void
header(struct bundle_manifest *m, uint64_t seq)
{
	memset(m, 0, sizeof(*m));
	m->kind = BUNDLE_DATA;
	snprintf(m->conn, sizeof(m->conn), "demo");
	snprintf(m->from, sizeof(m->from), "alpha");
	snprintf(m->to, sizeof(m->to), "beta");
	m->seq = seq;
	m->ack = 3;
	m->jira_time_ms = 1700000000000;
}

static void
sample_op(struct op *op, int64_t id)
{
	struct op_value v = op_val_str("Printer on fire"), b = op_val_null();
	struct op_value pri = op_val_str("high");

	op->type = OP_ISSUE_UPDATE;
	op->issue_id = id;
	op->issue_key = xasprintf("DEMO-%" PRId64, id);
	op->at_ms = 1700000000000 + id;
	op->author = xstrdup("Ada L.");
	op_add_field(op, "summary", &v, &b, 0);
	op_add_field(op, "priority", &pri, &pri, 5);
}

static struct bundle_seal
seal_by(struct site *s, struct site *peer, bool encrypt)
{
	struct bundle_seal x;

	x.crypto = s->c;
	x.signer = s->fpr;
	x.peer = peer != NULL ? peer->fpr : NULL;
	x.encrypt = encrypt;
	return x;
}

/* A good bundle from alpha to beta: nops operations, the given blobs. */
static char *
write_bundle(const struct bundle_manifest *hdr, int nops,
    const char *const *blobs, size_t nblobs, uint8_t hash[32])
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct bundle_seal s = seal_by(&alpha, &beta, true);
	struct bundle_writer *w;
	char *name, *path;
	size_t i;
	int k;

	if (bundle_writer_new(hdr, work, &w, &err) != 0)
		fail_msg("writer: %s", err.msg);
	for (k = 0; k < nops; k++) {
		struct op op = OP_INIT;

		sample_op(&op, k + 1);
		assert_int_equal(bundle_writer_add_op(w, &op, &err), 0);
		op_release(&op);
	}
	for (i = 0; i < nblobs; i++)
		assert_int_equal(bundle_writer_add_blob(w, blobs[i], NULL,
		    &err), 0);
	if (bundle_writer_finish(w, &s, outdir, &name, hash, &err) != 0)
		fail_msg("finish: %s", err.msg);
	bundle_writer_free(w);
	path = file_join(outdir, name);
	free(name);
	return path;
}

static struct bundle_expect
expect_alpha(void)
{
	struct bundle_expect ex;

	memset(&ex, 0, sizeof(ex));
	ex.pinned = alpha.fpr;
	ex.conn = "demo";
	ex.to = "beta";
	ex.from = "alpha";
	ex.keep_blobs = true;
	return ex;
}

/* Open path at beta; on rejection check the reason and the message. */
static void
expect_reject(const char *path, const struct bundle_expect *ex,
    const struct bundle_limits *lim, enum bundle_reason want)
{
	struct ferry_err err = FERRY_ERR_INIT;
	enum bundle_reason why;
	struct bundle *b = NULL;
	int rc;

	rc = bundle_open(beta.c, path, ex, lim, work, &b, &why, &err);
	if (rc != FERRY_EREJECT || why != want)
		fail_msg("rc %d, reason %s, want %s: %s", rc,
		    bundle_reason_name(why), bundle_reason_name(want), err.msg);
	assert_null(b);
	assert_non_null(strstr(err.msg, "rejected ("));
	assert_non_null(strstr(err.msg, bundle_reason_name(want)));
	/* Nothing of a rejected bundle stays behind. */
	if (tu_count_entries(work) != 0) {
		char *cmd = xasprintf("ls -laR '%s' >&2", work);

		system(cmd);
		free(cmd);
		fail_msg("left behind in work");
	}
}

static void
test_round_trip_ops_blobs_and_manifest(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct bundle_manifest hdr;
	struct bundle_expect ex = expect_alpha();
	char *blob1 = xasprintf("%s/a.txt", tmp), *blob2, *path, *p, *got;
	const char *blobs[3];
	uint8_t hash[32], sha[32];
	struct bundle *b;
	struct op op = OP_INIT;
	size_t len;
	int n = 0;

	(void)state;
	tu_write_file(blob1, "attachment one", 14);
	blob2 = xasprintf("%s/b.bin", tmp);
	tu_write_file(blob2, "\0\1\2\3", 4);
	blobs[0] = blob1;
	blobs[1] = blob2;
	blobs[2] = blob1;	/* the same content is carried once */
	header(&hdr, 7);
	hdr.has_prev = true;
	memset(hdr.prev, 0xab, 32);
	path = write_bundle(&hdr, 3, blobs, 3, hash);
	assert_non_null(strstr(path, "ferry_demo_alpha_beta_000000000007.fbz"));
	ex.seq = 7;
	ex.prev = hdr.prev;
	if (bundle_open(beta.c, path, &ex, NULL, work, &b, NULL, &err) != 0)
		fail_msg("open: %s", err.msg);
	assert_memory_equal(b->hash, hash, 32);
	assert_string_equal(b->sig.fpr, alpha.fpr);
	assert_true(b->sig.encrypted);
	assert_int_equal(b->m.format, BUNDLE_FORMAT);
	assert_int_equal(b->m.seq, 7);
	assert_int_equal(b->m.ack, 3);
	assert_int_equal(b->m.op_count, 3);
	assert_int_equal(b->m.nmembers, 3);
	assert_string_equal(b->m.members[0].name, "ops.msgpack");
	crypto_sha256("attachment one", 14, sha);
	assert_memory_equal(b->m.members[1].sha256, sha, 32);
	p = bundle_member_path(b, &b->m.members[1]);
	got = tu_read_file(p, &len);
	assert_int_equal(len, 14);
	assert_memory_equal(got, "attachment one", 14);
	free(got);
	free(p);
	while (bundle_next_op(b, &op, &err) == 1) {
		n++;
		assert_int_equal(op.type, OP_ISSUE_UPDATE);
		assert_int_equal(op.issue_id, n);
		assert_int_equal(op.nfields, 2);
		assert_string_equal(op.fields[0].value.s, "Printer on fire");
		assert_true(op.fields[0].has_base);
		assert_int_equal(op.fields[0].base.type, OP_V_NULL);
		assert_string_equal(op.fields[1].name, "priority");
		assert_int_equal(op.fields[1].at_ms, 5);
		op_release(&op);
	}
	assert_int_equal(n, 3);
	bundle_rewind_ops(b);
	assert_int_equal(bundle_next_op(b, &op, &err), 1);
	op_release(&op);
	bundle_free(b);
	assert_int_equal(tu_count_entries(work), 0);

	/* The sender can open what it sent (encrypted to itself). */
	ex.pinned = alpha.fpr;
	assert_int_equal(bundle_open(alpha.c, path, &ex, NULL, work, &b, NULL,
	    &err), 0);
	bundle_free(b);
	unlink(path);
	free(path);
	free(blob1);
	free(blob2);
}

/*
 * A blob of several reader blocks comes out byte for byte (the walker
 * and the hashing thread take turns with two blocks), and a write that
 * fails half way through it fails the open with the disk's error,
 * leaving nothing in the work directory.
 */
static void
test_large_blob_round_trips_and_failed_extract_cleans_up(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct bundle_manifest hdr;
	struct bundle_expect ex = expect_alpha();
	size_t len = (3 << 20) + 12345, i, got_len;
	char *blob = xasprintf("%s/large.bin", tmp), *path, *p, *got;
	uint8_t *data = xmalloc(len), sha[32];
	const char *blobs[1] = { blob };
	struct bundle *b;
	uint32_t x = 1;

	(void)state;
	for (i = 0; i < len; i++) {
		x = x * 1103515245 + 12345;
		data[i] = (uint8_t)(x >> 16);
	}
	tu_write_file(blob, data, len);
	header(&hdr, 11);
	path = write_bundle(&hdr, 1, blobs, 1, NULL);
	ex.seq = 11;
	if (bundle_open(beta.c, path, &ex, NULL, work, &b, NULL, &err) != 0)
		fail_msg("open: %s", err.msg);
	crypto_sha256(data, len, sha);
	assert_memory_equal(b->m.members[1].sha256, sha, 32);
	p = bundle_member_path(b, &b->m.members[1]);
	got = tu_read_file(p, &got_len);
	assert_int_equal(got_len, len);
	assert_memory_equal(got, data, len);
	free(got);
	free(p);
	bundle_free(b);

	/* ops.msgpack is the first write, the blob's blocks follow. */
	file_fault_inject(FILE_OP_WRITE, 4, ENOSPC, true);
	assert_int_equal(bundle_open(beta.c, path, &ex, NULL, work, &b, NULL,
	    &err), FERRY_EIO);
	file_fault_clear();
	assert_null(b);
	assert_int_equal(err.sys, ENOSPC);
	assert_non_null(strstr(err.msg, "blobs/"));
	assert_int_equal(tu_count_entries(work), 0);
	unlink(path);
	free(path);
	free(data);
	free(blob);
}

static void
test_control_message_round_trip(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct bundle_seal s = seal_by(&alpha, &beta, false);
	struct bundle_expect ex = expect_alpha();
	struct bundle_manifest hdr;
	struct bundle_writer *w;
	struct bundle_name_info ni;
	struct bundle *b;
	struct op op = OP_INIT;
	char *name, *path;
	uint8_t key[3] = { 1, 2, 3 };

	(void)state;
	header(&hdr, 0);
	hdr.kind = BUNDLE_HELLO;
	hdr.ctl.key = key;
	hdr.ctl.keylen = 3;
	assert_int_equal(bundle_writer_new(&hdr, work, &w, &err), 0);
	assert_int_equal(bundle_writer_add_op(w, &op, &err), FERRY_ERR);
	if (bundle_writer_finish(w, &s, outdir, &name, NULL, &err) != 0)
		fail_msg("finish: %s", err.msg);
	bundle_writer_free(w);
	assert_true(bundle_name_parse(name, &ni));
	assert_int_equal(ni.kind, BUNDLE_HELLO);
	assert_int_equal(ni.seq, 0);
	path = file_join(outdir, name);
	if (bundle_open(beta.c, path, &ex, NULL, work, &b, NULL, &err) != 0)
		fail_msg("open: %s", err.msg);
	assert_int_equal(b->m.kind, BUNDLE_HELLO);
	assert_false(b->sig.encrypted);
	assert_int_equal(b->m.ctl.keylen, 3);
	assert_memory_equal(b->m.ctl.key, key, 3);
	assert_int_equal(bundle_next_op(b, &op, &err), 0);
	bundle_free(b);
	unlink(path);
	free(path);
	free(name);
}

/* Every control kind goes through the same envelope with no seq. */
static void
test_every_control_kind_round_trips(void **state)
{
	static const enum bundle_kind kinds[] = { BUNDLE_ACK,
	    BUNDLE_KEY_UPDATE, BUNDLE_RESYNC, BUNDLE_ACK };
	struct ferry_err err = FERRY_ERR_INIT;
	struct bundle_seal s = seal_by(&alpha, &beta, true);
	struct bundle_expect ex = expect_alpha();
	struct bundle_manifest hdr;
	struct bundle_writer *w;
	struct bundle *b;
	uint8_t key[2] = { 7, 8 };
	char *name, *path, fpr[] = "ABCDEF";
	size_t i;

	(void)state;
	for (i = 0; i < FERRY_ARRAY_SIZE(kinds); i++) {
		header(&hdr, 0);
		hdr.kind = kinds[i];
		hdr.ack = 41;
		if (kinds[i] == BUNDLE_KEY_UPDATE) {
			hdr.ctl.key = key;
			hdr.ctl.keylen = 2;
			hdr.ctl.fpr = fpr;
		}
		hdr.ctl.from_seq = kinds[i] == BUNDLE_RESYNC ? 17 : 0;
		/*
		 * Only an ack carries its top (finding F6); the last ack
		 * has none, as an older ferry writes it.
		 */
		hdr.ctl.has_top = i + 1 < FERRY_ARRAY_SIZE(kinds);
		hdr.ctl.top = 43;
		assert_int_equal(bundle_writer_new(&hdr, work, &w, &err), 0);
		assert_int_equal(bundle_writer_add_blob(w, "/dev/null", NULL,
		    &err), FERRY_ERR);
		if (bundle_writer_finish(w, &s, outdir, &name, NULL,
		    &err) != 0)
			fail_msg("finish: %s", err.msg);
		bundle_writer_free(w);
		assert_non_null(strstr(name, bundle_kind_name(kinds[i])));
		path = file_join(outdir, name);
		ex.seq = 99;	/* not checked for control messages */
		if (bundle_open(beta.c, path, &ex, NULL, work, &b, NULL,
		    &err) != 0)
			fail_msg("open %s: %s", name, err.msg);
		assert_int_equal(b->m.kind, kinds[i]);
		assert_int_equal(b->m.seq, 0);
		assert_int_equal(b->m.ack, 41);
		assert_int_equal(b->m.nmembers, 0);
		assert_int_equal(b->m.ctl.has_top, i == 0);
		assert_int_equal(b->m.ctl.top, i == 0 ? 43 : 0);
		if (kinds[i] == BUNDLE_RESYNC)
			assert_int_equal(b->m.ctl.from_seq, 17);
		if (kinds[i] == BUNDLE_KEY_UPDATE)
			assert_string_equal(b->m.ctl.fpr, "ABCDEF");
		bundle_free(b);
		unlink(path);
		free(path);
		free(name);
	}
}

/* A bundle that cannot be sealed leaves nothing in the output folder. */
static void
test_failed_write_leaves_no_file(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct bundle_seal s = seal_by(&alpha, &beta, true);
	struct bundle_manifest hdr;
	struct bundle_writer *w;
	char *name = NULL;
	int before = tu_count_entries(outdir);
	struct op op = OP_INIT;

	(void)state;
	s.signer = "0000000000000000000000000000000000000000";
	header(&hdr, 4);
	assert_int_equal(bundle_writer_new(&hdr, work, &w, &err), 0);
	sample_op(&op, 1);
	assert_int_equal(bundle_writer_add_op(w, &op, &err), 0);
	op_release(&op);
	assert_int_equal(bundle_writer_finish(w, &s, outdir, &name, NULL,
	    &err), FERRY_ERR);
	assert_null(name);
	bundle_writer_free(w);
	assert_int_equal(tu_count_entries(outdir), before);
	assert_int_equal(tu_count_entries(work), 0);
}

static void
test_names_are_fat_safe_sortable_and_parse_back(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct bundle_manifest m;
	struct bundle_name_info ni;
	char name[BUNDLE_NAME_MAX];
	const char *p;

	(void)state;
	header(&m, 42);
	assert_int_equal(bundle_name(&m, name, sizeof(name), &err), 0);
	assert_string_equal(name, "ferry_demo_alpha_beta_000000000042.fbz");
	for (p = name; *p != '\0'; p++)
		assert_true(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
		    "QRSTUVWXYZ0123456789._-", *p) != NULL);
	assert_true(bundle_name_parse(name, &ni));
	assert_string_equal(ni.conn, "demo");
	assert_string_equal(ni.to, "beta");
	assert_int_equal(ni.seq, 42);
	assert_false(bundle_name_parse("ferry_demo_alpha_beta_42.fbz", &ni));
	assert_false(bundle_name_parse("../ferry_demo_a_b_000000000001.fbz",
	    &ni));
	snprintf(m.conn, sizeof(m.conn), "bad/conn");
	assert_int_equal(bundle_name(&m, name, sizeof(name), &err), FERRY_ERR);
}

/* Hostile archives, built member by member and signed by a site. */
struct ent {
	const char	*name;
	char		 type;		/* f file, l symlink, h hard link,
					   c device, d directory */
	const void	*data;
	size_t		 len;
};

typedef void tweak_fn(struct bundle_manifest *);

static void
ops_bytes(struct buf *out, int n)
{
	struct ferry_err err = FERRY_ERR_INIT;
	int i;

	for (i = 0; i < n; i++) {
		struct op op = OP_INIT;

		sample_op(&op, i + 1);
		assert_int_equal(ops_encode(&op, out, &err), 0);
		op_release(&op);
	}
}

/* Write a tar.zst of the entries, with a manifest first unless raw. */
static char *
plain_archive(const struct ent *e, size_t n, uint64_t op_count,
    tweak_fn *tweak, const struct buf *raw_manifest, bool zstd)
{
	struct bundle_manifest m;
	struct buf mb = BUF_INIT(0);
	struct archive *a = archive_write_new();
	struct archive_entry *ae;
	char *path = xasprintf("%s/plain.tar", tmp);
	size_t i;

	header(&m, 1);
	m.format = BUNDLE_FORMAT;
	m.reads[0] = 1;
	m.nreads = 1;
	m.op_count = op_count;
	m.members = xcalloc(n + 1, sizeof(*m.members));
	for (i = 0; i < n; i++) {
		if (e[i].type != 'f' || strcmp(e[i].name,
		    "manifest.msgpack") == 0)
			continue;
		m.members[m.nmembers].name = xstrdup(e[i].name);
		m.members[m.nmembers].size = e[i].len;
		crypto_sha256(e[i].data, e[i].len,
		    m.members[m.nmembers].sha256);
		m.nmembers++;
	}
	if (tweak != NULL)
		tweak(&m);
	if (raw_manifest != NULL)
		buf_add(&mb, raw_manifest->data, raw_manifest->len);
	else
		bundle_manifest_encode(&m, &mb);
	bundle_manifest_release(&m);
	if (zstd)
		archive_write_add_filter_zstd(a);
	archive_write_set_format_pax_restricted(a);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (i = 0; i <= n; i++) {
		const struct ent me = { "manifest.msgpack", 'f', mb.data,
		    mb.len };
		const struct ent *x = i == 0 ? &me : &e[i - 1];

		ae = archive_entry_new();
		archive_entry_set_pathname(ae, x->name);
		archive_entry_set_perm(ae, 0644);
		switch (x->type) {
		case 'l':
			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_symlink(ae, "/etc/passwd");
			break;
		case 'h':
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_hardlink(ae, "ops.msgpack");
			break;
		case 'c':
			archive_entry_set_filetype(ae, AE_IFCHR);
			archive_entry_set_rdev(ae, 0x0103);
			break;
		case 'd':
			archive_entry_set_filetype(ae, AE_IFDIR);
			break;
		default:
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_size(ae, (la_int64_t)x->len);
			break;
		}
		assert_int_equal(archive_write_header(a, ae), ARCHIVE_OK);
		if (x->type == 'f' && x->len > 0)
			assert_int_equal(archive_write_data(a, x->data,
			    x->len), (la_ssize_t)x->len);
		archive_entry_free(ae);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
	buf_release(&mb);
	return path;
}

static char *
seal_plain(const char *plain, struct site *by, bool encrypt)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct bundle_seal s = seal_by(by, &beta, encrypt);
	char *out = xasprintf("%s/hostile.fbz", tmp);

	if (bundle_seal_file(&s, plain, out, &err) != 0)
		fail_msg("seal: %s", err.msg);
	return out;
}

/* Build, sign by alpha, and expect beta to reject with want. */
static void
hostile(const struct ent *e, size_t n, uint64_t op_count, tweak_fn *tweak,
    const struct buf *raw_manifest, const struct bundle_limits *lim,
    enum bundle_reason want)
{
	struct bundle_expect ex = expect_alpha();
	char *plain = plain_archive(e, n, op_count, tweak, raw_manifest, true);
	char *path = seal_plain(plain, &alpha, true);

	expect_reject(path, &ex, lim, want);
	unlink(path);
	unlink(plain);
	free(path);
	free(plain);
}

static const char blob_a[] = "content of a";
static char blob_a_name[80];

static void
names_init(void)
{
	uint8_t d[32];
	char hex[CRYPTO_SHA256_HEX];

	crypto_sha256(blob_a, sizeof(blob_a) - 1, d);
	crypto_sha256_hex(d, hex);
	snprintf(blob_a_name, sizeof(blob_a_name), "blobs/%s", hex);
}

/* A valid hostile() baseline is accepted: the harness is not the reason. */
static void
test_hand_built_archive_is_accepted(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct bundle_expect ex = expect_alpha();
	struct buf ops = BUF_INIT(0);
	struct ent e[2];
	struct bundle *b;
	char *plain, *path;

	(void)state;
	names_init();
	ops_bytes(&ops, 2);
	e[0] = (struct ent){ "ops.msgpack", 'f', ops.data, ops.len };
	e[1] = (struct ent){ blob_a_name, 'f', blob_a, sizeof(blob_a) - 1 };
	plain = plain_archive(e, 2, 2, NULL, NULL, true);
	path = seal_plain(plain, &alpha, true);
	if (bundle_open(beta.c, path, &ex, NULL, work, &b, NULL, &err) != 0)
		fail_msg("open: %s", err.msg);
	bundle_free(b);
	unlink(path);
	unlink(plain);
	free(path);
	free(plain);
	buf_release(&ops);
}

static void
test_rejects_empty_file_jpeg_and_text(void **state)
{
	struct bundle_expect ex = expect_alpha();
	char *p = xasprintf("%s/empty.fbz", tmp);

	(void)state;
	tu_write_file(p, "", 0);
	expect_reject(p, &ex, NULL, BUNDLE_R_EMPTY);
	tu_write_file(p, "\xff\xd8\xff\xe0\0\x10JFIF\0\1\1\0\0\1", 16);
	expect_reject(p, &ex, NULL, BUNDLE_R_NOT_OPENPGP);
	tu_write_file(p, "Dear admin,\nthis is not a bundle.\n", 34);
	expect_reject(p, &ex, NULL, BUNDLE_R_NOT_OPENPGP);
	unlink(p);
	free(p);
}

static void
test_rejects_unsigned(void **state)
{
	struct bundle_manifest hdr;
	struct bundle_expect ex = expect_alpha();
	char *good, *plain, *cmd, *out;

	(void)state;
	header(&hdr, 1);
	good = write_bundle(&hdr, 1, NULL, 0, NULL);
	plain = xasprintf("%s/plain.bin", tmp);
	out = xasprintf("%s/unsigned.fbz", tmp);
	/* The same content, encrypted to beta but not signed. */
	cmd = xasprintf("gpg --homedir '%s' --batch --yes -o '%s' -d '%s' "
	    ">/dev/null 2>&1 && gpg --homedir '%s' --batch --yes "
	    "--trust-model always -r %s -o '%s' -e '%s' 2>/dev/null",
	    beta.home, plain, good, alpha.home, beta.fpr, out, plain);
	assert_int_equal(system(cmd), 0);
	expect_reject(out, &ex, NULL, BUNDLE_R_UNSIGNED);
	unlink(good);
	unlink(out);
	unlink(plain);
	free(cmd);
	free(good);
	free(plain);
	free(out);
}

static void
test_rejects_unknown_signer_and_other_connections_key(void **state)
{
	struct bundle_expect ex = expect_alpha();
	struct buf ops = BUF_INIT(0);
	struct ent e[1];
	char *plain, *path;

	(void)state;
	ops_bytes(&ops, 1);
	e[0] = (struct ent){ "ops.msgpack", 'f', ops.data, ops.len };
	plain = plain_archive(e, 1, 1, NULL, NULL, true);
	path = seal_plain(plain, &delta, true);
	expect_reject(path, &ex, NULL, BUNDLE_R_UNKNOWN_SIGNER);
	free(path);
	path = seal_plain(plain, &gamma_, true);
	expect_reject(path, &ex, NULL, BUNDLE_R_WRONG_SIGNER);
	unlink(path);
	unlink(plain);
	free(path);
	free(plain);
	buf_release(&ops);
}

static void
test_rejects_revoked_signer(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct bundle_manifest hdr;
	struct bundle_expect ex = expect_alpha();
	struct site eps;
	char *path, *revp, *rev, *p, *plain;
	struct buf ops = BUF_INIT(0);
	struct ent e[1];

	(void)state;
	site_make(&eps, "eps");
	pin(&beta, &eps);
	pin(&eps, &beta);
	header(&hdr, 1);
	ops_bytes(&ops, 1);
	e[0] = (struct ent){ "ops.msgpack", 'f', ops.data, ops.len };
	plain = plain_archive(e, 1, 1, NULL, NULL, true);
	path = seal_plain(plain, &eps, true);
	ex.pinned = eps.fpr;
	revp = xasprintf("%s/openpgp-revocs.d/%s.rev", eps.home, eps.fpr);
	rev = tu_read_file(revp, NULL);
	p = strstr(rev, ":-----BEGIN");
	assert_non_null(p);
	assert_int_equal(crypto_import(beta.c, p + 1, strlen(p + 1), NULL,
	    &err), 0);
	expect_reject(path, &ex, NULL, BUNDLE_R_KEY_REVOKED);
	site_free(&eps);
	unlink(path);
	unlink(plain);
	free(path);
	free(plain);
	free(rev);
	free(revp);
	buf_release(&ops);
}

/*
 * A key that expires three seconds after it is made: its bundle verifies
 * at once, is refused after the expiry, and still opens when the caller
 * says it was received in time (the inbox record's time).
 */
static void
test_rejects_expired_signer_unless_received_in_time(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct bundle_expect ex = expect_alpha();
	struct crypto_keyinfo ki;
	struct buf ops = BUF_INIT(0);
	struct site zeta;
	struct bundle *b;
	struct ent e[1];
	char *cmd, *plain, *path;
	time_t received;

	(void)state;
	zeta.home = xasprintf("%s/zeta", tmp);
	assert_int_equal(crypto_open(zeta.home, &zeta.c, &err), 0);
	cmd = xasprintf("gpg --homedir '%s' --batch --passphrase '' "
	    "--quick-gen-key 'ferry site zeta' ed25519 sign seconds=3 "
	    ">/dev/null 2>&1", zeta.home);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(crypto_site_key(zeta.c, zeta.fpr, &err), 0);
	pin(&beta, &zeta);
	ops_bytes(&ops, 1);
	e[0] = (struct ent){ "ops.msgpack", 'f', ops.data, ops.len };
	plain = plain_archive(e, 1, 1, NULL, NULL, true);
	path = seal_plain(plain, &zeta, false);
	received = time(NULL);
	ex.pinned = zeta.fpr;
	assert_int_equal(bundle_open(beta.c, path, &ex, NULL, work, &b, NULL,
	    &err), 0);
	bundle_free(b);
	assert_int_equal(crypto_key_info(beta.c, zeta.fpr, &ki, &err), 0);
	while (time(NULL) <= ki.expires + 1)
		sleep(1);
	expect_reject(path, &ex, NULL, BUNDLE_R_KEY_EXPIRED);
	ex.received_at = received;
	if (bundle_open(beta.c, path, &ex, NULL, work, &b, NULL, &err) != 0)
		fail_msg("received in time, yet: %s", err.msg);
	bundle_free(b);
	site_free(&zeta);
	unlink(path);
	unlink(plain);
	free(path);
	free(plain);
	free(cmd);
	buf_release(&ops);
}

/*
 * Flipped bits and truncation at several offsets.  OpenPGP leaves a few
 * envelope bytes unauthenticated (the one-pass signature header, the
 * unhashed subpackets of the signature, the session key packet for the
 * other recipient); a flip there changes
 * nothing this site reads, which is why the bundle hash is taken over
 * the signed plaintext.  Every other flip, and every truncation, is
 * rejected; a flip that is let through must give the very same bundle.
 */
static void
test_rejects_flipped_bits_and_truncation(void **state)
{
	struct bundle_manifest hdr;
	struct bundle_expect ex = expect_alpha();
	struct ferry_err err = FERRY_ERR_INIT;
	struct bundle_writer *w;
	struct op op = OP_INIT;
	char *name, *path, *data, *bad = xasprintf("%s/bad.fbz", tmp);
	size_t len, off, harmless = 0;
	uint8_t hash[32];
	enum bundle_reason why;
	struct bundle *b;
	int enc;

	(void)state;
	for (enc = 0; enc <= 1; enc++) {
		struct bundle_seal s = seal_by(&alpha, &beta, enc);

		header(&hdr, 1);
		assert_int_equal(bundle_writer_new(&hdr, work, &w, &err), 0);
		sample_op(&op, 1);
		assert_int_equal(bundle_writer_add_op(w, &op, &err), 0);
		op_release(&op);
		assert_int_equal(bundle_writer_finish(w, &s, outdir, &name,
		    hash, &err), 0);
		bundle_writer_free(w);
		path = file_join(outdir, name);
		data = tu_read_file(path, &len);
		for (off = 0; off < len; off += off < 40 || off > len - 40 ?
		    1 : 13) {
			data[off] ^= 0x04;
			tu_write_file(bad, data, len);
			data[off] ^= 0x04;
			if (bundle_open(beta.c, bad, &ex, NULL, work, &b, &why,
			    &err) == 0) {
				assert_memory_equal(b->hash, hash, 32);
				assert_string_equal(b->sig.fpr, alpha.fpr);
				bundle_free(b);
				harmless++;
			}
			assert_int_equal(tu_count_entries(work), 0);
			tu_write_file(bad, data, off > 0 ? off : 1);
			assert_int_equal(bundle_open(beta.c, bad, &ex, NULL,
			    work, &b, &why, &err), FERRY_EREJECT);
		}
		unlink(path);
		free(data);
		free(path);
		free(name);
	}
	print_message("%zu harmless flips\n", harmless);
	assert_true(harmless < 120);
	unlink(bad);
	free(bad);
}

static void
test_rejects_wrong_addressee_connection_sender_seq_chain(void **state)
{
	struct bundle_manifest hdr;
	struct bundle_expect ex = expect_alpha();
	uint8_t other[32];
	char *path;

	(void)state;
	header(&hdr, 5);
	hdr.has_prev = true;
	memset(hdr.prev, 1, 32);
	path = write_bundle(&hdr, 1, NULL, 0, NULL);
	ex.to = "gamma";
	expect_reject(path, &ex, NULL, BUNDLE_R_ADDRESSEE);
	ex = expect_alpha();
	ex.conn = "other";
	expect_reject(path, &ex, NULL, BUNDLE_R_CONNECTION);
	ex = expect_alpha();
	ex.from = "gamma";
	expect_reject(path, &ex, NULL, BUNDLE_R_SENDER);
	ex = expect_alpha();
	ex.seq = 4;
	expect_reject(path, &ex, NULL, BUNDLE_R_SEQ);
	ex = expect_alpha();
	memset(other, 2, 32);
	ex.prev = other;
	expect_reject(path, &ex, NULL, BUNDLE_R_CHAIN);
	unlink(path);
	free(path);
}

static void
set_format_2(struct bundle_manifest *m)
{
	m->format = 2;
}

static void
test_rejects_unknown_format_naming_both_versions(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct bundle_expect ex = expect_alpha();
	struct buf ops = BUF_INIT(0);
	enum bundle_reason why;
	struct bundle *b;
	struct ent e[1];
	char *plain, *path;

	(void)state;
	ops_bytes(&ops, 1);
	e[0] = (struct ent){ "ops.msgpack", 'f', ops.data, ops.len };
	plain = plain_archive(e, 1, 1, set_format_2, NULL, true);
	path = seal_plain(plain, &alpha, true);
	assert_int_equal(bundle_open(beta.c, path, &ex, NULL, work, &b, &why,
	    &err), FERRY_EREJECT);
	assert_int_equal(why, BUNDLE_R_VERSION);
	assert_non_null(strstr(err.msg, "reads bundle formats 1 to 1, the "
	    "bundle is format 2"));
	assert_non_null(strstr(err.msg, "upgrade ferry"));
	unlink(path);
	unlink(plain);
	free(path);
	free(plain);
	buf_release(&ops);
}

static void
test_rejects_bad_member_names_and_types(void **state)
{
	struct buf ops = BUF_INIT(0);
	struct ent e[2];

	(void)state;
	ops_bytes(&ops, 1);
	e[0] = (struct ent){ "ops.msgpack", 'f', ops.data, ops.len };
	e[1] = (struct ent){ "blobs/../../etc/cron.d/x", 'f', "x", 1 };
	hostile(e, 2, 1, NULL, NULL, NULL, BUNDLE_R_BAD_NAME);
	e[1] = (struct ent){ "/etc/passwd", 'f', "x", 1 };
	hostile(e, 2, 1, NULL, NULL, NULL, BUNDLE_R_BAD_NAME);
	e[1] = (struct ent){ "..", 'f', "x", 1 };
	hostile(e, 2, 1, NULL, NULL, NULL, BUNDLE_R_BAD_NAME);
	e[1] = (struct ent){ blob_a_name, 'l', NULL, 0 };
	hostile(e, 2, 1, NULL, NULL, NULL, BUNDLE_R_BAD_TYPE);
	e[1] = (struct ent){ blob_a_name, 'h', NULL, 0 };
	hostile(e, 2, 1, NULL, NULL, NULL, BUNDLE_R_BAD_TYPE);
	e[1] = (struct ent){ blob_a_name, 'c', NULL, 0 };
	hostile(e, 2, 1, NULL, NULL, NULL, BUNDLE_R_BAD_TYPE);
	e[1] = (struct ent){ "blobs", 'd', NULL, 0 };
	hostile(e, 2, 1, NULL, NULL, NULL, BUNDLE_R_BAD_TYPE);
	buf_release(&ops);
}

static void
drop_last_member(struct bundle_manifest *m)
{
	m->nmembers--;
	free(m->members[m->nmembers].name);
	m->members[m->nmembers].name = NULL;
}

static void
add_member(struct bundle_manifest *m)
{
	struct bundle_member *x = &m->members[m->nmembers];
	static const char more[] = "more";
	char hex[CRYPTO_SHA256_HEX];

	m->members = xreallocarray(m->members, m->nmembers + 2,
	    sizeof(*m->members));
	x = &m->members[m->nmembers++];
	memset(x, 0, sizeof(*x));
	crypto_sha256(more, 4, x->sha256);
	crypto_sha256_hex(x->sha256, hex);
	x->name = xasprintf("blobs/%s", hex);
	x->size = 4;
}

static void
test_rejects_duplicate_missing_and_extra_members(void **state)
{
	struct buf ops = BUF_INIT(0);
	struct ent e[3];

	(void)state;
	ops_bytes(&ops, 1);
	e[0] = (struct ent){ "ops.msgpack", 'f', ops.data, ops.len };
	e[1] = (struct ent){ blob_a_name, 'f', blob_a, sizeof(blob_a) - 1 };
	e[2] = e[1];
	/* The manifest lists the blob twice: duplicate either way. */
	hostile(e, 3, 1, NULL, NULL, NULL, BUNDLE_R_DUPLICATE);
	/* Listed once, present twice. */
	hostile(e, 3, 1, drop_last_member, NULL, NULL, BUNDLE_R_DUPLICATE);
	/* Present, not listed. */
	hostile(e, 2, 1, drop_last_member, NULL, NULL, BUNDLE_R_EXTRA);
	/* Listed, not present. */
	hostile(e, 2, 1, add_member, NULL, NULL, BUNDLE_R_MISSING);
	/* The manifest itself twice. */
	e[1] = (struct ent){ "manifest.msgpack", 'f', "\x80", 1 };
	hostile(e, 2, 1, NULL, NULL, NULL, BUNDLE_R_DUPLICATE);
	buf_release(&ops);
}

static void
bump_size(struct bundle_manifest *m)
{
	m->members[1].size++;
}

static void
flip_hash(struct bundle_manifest *m)
{
	m->members[0].sha256[5] ^= 1;
}

static void
test_rejects_size_and_hash_mismatch(void **state)
{
	struct buf ops = BUF_INIT(0);
	struct ent e[2];

	(void)state;
	ops_bytes(&ops, 1);
	e[0] = (struct ent){ "ops.msgpack", 'f', ops.data, ops.len };
	e[1] = (struct ent){ blob_a_name, 'f', blob_a, sizeof(blob_a) - 1 };
	hostile(e, 2, 1, bump_size, NULL, NULL, BUNDLE_R_SIZE);
	hostile(e, 2, 1, flip_hash, NULL, NULL, BUNDLE_R_HASH);
	/* A blob whose content is not the hash in its name. */
	e[1].data = "content of b";
	hostile(e, 2, 1, NULL, NULL, NULL, BUNDLE_R_MANIFEST);
	buf_release(&ops);
}

static char chunk_name[90];

static void
make_chunk(struct bundle_manifest *m)
{
	struct bundle_member *x = &m->members[1];

	x->chunk = true;
	crypto_sha256(blob_a, sizeof(blob_a) - 1, x->blob);
	x->blob_size = 5;	/* the chunk alone is longer than its blob */
	x->offset = 2;
	x->index = 1;
	x->nchunks = 3;
}

static void
test_rejects_chunk_that_does_not_fit_its_blob(void **state)
{
	struct buf ops = BUF_INIT(0);
	struct ent e[2];

	(void)state;
	ops_bytes(&ops, 1);
	snprintf(chunk_name, sizeof(chunk_name), "%s.1", blob_a_name);
	e[0] = (struct ent){ "ops.msgpack", 'f', ops.data, ops.len };
	e[1] = (struct ent){ chunk_name, 'f', blob_a, sizeof(blob_a) - 1 };
	hostile(e, 2, 1, make_chunk, NULL, NULL, BUNDLE_R_CHUNK);
	buf_release(&ops);
}

static void
test_chunks_travel_separately_and_join_by_hash(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct bundle_seal s = seal_by(&alpha, &beta, true);
	struct bundle_expect ex = expect_alpha();
	struct bundle_manifest hdr;
	struct bundle_writer *w;
	struct bundle *b[3];
	const struct bundle_member *m[3];
	char *paths[3], *src = xasprintf("%s/big.bin", tmp), *name, *joined;
	uint8_t sha[32];
	enum bundle_reason why;
	char data[1000];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7);
	tu_write_file(src, data, sizeof(data));
	crypto_sha256(data, sizeof(data), sha);
	for (i = 0; i < 3; i++) {
		header(&hdr, 10 + i);
		assert_int_equal(bundle_writer_new(&hdr, work, &w, &err), 0);
		assert_int_equal(bundle_writer_add_chunk(w, src, sha, 1000,
		    i * 400, i < 2 ? 400 : 200, (uint32_t)i, 3, &err), 0);
		assert_int_equal(bundle_writer_finish(w, &s, outdir, &name,
		    NULL, &err), 0);
		bundle_writer_free(w);
		paths[i] = file_join(outdir, name);
		free(name);
		if (bundle_open(beta.c, paths[i], &ex, NULL, work, &b[i], NULL,
		    &err) != 0)
			fail_msg("open: %s", err.msg);
		m[i] = &b[i]->m.members[1];
		free(paths[i]);
		paths[i] = bundle_member_path(b[i], m[i]);
	}
	assert_int_equal(bundle_chunks_join((const char *const *)paths, m, 3,
	    tmp, "joined", &why, &err), 0);
	joined = xasprintf("%s/joined", tmp);
	name = tu_read_file(joined, &i);
	assert_int_equal(i, 1000);
	assert_memory_equal(name, data, 1000);
	free(name);
	/* Out of order, or short: refused. */
	m[0] = m[1];
	assert_int_equal(bundle_chunks_join((const char *const *)paths, m, 3,
	    tmp, "joined2", &why, &err), FERRY_EREJECT);
	assert_int_equal(why, BUNDLE_R_CHUNK);
	assert_int_equal(bundle_chunks_join((const char *const *)paths, m, 2,
	    tmp, "joined2", &why, &err), FERRY_EREJECT);
	for (i = 0; i < 3; i++) {
		free(paths[i]);
		bundle_free(b[i]);
	}
	free(joined);
	free(src);
}

static void
test_rejects_decompression_bomb(void **state)
{
	struct bundle_limits lim;
	struct buf ops = BUF_INIT(0);
	char *zeros = xcalloc(1, 32 << 20), name[90];
	uint8_t d[32];
	char hex[CRYPTO_SHA256_HEX];
	struct ent e[2];

	(void)state;
	ops_bytes(&ops, 1);
	crypto_sha256(zeros, 32 << 20, d);
	crypto_sha256_hex(d, hex);
	snprintf(name, sizeof(name), "blobs/%s", hex);
	e[0] = (struct ent){ "ops.msgpack", 'f', ops.data, ops.len };
	e[1] = (struct ent){ name, 'f', zeros, 32 << 20 };
	bundle_limits_default(&lim);
	lim.ratio_after = 1 << 20;
	hostile(e, 2, 1, NULL, NULL, &lim, BUNDLE_R_RATIO);
	/* And the size limits hold before a byte is unpacked. */
	bundle_limits_default(&lim);
	lim.max_member_size = 1 << 20;
	hostile(e, 2, 1, NULL, NULL, &lim, BUNDLE_R_TOO_LARGE);
	bundle_limits_default(&lim);
	lim.max_members = 2;
	hostile(e, 2, 1, NULL, NULL, &lim, BUNDLE_R_TOO_MANY);
	free(zeros);
	buf_release(&ops);
}

static void
test_rejects_content_not_a_zstd_tar(void **state)
{
	struct bundle_expect ex = expect_alpha();
	struct buf ops = BUF_INIT(0);
	struct ent e[1];
	char *plain, *path, *txt = xasprintf("%s/t.txt", tmp);

	(void)state;
	tu_write_file(txt, "signed, but only text\n", 22);
	path = seal_plain(txt, &alpha, true);
	expect_reject(path, &ex, NULL, BUNDLE_R_NOT_ARCHIVE);
	free(path);
	ops_bytes(&ops, 1);
	e[0] = (struct ent){ "ops.msgpack", 'f', ops.data, ops.len };
	plain = plain_archive(e, 1, 1, NULL, NULL, false);
	path = seal_plain(plain, &alpha, true);
	expect_reject(path, &ex, NULL, BUNDLE_R_NOT_ARCHIVE);
	/* The manifest must come first. */
	free(path);
	free(plain);
	unlink(txt);
	free(txt);
	buf_release(&ops);
}

static void
test_rejects_manifest_not_first(void **state)
{
	struct bundle_expect ex = expect_alpha();
	struct archive *a = archive_write_new();
	struct archive_entry *ae = archive_entry_new();
	char *plain = xasprintf("%s/order.tar", tmp), *path;

	(void)state;
	archive_write_add_filter_zstd(a);
	archive_write_set_format_pax_restricted(a);
	archive_write_open_filename(a, plain);
	archive_entry_set_pathname(ae, "ops.msgpack");
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_size(ae, 1);
	archive_write_header(a, ae);
	archive_write_data(a, "\x80", 1);
	archive_entry_free(ae);
	archive_write_close(a);
	archive_write_free(a);
	path = seal_plain(plain, &alpha, true);
	expect_reject(path, &ex, NULL, BUNDLE_R_ORDER);
	unlink(path);
	free(path);
	free(plain);
}

/* Raw msgpack for the manifest or ops: depth, lengths, types, trailing. */
static void
test_rejects_bad_msgpack(void **state)
{
	struct buf ops = BUF_INIT(0), raw = BUF_INIT(0);
	struct ent e[1];
	size_t i;

	(void)state;
	/* Manifest nested 40 deep. */
	for (i = 0; i < 40; i++)
		buf_addch(&raw, 0x91);
	buf_addch(&raw, 0xc0);
	ops_bytes(&ops, 1);
	e[0] = (struct ent){ "ops.msgpack", 'f', ops.data, ops.len };
	hostile(e, 1, 1, NULL, &raw, NULL, BUNDLE_R_MP_DEPTH);
	/* A str32 declaring 4 GiB. */
	buf_reset(&raw);
	buf_add(&raw, "\x81\xa1k\xdb\xff\xff\xff\xf0zz", 10);
	hostile(e, 1, 1, NULL, &raw, NULL, BUNDLE_R_MP_LENGTH);
	/* An array32 declaring 2^32-1 entries. */
	buf_reset(&raw);
	buf_add(&raw, "\xdd\xff\xff\xff\xff\xc0", 6);
	hostile(e, 1, 1, NULL, &raw, NULL, BUNDLE_R_MP_LENGTH);
	/* A manifest that is a string. */
	buf_reset(&raw);
	buf_add(&raw, "\xa3" "abc", 4);
	hostile(e, 1, 1, NULL, &raw, NULL, BUNDLE_R_MP_TYPE);
	/* A valid manifest with a trailing byte. */
	{
		struct bundle_manifest m;

		header(&m, 1);
		m.format = 1;
		m.reads[0] = 1;
		m.nreads = 1;
		m.op_count = 1;
		m.members = xcalloc(1, sizeof(*m.members));
		m.members[0].name = xstrdup("ops.msgpack");
		m.members[0].size = ops.len;
		crypto_sha256(ops.data, ops.len, m.members[0].sha256);
		m.nmembers = 1;
		buf_reset(&raw);
		bundle_manifest_encode(&m, &raw);
		buf_addch(&raw, 0xc0);
		bundle_manifest_release(&m);
	}
	hostile(e, 1, 1, NULL, &raw, NULL, BUNDLE_R_MP_MALFORMED);
	buf_release(&raw);
	buf_release(&ops);
}

static void
test_rejects_bad_ops(void **state)
{
	struct buf ops = BUF_INIT(0);
	struct ent e[1];
	size_t i;

	(void)state;
	e[0] = (struct ent){ "ops.msgpack", 'f', NULL, 0 };
	/* An issue id that is a string. */
	buf_add(&ops, "\x84\xa1t\xacissue.update\xa5issue\xa1" "1\xa3key\xa1K"
	    "\xa2" "at\x01", 34);
	e[0].data = ops.data;
	e[0].len = ops.len;
	hostile(e, 1, 1, NULL, NULL, NULL, BUNDLE_R_MP_TYPE);
	/* Trailing bytes: half an operation after the last. */
	buf_reset(&ops);
	ops_bytes(&ops, 1);
	buf_add(&ops, "\x84\xa1", 2);
	e[0].data = ops.data;
	e[0].len = ops.len;
	hostile(e, 1, 1, NULL, NULL, NULL, BUNDLE_R_MP_MALFORMED);
	/* More operations than the manifest says. */
	buf_reset(&ops);
	ops_bytes(&ops, 2);
	e[0].data = ops.data;
	e[0].len = ops.len;
	hostile(e, 1, 1, NULL, NULL, NULL, BUNDLE_R_OPS);
	/* A reserved operation type. */
	buf_reset(&ops);
	buf_add(&ops, "\x84\xa1t\xadstatus.change\xa5issue\x01\xa3key\xa1K"
	    "\xa2" "at\x01", 34);
	e[0].data = ops.data;
	e[0].len = ops.len;
	hostile(e, 1, 1, NULL, NULL, NULL, BUNDLE_R_OPS);
	/* A field value nested 30 deep. */
	buf_reset(&ops);
	buf_add(&ops, "\x84\xa1t\xacissue.create\xa5issue\x01\xa3key\xa1K"
	    "\xa2" "at\x01", 33);
	ops.data[0] = (char)0x85;
	buf_add(&ops, "\xa6" "fields\x91\x82\xa1n\xa1s\xa1v", 15);
	for (i = 0; i < 30; i++)
		buf_addch(&ops, 0x91);
	buf_addch(&ops, 0xc0);
	e[0].data = ops.data;
	e[0].len = ops.len;
	hostile(e, 1, 1, NULL, NULL, NULL, BUNDLE_R_MP_DEPTH);
	buf_release(&ops);
}

static void
test_ops_encode_decode_every_type(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct mp_limits lim = MP_LIMITS_DEFAULT;
	struct buf b = BUF_INIT(0);
	struct op in = OP_INIT, out = OP_INIT;
	enum mp_verdict v;

	(void)state;
	in.type = OP_COMMENT_EDIT;
	in.issue_id = 9;
	in.issue_key = xstrdup("DEMO-9");
	in.at_ms = -5;
	in.comment_id = 77;
	in.body = xstrdup("new text");
	in.base_body = xstrdup("old text");
	in.vis_type = xstrdup("role");
	in.vis_value = xstrdup("Developers");
	assert_int_equal(ops_encode(&in, &b, &err), 0);
	assert_int_equal(ops_decode(b.data, b.len, &lim, &out, &v, &err), 0);
	assert_int_equal(out.type, OP_COMMENT_EDIT);
	assert_int_equal(out.at_ms, -5);
	assert_string_equal(out.base_body, "old text");
	assert_string_equal(out.vis_value, "Developers");
	op_release(&out);
	op_release(&in);
	buf_reset(&b);
	in.type = OP_ATTACHMENT_ADD;
	in.issue_id = 9;
	in.issue_key = xstrdup("DEMO-9");
	in.attachment_id = 3;
	in.filename = xstrdup("log.txt");
	in.size = 12;
	memset(in.sha256, 0x5a, 32);
	assert_int_equal(ops_encode(&in, &b, &err), 0);
	assert_int_equal(ops_decode(b.data, b.len, &lim, &out, &v, &err), 0);
	assert_int_equal(out.size, 12);
	assert_memory_equal(out.sha256, in.sha256, 32);
	assert_null(out.mime);
	op_release(&out);
	/* An update field without a base cannot be encoded. */
	op_release(&in);
	sample_op(&in, 1);
	in.fields[0].has_base = false;
	assert_int_equal(ops_encode(&in, &b, &err), FERRY_ERR);
	in.type = OP_STATUS_CHANGE;
	assert_int_equal(ops_encode(&in, &b, &err), FERRY_ERR);
	op_release(&in);
	buf_release(&b);
}

/* What docs/bundle-format.md promises: standard tools open a bundle. */
static void
test_written_bundle_opens_with_gpg_tar_and_msgpack(void **state)
{
	struct bundle_manifest hdr;
	char *blob = xasprintf("%s/std.txt", tmp), *path, *cmd, *dir;
	const char *blobs[1];
	uint8_t hash[32];
	char hex[CRYPTO_SHA256_HEX];

	(void)state;
	tu_write_file(blob, "standard tools", 14);
	blobs[0] = blob;
	header(&hdr, 3);
	path = write_bundle(&hdr, 2, blobs, 1, hash);
	crypto_sha256_hex(hash, hex);
	dir = xasprintf("%s/std", tmp);
	mkdir(dir, 0700);
	cmd = xasprintf(
	    "set -e; cd '%s'; "
	    "gpg --homedir '%s' --batch -q --list-packets '%s' > packets 2>&1;"
	    "grep -q 'literal data packet' packets; "
	    "if grep -q 'compressed packet' packets; then exit 1; fi; "
	    "gpg --homedir '%s' --batch -q -o plain --decrypt '%s' "
	    "2>/dev/null; "
	    "tar --zstd -xf plain; "
	    "test \"$(sha256sum < manifest.msgpack | cut -d' ' -f1)\" = %s; "
	    "test \"$(tar --zstd -tf plain | head -2 | tr '\\n' ' ')\" = "
	    "'manifest.msgpack ops.msgpack '; "
	    "/usr/bin/python3 -c 'import msgpack; "
	    "m = msgpack.unpackb(open(\"manifest.msgpack\", \"rb\").read()); "
	    "ops = list(msgpack.Unpacker(open(\"ops.msgpack\", \"rb\"))); "
	    "assert m[\"seq\"] == 3 and m[\"ops\"] == 2 == len(ops); "
	    "assert ops[0][\"t\"] == \"issue.update\"'; "
	    "cmp blobs/* '%s'",
	    dir, beta.home, path, beta.home, path, hex, blob);
	if (system(cmd) != 0)
		fail_msg("standard tools could not open the bundle");
	unlink(path);
	free(cmd);
	free(dir);
	free(path);
	free(blob);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ops_encode_decode_every_type),
		cmocka_unit_test(
		    test_names_are_fat_safe_sortable_and_parse_back),
		cmocka_unit_test(test_round_trip_ops_blobs_and_manifest),
		cmocka_unit_test(
		    test_large_blob_round_trips_and_failed_extract_cleans_up),
		cmocka_unit_test(test_control_message_round_trip),
		cmocka_unit_test(test_every_control_kind_round_trips),
		cmocka_unit_test(test_failed_write_leaves_no_file),
		cmocka_unit_test(test_hand_built_archive_is_accepted),
		cmocka_unit_test(
		    test_chunks_travel_separately_and_join_by_hash),
		cmocka_unit_test(test_rejects_empty_file_jpeg_and_text),
		cmocka_unit_test(test_rejects_unsigned),
		cmocka_unit_test(
		    test_rejects_unknown_signer_and_other_connections_key),
		cmocka_unit_test(test_rejects_revoked_signer),
		cmocka_unit_test(
		    test_rejects_expired_signer_unless_received_in_time),
		cmocka_unit_test(test_rejects_flipped_bits_and_truncation),
		cmocka_unit_test(
		    test_rejects_wrong_addressee_connection_sender_seq_chain),
		cmocka_unit_test(
		    test_rejects_unknown_format_naming_both_versions),
		cmocka_unit_test(test_rejects_bad_member_names_and_types),
		cmocka_unit_test(
		    test_rejects_duplicate_missing_and_extra_members),
		cmocka_unit_test(test_rejects_size_and_hash_mismatch),
		cmocka_unit_test(test_rejects_chunk_that_does_not_fit_its_blob),
		cmocka_unit_test(test_rejects_decompression_bomb),
		cmocka_unit_test(test_rejects_content_not_a_zstd_tar),
		cmocka_unit_test(test_rejects_manifest_not_first),
		cmocka_unit_test(test_rejects_bad_msgpack),
		cmocka_unit_test(test_rejects_bad_ops),
		cmocka_unit_test(
		    test_written_bundle_opens_with_gpg_tar_and_msgpack),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
