/*
 * bundle_read.c: verifying and opening bundles (see bundle.h).
 *
 * Order matters here: the file is decrypted and its signature checked
 * into a staging file before a single byte of it is parsed; the archive
 * walk then trusts the signer but not the signer's software, so every
 * name, type, size and hash is checked against the manifest, and every
 * length against the limits, while the members stream.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/bundle.h"
#include "ferry/file.h"
#include "bundle_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#define IO_BLOCK	(64 * 1024)
#define MEMBER_BLOCK	(256 * 1024)

/* libarchive's message, or a stand-in: it may have none (NULL). */
static const char *
aerr(struct archive *a)
{
	const char *s = archive_error_string(a);

	return s != NULL ? s : "unknown archive error";
}


/*
 * The member walk runs on two threads: the walker decompresses and checks
 * a block while the sink hashes and writes the one before it, so the
 * reader's time after verification is about the larger of the two, not
 * their sum.  Two blocks take turns; the walker hands one over and fills
 * the other, and waits for the sink before it reuses a block, reads its
 * result or returns.  If the thread cannot start, the walker does the
 * sink's work itself.
 */
struct sink {
	pthread_mutex_t		 mu;
	pthread_cond_t		 cv;
	pthread_t		 tid;
	bool			 running;
	bool			 quit;
	const char		*data;		/* handed over; NULL: idle */
	size_t			 len;
	/* set by the walker while the sink is idle */
	struct crypto_sha256	*h;
	int			 fd;
	const char		*name;
	/* the sink's first failure, read by the walker while idle */
	struct ferry_err	 err;
	int			 rc;
};

struct walker {
	struct archive			*a;
	const uint64_t			*compressed;
	const struct bundle_expect	*ex;
	const struct bundle_limits	*lim;
	const char			*dir;
	bool				 keep_blobs;
	struct bundle_manifest		*m;
	enum bundle_reason		*why;
	struct ferry_err		*err;
	uint64_t			 total;
	char				*block;
	char				*mblock[2];	/* member blocks */
	struct sink			 sink;
};

/* Hash and write one block; on failure keep the first error. */
static void
sink_work(struct sink *k, const char *data, size_t len)
{
	if (k->rc < 0)
		return;
	crypto_sha256_update(k->h, data, len);
	if (k->fd != -1)
		k->rc = file_write_all(k->fd, data, len, k->name, &k->err);
}

static void *
sink_main(void *arg)
{
	struct sink *k = arg;
	const char *data;
	size_t len;

	pthread_mutex_lock(&k->mu);
	for (;;) {
		while (k->data == NULL && !k->quit)
			pthread_cond_wait(&k->cv, &k->mu);
		if (k->data == NULL)
			break;
		data = k->data;
		len = k->len;
		pthread_mutex_unlock(&k->mu);
		sink_work(k, data, len);
		pthread_mutex_lock(&k->mu);
		k->data = NULL;
		pthread_cond_broadcast(&k->cv);
	}
	pthread_mutex_unlock(&k->mu);
	return NULL;
}

static void
sink_start(struct sink *k)
{
	memset(k, 0, sizeof(*k));
	k->fd = -1;
	pthread_mutex_init(&k->mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	k->running = pthread_create(&k->tid, NULL, sink_main, k) == 0;
}

/* Wait until the sink has finished the block it was given. */
static void
sink_wait(struct sink *k)
{
	if (!k->running)
		return;
	pthread_mutex_lock(&k->mu);
	while (k->data != NULL)
		pthread_cond_wait(&k->cv, &k->mu);
	pthread_mutex_unlock(&k->mu);
}

/* Hand a block over (the sink must be idle: sink_wait() first). */
static void
sink_put(struct sink *k, const char *data, size_t len)
{
	if (!k->running) {
		sink_work(k, data, len);
		return;
	}
	pthread_mutex_lock(&k->mu);
	assert(k->data == NULL);
	k->data = data;
	k->len = len;
	pthread_cond_broadcast(&k->cv);
	pthread_mutex_unlock(&k->mu);
}

static void
sink_stop(struct sink *k)
{
	if (k->running) {
		pthread_mutex_lock(&k->mu);
		k->quit = true;
		pthread_cond_broadcast(&k->cv);
		pthread_mutex_unlock(&k->mu);
		pthread_join(k->tid, NULL);
	}
	pthread_cond_destroy(&k->cv);
	pthread_mutex_destroy(&k->mu);
}

static int
wreject(struct walker *wk, enum bundle_reason r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
wreject(struct walker *wk, enum bundle_reason r, const char *fmt, ...)
{
	char msg[FERRY_ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	*wk->why = r;
	return ferry_err_set(wk->err, FERRY_EREJECT, "%s", msg);
}

/* A member name from the archive, escaped and cut for a message. */
static void
show(const char *s, char *out, size_t outlen)
{
	struct buf b = BUF_INIT(0);

	if (s == NULL)
		s = "(none)";
	buf_add_escaped(&b, s, strnlen(s, 100));
	snprintf(out, outlen, "%s", b.data);
	buf_release(&b);
}

static int
check_entry(struct walker *wk, struct archive_entry *e, const char **name)
{
	char shown[128];
	const char *what;

	*name = archive_entry_pathname(e);
	show(*name, shown, sizeof(shown));
	if (archive_entry_hardlink(e) != NULL)
		return wreject(wk, BUNDLE_R_BAD_TYPE,
		    "member '%s' is a hard link", shown);
	if (archive_entry_symlink(e) != NULL ||
	    archive_entry_filetype(e) != AE_IFREG) {
		switch (archive_entry_filetype(e)) {
		case AE_IFLNK: what = "a symbolic link"; break;
		case AE_IFDIR: what = "a directory"; break;
		case AE_IFCHR: what = "a character device"; break;
		case AE_IFBLK: what = "a block device"; break;
		case AE_IFIFO: what = "a FIFO"; break;
		case AE_IFSOCK: what = "a socket"; break;
		default: what = "not a regular file"; break;
		}
		return wreject(wk, BUNDLE_R_BAD_TYPE, "member '%s' is %s",
		    shown, what);
	}
	if (*name == NULL || (strcmp(*name, BUNDLE_MANIFEST_NAME) != 0 &&
	    !bundle_member_name_ok(*name)))
		return wreject(wk, BUNDLE_R_BAD_NAME,
		    "member named '%s': only manifest.msgpack, ops.msgpack "
		    "and blobs/<sha256>[.<n>] may appear", shown);
	if (!archive_entry_size_is_set(e) || archive_entry_size(e) < 0)
		return wreject(wk, BUNDLE_R_SIZE, "member '%s' has no size",
		    shown);
	return 0;
}

static int
check_ratio(struct walker *wk)
{
	uint64_t c = *wk->compressed > 0 ? *wk->compressed : 1;

	if (wk->total > wk->lim->ratio_after &&
	    wk->total / c > wk->lim->max_ratio)
		return wreject(wk, BUNDLE_R_RATIO,
		    "%" PRIu64 " bytes unpacked from %" PRIu64 ": more than "
		    "%" PRIu32 " times the compressed size (a decompression "
		    "bomb?)", wk->total, *wk->compressed, wk->lim->max_ratio);
	return 0;
}

/*
 * Stream one member's data: size and hash against the manifest, ops
 * validated as they come, content written to out_fd (or not, at -1).
 * The walker reads and checks; the sink hashes and writes (see above).
 */
static int
stream_member(struct walker *wk, const struct bundle_member *mb, int out_fd,
    struct opstream *ops)
{
	struct crypto_sha256 h = CRYPTO_SHA256_INIT;
	struct sink *k = &wk->sink;
	uint8_t got[32];
	uint64_t done = 0;
	la_ssize_t n;
	char *blk;
	int rc, turn = 0;

	crypto_sha256_init(&h);
	k->h = &h;
	k->fd = out_fd;
	k->name = mb->name;
	k->rc = 0;
	for (;;) {
		/* The sink may still hold the other block, never this one. */
		blk = wk->mblock[turn];
		n = archive_read_data(wk->a, blk, MEMBER_BLOCK);
		if (n < 0) {
			rc = wreject(wk, BUNDLE_R_NOT_ARCHIVE,
			    "damaged archive in member '%s': %s", mb->name,
			    aerr(wk->a));
			goto out;
		}
		if (n == 0)
			break;
		done += (uint64_t)n;
		wk->total += (uint64_t)n;
		if (done > mb->size) {
			rc = wreject(wk, BUNDLE_R_SIZE, "member '%s' is "
			    "larger than the %" PRIu64 " bytes the manifest "
			    "lists", mb->name, mb->size);
			goto out;
		}
		if ((rc = check_ratio(wk)) < 0)
			goto out;
		if (ops != NULL && (rc = opstream_feed(ops, blk, (size_t)n,
		    wk->why, wk->err)) < 0)
			goto out;
		sink_wait(k);
		if (k->rc < 0) {
			*wk->err = k->err;
			rc = k->rc;
			goto out;
		}
		sink_put(k, blk, (size_t)n);
		turn ^= 1;
	}
	sink_wait(k);
	if (k->rc < 0) {
		*wk->err = k->err;
		rc = k->rc;
		goto out;
	}
	if (done != mb->size) {
		rc = wreject(wk, BUNDLE_R_SIZE, "member '%s' has %" PRIu64
		    " bytes, the manifest lists %" PRIu64, mb->name, done,
		    mb->size);
		goto out;
	}
	crypto_sha256_final(&h, got);
	if (memcmp(got, mb->sha256, 32) != 0) {
		rc = wreject(wk, BUNDLE_R_HASH, "member '%s' does not match "
		    "its SHA-256 in the manifest", mb->name);
		goto out;
	}
	rc = ops != NULL ? opstream_end(ops, wk->m->op_count, wk->why,
	    wk->err) : 0;
out:
	/* Nothing of this member may be in the sink's hands past here. */
	sink_wait(k);
	k->h = NULL;
	k->fd = -1;
	crypto_sha256_release(&h);
	return rc;
}

static int
read_manifest(struct walker *wk, struct archive_entry *e)
{
	struct buf mb = BUF_INIT(0);
	la_int64_t size = archive_entry_size(e);
	la_ssize_t n;
	int rc;

	if ((uint64_t)size > wk->lim->max_manifest_size)
		return wreject(wk, BUNDLE_R_TOO_LARGE, "manifest of %" PRId64
		    " bytes is over the limit of %" PRIu64, (int64_t)size,
		    wk->lim->max_manifest_size);
	buf_grow(&mb, (size_t)size);
	for (;;) {
		n = archive_read_data(wk->a, wk->block, IO_BLOCK);
		if (n < 0) {
			rc = wreject(wk, BUNDLE_R_NOT_ARCHIVE,
			    "damaged archive in the manifest: %s",
			    aerr(wk->a));
			goto out;
		}
		if (n == 0)
			break;
		wk->total += (uint64_t)n;
		if (mb.len + (size_t)n > (size_t)size) {
			rc = wreject(wk, BUNDLE_R_SIZE, "manifest longer than "
			    "its header says");
			goto out;
		}
		buf_add(&mb, wk->block, (size_t)n);
	}
	rc = bundle_manifest_decode(mb.data, mb.len, wk->lim, wk->m, wk->why,
	    wk->err);
	if (rc == 0)
		crypto_sha256(mb.data, mb.len, wk->m->hash);
out:
	buf_release(&mb);
	return rc;
}

static int
check_expect(struct walker *wk)
{
	const struct bundle_expect *ex = wk->ex;
	const struct bundle_manifest *m = wk->m;

	if (ex == NULL)
		return 0;
	if (ex->conn != NULL && strcmp(m->conn, ex->conn) != 0)
		return wreject(wk, BUNDLE_R_CONNECTION, "it belongs to "
		    "connection '%s', not '%s'", m->conn, ex->conn);
	if (ex->to != NULL && strcmp(m->to, ex->to) != 0)
		return wreject(wk, BUNDLE_R_ADDRESSEE, "it is addressed to "
		    "site '%s', this site is '%s'", m->to, ex->to);
	if (ex->from != NULL && strcmp(m->from, ex->from) != 0)
		return wreject(wk, BUNDLE_R_SENDER, "it comes from site '%s', "
		    "the peer is '%s'", m->from, ex->from);
	if (m->kind != BUNDLE_DATA)
		return 0;
	if (ex->seq != 0 && m->seq != ex->seq)
		return wreject(wk, BUNDLE_R_SEQ, "its seq is %" PRIu64
		    ", expected %" PRIu64, m->seq, ex->seq);
	if (ex->prev != NULL && (!m->has_prev ||
	    memcmp(m->prev, ex->prev, 32) != 0))
		return wreject(wk, BUNDLE_R_CHAIN, "it does not follow the "
		    "bundle this site holds as seq %" PRIu64, m->seq - 1);
	return 0;
}

static int
open_out(struct walker *wk, const char *name, int *fd)
{
	char *path = file_join(wk->dir, name);
	int rc = 0;

	*fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (*fd == -1)
		rc = ferry_err_sys(wk->err, FERRY_EIO, "cannot create '%s'",
		    path);
	free(path);
	return rc;
}

int
bundle_walk(struct archive *a, const uint64_t *compressed,
    const struct bundle_expect *ex, const struct bundle_limits *lim,
    const char *dir, bool keep_blobs, struct bundle_manifest *m,
    enum bundle_reason *why, struct ferry_err *err)
{
	struct walker wk = { .a = a, .compressed = compressed, .ex = ex,
	    .lim = lim, .dir = dir, .keep_blobs = keep_blobs, .m = m,
	    .why = why, .err = err };
	struct archive_entry *e;
	struct opstream ops;
	const char *name;
	bool have_ops = false;
	size_t next = 0, j;
	int r, rc, fd = -1;

	wk.block = xmalloc(IO_BLOCK);
	wk.mblock[0] = xmalloc(MEMBER_BLOCK);
	wk.mblock[1] = xmalloc(MEMBER_BLOCK);
	sink_start(&wk.sink);
	opstream_init(&ops, lim);
	r = archive_read_next_header(a, &e);
	if (r != ARCHIVE_OK) {
		rc = wreject(&wk, BUNDLE_R_NOT_ARCHIVE, "the signed content "
		    "is not a bundle archive: %s", r == ARCHIVE_EOF ?
		    "no members" : aerr(a));
		goto out;
	}
	if (archive_filter_code(a, 0) != ARCHIVE_FILTER_ZSTD ||
	    (archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) !=
	    ARCHIVE_FORMAT_TAR) {
		rc = wreject(&wk, BUNDLE_R_NOT_ARCHIVE, "the signed content "
		    "is %s/%s, not a zstd-compressed tar",
		    archive_filter_name(a, 0), archive_format_name(a));
		goto out;
	}
	if ((rc = check_entry(&wk, e, &name)) < 0)
		goto out;
	if (strcmp(name, BUNDLE_MANIFEST_NAME) != 0) {
		rc = wreject(&wk, BUNDLE_R_ORDER, "the first member is '%s', "
		    "not manifest.msgpack", name);
		goto out;
	}
	if ((rc = read_manifest(&wk, e)) < 0 || (rc = check_expect(&wk)) < 0)
		goto out;
	if (dir != NULL && keep_blobs) {
		char *bd = file_join(dir, "blobs");

		if (mkdir(bd, 0700) == -1 && errno != EEXIST)
			rc = ferry_err_sys(err, FERRY_EIO, "cannot create '%s'",
			    bd);
		free(bd);
		if (rc < 0)
			goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		if ((rc = check_entry(&wk, e, &name)) < 0)
			goto out;
		if (strcmp(name, BUNDLE_MANIFEST_NAME) == 0) {
			rc = wreject(&wk, BUNDLE_R_DUPLICATE, "a second "
			    "manifest.msgpack");
			goto out;
		}
		for (j = 0; j < m->nmembers; j++)
			if (strcmp(m->members[j].name, name) == 0)
				break;
		if (j == m->nmembers) {
			rc = wreject(&wk, BUNDLE_R_EXTRA, "member '%s' is not "
			    "in the manifest", name);
			goto out;
		}
		if (j < next) {
			rc = wreject(&wk, BUNDLE_R_DUPLICATE, "member '%s' "
			    "appears twice", name);
			goto out;
		}
		if (j > next) {
			rc = wreject(&wk, BUNDLE_R_MISSING, "member '%s' is "
			    "missing (found '%s' in its place)",
			    m->members[next].name, name);
			goto out;
		}
		if ((uint64_t)archive_entry_size(e) != m->members[j].size) {
			rc = wreject(&wk, BUNDLE_R_SIZE, "member '%s' has %"
			    PRId64 " bytes, the manifest lists %" PRIu64, name,
			    (int64_t)archive_entry_size(e), m->members[j].size);
			goto out;
		}
		have_ops = strcmp(name, BUNDLE_OPS_NAME) == 0;
		if (dir != NULL && (have_ops || keep_blobs) &&
		    (rc = open_out(&wk, name, &fd)) < 0)
			goto out;
		rc = stream_member(&wk, &m->members[j], fd, have_ops ? &ops :
		    NULL);
		if (fd != -1 && close(fd) == -1 && rc == 0)
			rc = ferry_err_sys(err, FERRY_EIO, "cannot write '%s'",
			    name);
		fd = -1;
		if (rc < 0)
			goto out;
		next++;
	}
	if (r != ARCHIVE_EOF) {
		rc = wreject(&wk, BUNDLE_R_NOT_ARCHIVE, "damaged archive: %s",
		    aerr(a));
		goto out;
	}
	if (next < m->nmembers) {
		rc = wreject(&wk, BUNDLE_R_MISSING, "member '%s' is missing",
		    m->members[next].name);
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	sink_stop(&wk.sink);
	opstream_release(&ops);
	free(wk.mblock[0]);
	free(wk.mblock[1]);
	free(wk.block);
	return rc;
}

/* Reading the plaintext, counting it for the compression ratio. */
struct source {
	int			 fd;
	const uint8_t		*mem;
	size_t			 memlen;
	uint64_t		 n;
	char			*block;
};

static la_ssize_t
source_read(struct archive *a, void *ctx, const void **out)
{
	struct source *s = ctx;
	ssize_t n;
	size_t k;

	if (s->mem != NULL) {
		k = s->memlen - s->n < IO_BLOCK ? s->memlen - (size_t)s->n :
		    IO_BLOCK;
		*out = s->mem + s->n;
		s->n += k;
		return (la_ssize_t)k;
	}
	do
		n = read(s->fd, s->block, IO_BLOCK);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "cannot read the staging file");
		return -1;
	}
	s->n += (uint64_t)n;
	*out = s->block;
	return n;
}

static struct archive *
reader_new(void)
{
	struct archive *a = archive_read_new();

	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	return a;
}

int
bundle_walk_mem(const void *data, size_t len, const struct bundle_expect *ex,
    const struct bundle_limits *lim, struct bundle_manifest *m,
    enum bundle_reason *why, struct ferry_err *err)
{
	struct source s = { -1, data, len, 0, NULL };
	struct archive *a = reader_new();
	int rc;

	*why = BUNDLE_R_NONE;
	if (archive_read_open(a, &s, NULL, source_read, NULL) != ARCHIVE_OK) {
		*why = BUNDLE_R_NOT_ARCHIVE;
		rc = ferry_err_set(err, FERRY_EREJECT, "not an archive: %s",
		    aerr(a));
	} else {
		rc = bundle_walk(a, &s.n, ex, lim, NULL, false, m, why, err);
	}
	archive_read_free(a);
	if (rc < 0)
		bundle_manifest_release(m);
	return rc;
}

static enum bundle_reason
verdict_reason(enum crypto_verdict v)
{
	switch (v) {
	case CRYPTO_NOT_OPENPGP: return BUNDLE_R_NOT_OPENPGP;
	case CRYPTO_CORRUPT: return BUNDLE_R_CORRUPT;
	case CRYPTO_NOT_FOR_US: return BUNDLE_R_NOT_FOR_US;
	case CRYPTO_UNSIGNED: return BUNDLE_R_UNSIGNED;
	case CRYPTO_BAD_SIGNATURE: return BUNDLE_R_BAD_SIGNATURE;
	case CRYPTO_UNKNOWN_SIGNER: return BUNDLE_R_UNKNOWN_SIGNER;
	case CRYPTO_WRONG_SIGNER: return BUNDLE_R_WRONG_SIGNER;
	case CRYPTO_KEY_EXPIRED: return BUNDLE_R_KEY_EXPIRED;
	case CRYPTO_KEY_REVOKED: return BUNDLE_R_KEY_REVOKED;
	case CRYPTO_MULTIPLE_SIGNERS: return BUNDLE_R_BAD_SIGNATURE;
	default: return BUNDLE_R_CORRUPT;
	}
}

/* What the operator does about each reason. */
static const char *
advice(enum bundle_reason r)
{
	switch (r) {
	case BUNDLE_R_EMPTY:
	case BUNDLE_R_NOT_OPENPGP:
	case BUNDLE_R_CORRUPT:
		return "the file was damaged on the way or is not a bundle; "
		    "the peer resends what this site has not acknowledged";
	case BUNDLE_R_NOT_FOR_US:
		return "it is encrypted for another site; check the "
		    "connection's inbox path";
	case BUNDLE_R_UNSIGNED:
	case BUNDLE_R_BAD_SIGNATURE:
	case BUNDLE_R_UNKNOWN_SIGNER:
	case BUNDLE_R_WRONG_SIGNER:
		return "it is not signed by the key pinned for this "
		    "connection; check the peer key with 'ferry check' and "
		    "do not trust the file";
	case BUNDLE_R_KEY_EXPIRED:
		return "the peer's key has expired; the peer must extend it "
		    "and resend";
	case BUNDLE_R_KEY_REVOKED:
		return "the peer's key is revoked; pair the sites again";
	case BUNDLE_R_VERSION:
		return "nothing was applied";
	case BUNDLE_R_CONNECTION:
	case BUNDLE_R_ADDRESSEE:
	case BUNDLE_R_SENDER:
		return "it is not for this connection and site; check the "
		    "transport paths";
	case BUNDLE_R_SEQ:
	case BUNDLE_R_CHAIN:
		return "the sequence does not continue; 'ferry status' shows "
		    "the connection";
	default:
		return "the peer's ferry wrote a bundle this ferry refuses; "
		    "report it to the peer's administrator";
	}
}

static void
remove_tree(const char *dir)
{
	char *sub = file_join(dir, "blobs"), *p;
	struct dirent *de;
	DIR *d;

	if ((d = opendir(sub)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			p = file_join(sub, de->d_name);
			unlink(p);
			free(p);
		}
		closedir(d);
	}
	rmdir(sub);
	free(sub);
	p = file_join(dir, BUNDLE_OPS_NAME);
	unlink(p);
	free(p);
	p = file_join(dir, "plain");
	unlink(p);
	free(p);
	rmdir(dir);
}

void
bundle_free(struct bundle *b)
{
	if (b == NULL)
		return;
	if (b->ops_fd != -1)
		close(b->ops_fd);
	if (b->ops_buf != NULL) {
		buf_release(b->ops_buf);
		free(b->ops_buf);
	}
	if (b->dir != NULL)
		remove_tree(b->dir);
	free(b->dir);
	free(b->path);
	bundle_manifest_release(&b->m);
	free(b);
}

int
bundle_open(struct crypto *c, const char *path,
    const struct bundle_expect *ex, const struct bundle_limits *lim,
    const char *workdir, struct bundle **out, enum bundle_reason *why,
    struct ferry_err *err)
{
	struct bundle_limits deflim;
	struct bundle *b = NULL;
	struct archive *a = NULL;
	struct source s;
	enum crypto_verdict v;
	enum bundle_reason r = BUNDLE_R_NONE;
	const char *base;
	char *tmpl = NULL, *plain = NULL, detail[FERRY_ERR_MSG_MAX];
	struct stat st;
	int in = -1, rc;

	*out = NULL;
	memset(&s, 0, sizeof(s));
	s.fd = -1;
	if (lim == NULL) {
		bundle_limits_default(&deflim);
		lim = &deflim;
	}
	base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	b = xcalloc(1, sizeof(*b));
	b->ops_fd = -1;
	b->path = xstrdup(path);
	b->lim = *lim;
	if ((in = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(in, &st) == -1) {
		rc = ferry_err_sys(err, errno == ENOENT ? FERRY_ENOTFOUND :
		    FERRY_EIO, "cannot open bundle '%s'", path);
		goto out;
	}
	if (st.st_size == 0) {
		r = BUNDLE_R_EMPTY;
		rc = ferry_err_set(err, FERRY_EREJECT, "the file is empty");
		goto out;
	}
	tmpl = file_join(workdir, ".bundle-XXXXXX");
	if (mkdtemp(tmpl) == NULL) {
		rc = ferry_err_sys(err, FERRY_EIO, "cannot create a staging "
		    "directory in '%s'", workdir);
		goto out;
	}
	b->dir = tmpl;
	tmpl = NULL;
	plain = file_join(b->dir, "plain");
	s.fd = open(plain, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (s.fd == -1) {
		rc = ferry_err_sys(err, FERRY_EIO, "cannot create '%s'", plain);
		goto out;
	}
	/* Nothing below reads the plaintext unless this verifies. */
	rc = crypto_unseal(c, ex->pinned, ex->received_at, in, s.fd, &b->sig,
	    &v, err);
	if (rc == FERRY_EREJECT)
		r = verdict_reason(v);
	if (rc < 0)
		goto out;
	if (lseek(s.fd, 0, SEEK_SET) == -1) {
		rc = ferry_err_sys(err, FERRY_EIO, "cannot rewind '%s'", plain);
		goto out;
	}
	s.block = xmalloc(IO_BLOCK);
	a = reader_new();
	if (archive_read_open(a, &s, NULL, source_read, NULL) != ARCHIVE_OK) {
		r = BUNDLE_R_NOT_ARCHIVE;
		rc = ferry_err_set(err, FERRY_EREJECT, "not an archive: %s",
		    aerr(a));
		goto out;
	}
	if ((rc = bundle_walk(a, &s.n, ex, lim, b->dir, ex->keep_blobs, &b->m,
	    &r, err)) < 0)
		goto out;
	memcpy(b->hash, b->m.hash, 32);
	close(s.fd);
	s.fd = -1;
	unlink(plain);
	*out = b;
	b = NULL;
	rc = 0;
out:
	if (rc == FERRY_EREJECT) {
		snprintf(detail, sizeof(detail), "%s", err->msg);
		ferry_err_set(err, FERRY_EREJECT, "bundle '%s' rejected (%s): "
		    "%s; %s", base, bundle_reason_name(r), detail, advice(r));
	}
	if (why != NULL)
		*why = rc == FERRY_EREJECT ? r : BUNDLE_R_NONE;
	if (a != NULL)
		archive_read_free(a);
	if (s.fd != -1)
		close(s.fd);
	if (in != -1)
		close(in);
	free(s.block);
	free(plain);
	free(tmpl);
	bundle_free(b);
	return rc;
}

int
bundle_next_op(struct bundle *b, struct op *op, struct ferry_err *err)
{
	enum mp_verdict v;
	size_t used;
	ssize_t n;
	char *path;
	int rc;

	if (b->m.kind != BUNDLE_DATA)
		return 0;
	if (b->ops_fd == -1) {
		path = file_join(b->dir, BUNDLE_OPS_NAME);
		b->ops_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (b->ops_fd == -1) {
			rc = ferry_err_sys(err, FERRY_EIO, "cannot open '%s'",
			    path);
			free(path);
			return rc;
		}
		free(path);
		b->ops_buf = xmalloc(sizeof(*b->ops_buf));
		buf_init(b->ops_buf, 0);
		b->ops_off = 0;
	}
	for (;;) {
		struct buf *p = b->ops_buf;
		size_t avail = p->len - b->ops_off;

		if (avail > b->lim.max_op_size)
			avail = (size_t)b->lim.max_op_size;
		if (avail > 0) {
			if ((rc = ops_mp_check(p->data + b->ops_off, avail,
			    (size_t)b->lim.max_op_size, &b->lim.mp, &used, &v,
			    err)) < 0)
				return rc;
			if (used > 0) {
				rc = ops_decode(p->data + b->ops_off, used,
				    &b->lim.mp, op, &v, err);
				if (rc < 0)
					return rc;
				b->ops_off += used;
				b->ops_read++;
				return 1;
			}
		}
		/* Keep the unread tail, then read more behind it. */
		memmove(p->data, p->data + b->ops_off, p->len - b->ops_off);
		buf_setlen(p, p->len - b->ops_off);
		b->ops_off = 0;
		buf_grow(p, IO_BLOCK);
		do
			n = read(b->ops_fd, p->data + p->len, IO_BLOCK);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return ferry_err_sys(err, FERRY_EIO,
			    "cannot read the operations");
		if (n == 0) {
			if (p->len > 0)
				return ferry_err_set(err, FERRY_ERR,
				    "operations end inside an operation");
			return 0;
		}
		p->len += (size_t)n;
		p->data[p->len] = '\0';
	}
}

void
bundle_rewind_ops(struct bundle *b)
{
	if (b->ops_fd != -1)
		lseek(b->ops_fd, 0, SEEK_SET);
	if (b->ops_buf != NULL)
		buf_reset(b->ops_buf);
	b->ops_off = 0;
	b->ops_read = 0;
}

char *
bundle_member_path(struct bundle *b, const struct bundle_member *m)
{
	char *p = file_join(b->dir, m->name);

	if (!file_exists(p))
		FREE_AND_NULL(p);
	return p;
}

int
bundle_chunks_join(const char *const *paths,
    const struct bundle_member *const *m, size_t n, const char *dir,
    const char *name, enum bundle_reason *why, struct ferry_err *err)
{
	struct file_atomic fa = FILE_ATOMIC_INIT;
	struct crypto_sha256 whole = CRYPTO_SHA256_INIT;
	struct crypto_sha256 part = CRYPTO_SHA256_INIT;
	uint8_t got[32];
	uint64_t offset = 0, done;
	char *block = NULL;
	ssize_t k;
	size_t i;
	int fd = -1, rc;

	*why = BUNDLE_R_NONE;
	if (n == 0 || n != m[0]->nchunks) {
		*why = BUNDLE_R_CHUNK;
		return ferry_err_set(err, FERRY_EREJECT, "%zu chunks given, "
		    "the blob has %" PRIu32, n, n ? m[0]->nchunks : 0);
	}
	for (i = 0; i < n; i++)
		if (m[i]->index != i || m[i]->offset != offset ||
		    m[i]->nchunks != m[0]->nchunks ||
		    m[i]->blob_size != m[0]->blob_size ||
		    memcmp(m[i]->blob, m[0]->blob, 32) != 0 ||
		    (offset += m[i]->size) > m[0]->blob_size) {
			*why = BUNDLE_R_CHUNK;
			return ferry_err_set(err, FERRY_EREJECT, "chunk '%s' "
			    "does not fit its blob", m[i]->name);
		}
	if (offset != m[0]->blob_size) {
		*why = BUNDLE_R_CHUNK;
		return ferry_err_set(err, FERRY_EREJECT, "the chunks cover %"
		    PRIu64 " of the blob's %" PRIu64 " bytes", offset,
		    m[0]->blob_size);
	}
	if ((rc = file_atomic_open(&fa, dir, name, 0600, err)) < 0)
		return rc;
	block = xmalloc(IO_BLOCK);
	crypto_sha256_init(&whole);
	for (i = 0; i < n; i++) {
		if ((fd = open(paths[i], O_RDONLY | O_CLOEXEC)) == -1) {
			rc = ferry_err_sys(err, FERRY_EIO, "cannot open '%s'",
			    paths[i]);
			goto out;
		}
		crypto_sha256_init(&part);
		done = 0;
		while ((k = read(fd, block, IO_BLOCK)) > 0) {
			done += (uint64_t)k;
			crypto_sha256_update(&part, block, (size_t)k);
			crypto_sha256_update(&whole, block, (size_t)k);
			if (done > m[i]->size ||
			    (rc = file_atomic_write(&fa, block, (size_t)k,
			    err)) < 0)
				break;
		}
		close(fd);
		fd = -1;
		if (k < 0) {
			rc = ferry_err_sys(err, FERRY_EIO, "cannot read '%s'",
			    paths[i]);
			goto out;
		}
		if (rc < 0)
			goto out;
		crypto_sha256_final(&part, got);
		if (done != m[i]->size || memcmp(got, m[i]->sha256, 32) != 0) {
			*why = BUNDLE_R_HASH;
			rc = ferry_err_set(err, FERRY_EREJECT,
			    "chunk '%s' does not match its size and hash",
			    m[i]->name);
			goto out;
		}
	}
	crypto_sha256_final(&whole, got);
	if (memcmp(got, m[0]->blob, 32) != 0) {
		*why = BUNDLE_R_HASH;
		rc = ferry_err_set(err, FERRY_EREJECT, "the chunks do not make "
		    "the blob they name");
		goto out;
	}
	rc = file_atomic_commit(&fa, err);
out:
	if (rc < 0 && fa.fd != -1)
		file_atomic_abort(&fa);
	crypto_sha256_release(&whole);
	crypto_sha256_release(&part);
	free(block);
	return rc;
}
