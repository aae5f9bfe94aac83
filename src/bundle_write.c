/*
 * bundle_write.c: the bundle writer (see bundle.h).
 *
 * Two passes, so the manifest with every member's size and hash can be
 * the archive's first member without holding anything large in memory:
 * the first pass spools operations to an unlinked temporary file and
 * hashes blobs where they lie; the second writes the archive.  The
 * archive is produced by a thread into a pipe that gpg reads, so
 * compression and encryption run at the same time and nothing but the
 * final bundle touches the disk.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/bundle.h"
#include "ferry/crash.h"
#include "ferry/file.h"
#include "bundle_int.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define IO_BLOCK	(256 * 1024)

/* libarchive's message, or a stand-in: it may have none (NULL). */
static const char *
aerr(struct archive *a)
{
	const char *s = archive_error_string(a);

	return s != NULL ? s : "unknown archive error";
}


struct wblob {
	char			*path;
	uint64_t		 offset;	/* range of the file */
	struct stat		 st;		/* to notice a change */
	struct bundle_member	 m;
};

struct bundle_writer {
	struct bundle_manifest	 m;
	int			 ops_fd;	/* unlinked spool */
	uint64_t		 ops_size;
	struct crypto_sha256	 ops_hash;
	struct buf		 opbuf;
	struct wblob		*blobs;
	size_t			 nblobs;
	uint64_t		 size;
	bool			 spent;
};

static void
copy_ctl(struct bundle_control *dst, const struct bundle_control *src)
{
	memset(dst, 0, sizeof(*dst));
	if (src->key != NULL) {
		dst->key = xmalloc(src->keylen ? src->keylen : 1);
		memcpy(dst->key, src->key, src->keylen);
		dst->keylen = src->keylen;
	}
	if (src->auth != NULL) {
		dst->auth = xmalloc(src->authlen ? src->authlen : 1);
		memcpy(dst->auth, src->auth, src->authlen);
		dst->authlen = src->authlen;
	}
	if (src->fpr != NULL)
		dst->fpr = xstrdup(src->fpr);
	dst->from_seq = src->from_seq;
	dst->has_top = src->has_top;
	dst->top = src->top;
}

int
bundle_writer_new(const struct bundle_manifest *hdr, const char *workdir,
    struct bundle_writer **out, struct ferry_err *err)
{
	struct bundle_writer *w;
	char *tmpl;
	char name[BUNDLE_NAME_MAX];
	int rc;

	*out = NULL;
	/* Refuse bad ids now rather than after the work is done. */
	if ((rc = bundle_name(hdr, name, sizeof(name), err)) < 0)
		return rc;
	if ((hdr->kind == BUNDLE_DATA) != (hdr->seq > 0))
		return ferry_err_set(err, FERRY_ERR, "a %s bundle with seq %"
		    PRIu64, bundle_kind_name(hdr->kind), hdr->seq);
	w = xcalloc(1, sizeof(*w));
	w->m = *hdr;
	w->m.members = NULL;
	w->m.nmembers = 0;
	w->m.op_count = 0;
	copy_ctl(&w->m.ctl, &hdr->ctl);
	w->m.format = BUNDLE_FORMAT;
	w->m.nreads = 0;
	for (rc = BUNDLE_FORMAT_MIN; rc <= BUNDLE_FORMAT_MAX; rc++)
		w->m.reads[w->m.nreads++] = (uint32_t)rc;
	buf_init(&w->opbuf, 0);
	crypto_sha256_init(&w->ops_hash);
	tmpl = file_join(workdir, ".ferry-ops-XXXXXX");
	w->ops_fd = mkostemp(tmpl, O_CLOEXEC);
	if (w->ops_fd == -1) {
		rc = ferry_err_sys(err, FERRY_EIO, "cannot create a spool file "
		    "in '%s'", workdir);
		free(tmpl);
		bundle_writer_free(w);
		return rc;
	}
	/* Nothing to clean up after a crash: the spool has no name. */
	unlink(tmpl);
	free(tmpl);
	*out = w;
	return 0;
}

void
bundle_writer_free(struct bundle_writer *w)
{
	size_t i;

	if (w == NULL)
		return;
	if (w->ops_fd != -1)
		close(w->ops_fd);
	for (i = 0; i < w->nblobs; i++) {
		free(w->blobs[i].path);
		free(w->blobs[i].m.name);
	}
	free(w->blobs);
	/* A writer freed before finish still holds the ops hash. */
	crypto_sha256_release(&w->ops_hash);
	buf_release(&w->opbuf);
	bundle_manifest_release(&w->m);
	free(w);
}

uint64_t
bundle_writer_size(const struct bundle_writer *w)
{
	return w->size;
}

static int
flush_ops(struct bundle_writer *w, struct ferry_err *err)
{
	int rc;

	if (w->opbuf.len == 0)
		return 0;
	if ((rc = file_write_all(w->ops_fd, w->opbuf.data, w->opbuf.len,
	    "operation spool", err)) < 0)
		return rc;
	buf_reset(&w->opbuf);
	return 0;
}

int
bundle_writer_add_op(struct bundle_writer *w, const struct op *op,
    struct ferry_err *err)
{
	size_t before = w->opbuf.len;
	int rc;

	assert(!w->spent);
	if (w->m.kind != BUNDLE_DATA)
		return ferry_err_set(err, FERRY_ERR,
		    "a %s message carries no operations",
		    bundle_kind_name(w->m.kind));
	if ((rc = ops_encode(op, &w->opbuf, err)) < 0)
		return rc;
	crypto_sha256_update(&w->ops_hash, w->opbuf.data + before,
	    w->opbuf.len - before);
	w->ops_size += w->opbuf.len - before;
	w->size += w->opbuf.len - before;
	w->m.op_count++;
	if (w->opbuf.len >= IO_BLOCK)
		return flush_ops(w, err);
	return 0;
}

static struct wblob *
find_blob(struct bundle_writer *w, const char *name)
{
	size_t i;

	for (i = 0; i < w->nblobs; i++)
		if (strcmp(w->blobs[i].m.name, name) == 0)
			return &w->blobs[i];
	return NULL;
}

static struct wblob *
new_blob(struct bundle_writer *w)
{
	struct wblob *b;

	w->blobs = xreallocarray(w->blobs, w->nblobs + 1, sizeof(*w->blobs));
	b = &w->blobs[w->nblobs++];
	memset(b, 0, sizeof(*b));
	return b;
}

int
bundle_writer_add_blob(struct bundle_writer *w, const char *path,
    uint8_t sha[32], struct ferry_err *err)
{
	char hex[CRYPTO_SHA256_HEX], *name = NULL;
	uint8_t d[32];
	struct stat st;
	struct wblob *b;
	uint64_t size;
	int rc;

	assert(!w->spent);
	if (w->m.kind != BUNDLE_DATA)
		return ferry_err_set(err, FERRY_ERR,
		    "a control message carries no blobs");
	if (stat(path, &st) == -1)
		return ferry_err_sys(err, errno == ENOENT ? FERRY_ENOTFOUND :
		    FERRY_EIO, "cannot stat '%s'", path);
	if ((rc = crypto_sha256_file(path, 0, UINT64_MAX, d, &size, err)) < 0)
		return rc;
	if (sha != NULL)
		memcpy(sha, d, 32);
	crypto_sha256_hex(d, hex);
	name = xasprintf("blobs/%s", hex);
	if (find_blob(w, name) != NULL) {
		free(name);
		return 0;
	}
	b = new_blob(w);
	b->path = xstrdup(path);
	b->st = st;
	b->m.name = name;
	b->m.size = size;
	memcpy(b->m.sha256, d, 32);
	w->size += size;
	return 0;
}

int
bundle_writer_add_chunk(struct bundle_writer *w, const char *path,
    const uint8_t blob_sha[32], uint64_t blob_size, uint64_t offset,
    uint64_t len, uint32_t index, uint32_t nchunks, struct ferry_err *err)
{
	char hex[CRYPTO_SHA256_HEX], *name;
	struct stat st;
	struct wblob *b;
	uint8_t d[32];
	int rc;

	assert(!w->spent);
	if (w->m.kind != BUNDLE_DATA)
		return ferry_err_set(err, FERRY_ERR,
		    "a control message carries no blobs");
	if (nchunks < 2 || index >= nchunks || len == 0 ||
	    offset > blob_size || len > blob_size - offset)
		return ferry_err_set(err, FERRY_ERR, "chunk %" PRIu32 " of %"
		    PRIu32 " (%" PRIu64 " bytes at %" PRIu64 ") does not fit "
		    "a blob of %" PRIu64 " bytes", index, nchunks, len, offset,
		    blob_size);
	if (stat(path, &st) == -1)
		return ferry_err_sys(err, FERRY_EIO, "cannot stat '%s'", path);
	if ((uint64_t)st.st_size != blob_size)
		return ferry_err_set(err, FERRY_ERR, "'%s' has %" PRIu64
		    " bytes, not the %" PRIu64 " of its blob", path,
		    (uint64_t)st.st_size, blob_size);
	crypto_sha256_hex(blob_sha, hex);
	name = xasprintf("blobs/%s.%" PRIu32, hex, index);
	if (find_blob(w, name) != NULL) {
		free(name);
		return 0;
	}
	if ((rc = crypto_sha256_file(path, offset, len, d, NULL, err)) < 0) {
		free(name);
		return rc;
	}
	b = new_blob(w);
	b->path = xstrdup(path);
	b->st = st;
	b->offset = offset;
	b->m.name = name;
	b->m.size = len;
	memcpy(b->m.sha256, d, 32);
	b->m.chunk = true;
	memcpy(b->m.blob, blob_sha, 32);
	b->m.blob_size = blob_size;
	b->m.offset = offset;
	b->m.index = index;
	b->m.nchunks = nchunks;
	w->size += len;
	return 0;
}

/*
 * The archive thread: its own error, read by the main thread at join.
 * Everything it allocates hangs off this struct, which lives on the main
 * thread's stack: gpgme forks while the thread runs, and a child that
 * sees memory only another thread points to would call it leaked
 * (valgrind does, and fails the child).
 */
struct producer {
	struct bundle_writer	*w;
	struct archive		*a;
	struct archive_entry	*e;
	char			*block;
	int			 fd;		/* pipe or file to write */
	struct buf		 manifest;
	struct ferry_err	 err;
	int			 rc;
	pthread_t		 tid;
	bool			 started;
	int			 start_errno;
};

static la_ssize_t
produce_write(struct archive *a, void *ctx, const void *data, size_t len)
{
	struct producer *p = ctx;

	if (file_write_all(p->fd, data, len, "bundle pipe", &p->err) < 0) {
		archive_set_error(a, p->err.sys ? p->err.sys : EIO, "%s",
		    p->err.msg);
		return -1;
	}
	return (la_ssize_t)len;
}

static int
add_entry(struct producer *p, struct archive *a, const char *name,
    uint64_t size)
{
	struct archive_entry *e = p->e;
	int r;

	archive_entry_clear(e);
	archive_entry_set_pathname(e, name);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_mtime(e, (time_t)(p->w->m.created_ms / 1000), 0);
	r = archive_write_header(a, e);
	if (r != ARCHIVE_OK && p->err.code == 0)
		return ferry_err_set(&p->err, FERRY_EIO,
		    "cannot write archive header for '%s': %s", name,
		    aerr(a));
	return 0;
}

static int
put_data(struct producer *p, struct archive *a, const void *data, size_t len,
    const char *name)
{
	if (archive_write_data(a, data, len) == (la_ssize_t)len)
		return 0;
	/* Keep the first error: the pipe's own, if it broke. */
	if (p->err.code == 0)
		ferry_err_set(&p->err, FERRY_EIO,
		    "cannot write '%s' into the archive: %s", name,
		    aerr(a));
	return p->err.code;
}

/*
 * Copy len bytes from fd at offset.  With want, hash them to match: the
 * operation spool is checked so; blobs are checked by their stat identity
 * instead (a third pass over 200 MB costs more than the rest of the
 * writer), and a change that slipped past it is still caught by the
 * reader, which checks every member against the manifest.
 */
static int
copy_member(struct producer *p, struct archive *a, int fd, uint64_t offset,
    uint64_t len, const uint8_t *want, const char *name, char *block)
{
	struct crypto_sha256 h = CRYPTO_SHA256_INIT;
	uint8_t got[32];
	uint64_t done = 0;
	ssize_t n;
	size_t chunk;
	int rc;

	if (want != NULL)
		crypto_sha256_init(&h);
	while (done < len) {
		chunk = len - done < IO_BLOCK ? (size_t)(len - done) : IO_BLOCK;
		n = pread(fd, block, chunk, (off_t)(offset + done));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = ferry_err_sys(&p->err, FERRY_EIO,
			    "cannot read '%s' for the bundle%s", name,
			    n == 0 ? " (it got shorter)" : "");
			goto out;
		}
		if (want != NULL)
			crypto_sha256_update(&h, block, (size_t)n);
		if ((rc = put_data(p, a, block, (size_t)n, name)) < 0)
			goto out;
		done += (uint64_t)n;
	}
	rc = 0;
	if (want != NULL) {
		crypto_sha256_final(&h, got);
		if (memcmp(got, want, 32) != 0)
			rc = ferry_err_set(&p->err, FERRY_ERR,
			    "'%s' changed while the bundle was written", name);
	}
out:
	crypto_sha256_release(&h);
	return rc;
}

static void *
produce(void *arg)
{
	struct producer *p = arg;
	struct bundle_writer *w = p->w;
	struct archive *a = p->a;
	char *block = p->block;
	struct stat st;
	size_t i;
	int fd, rc;

	archive_write_add_filter_zstd(a);
	archive_write_set_format_pax_restricted(a);
	/* No padding to 10 KiB after zstd: the stream is the bundle. */
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open(a, p, NULL, produce_write, NULL) !=
	    ARCHIVE_OK) {
		rc = ferry_err_set(&p->err, FERRY_ERR,
		    "cannot start the archive: %s", aerr(a));
		goto out;
	}
	if ((rc = add_entry(p, a, BUNDLE_MANIFEST_NAME,
	    p->manifest.len)) < 0 ||
	    (rc = put_data(p, a, p->manifest.data, p->manifest.len,
	    BUNDLE_MANIFEST_NAME)) < 0)
		goto out;
	if (w->m.kind == BUNDLE_DATA) {
		if ((rc = add_entry(p, a, BUNDLE_OPS_NAME, w->ops_size)) < 0 ||
		    (rc = copy_member(p, a, w->ops_fd, 0, w->ops_size,
		    w->m.members[0].sha256, BUNDLE_OPS_NAME, block)) < 0)
			goto out;
	}
	for (i = 0; i < w->nblobs; i++) {
		struct wblob *b = &w->blobs[i];

		fd = open(b->path, O_RDONLY | O_CLOEXEC);
		if (fd == -1) {
			rc = ferry_err_sys(&p->err, FERRY_EIO,
			    "cannot open '%s'", b->path);
			goto out;
		}
		if (fstat(fd, &st) == -1 || st.st_size != b->st.st_size ||
		    st.st_ino != b->st.st_ino || st.st_dev != b->st.st_dev ||
		    st.st_mtim.tv_sec != b->st.st_mtim.tv_sec ||
		    st.st_mtim.tv_nsec != b->st.st_mtim.tv_nsec ||
		    st.st_ctim.tv_sec != b->st.st_ctim.tv_sec ||
		    st.st_ctim.tv_nsec != b->st.st_ctim.tv_nsec) {
			close(fd);
			rc = ferry_err_set(&p->err, FERRY_ERR,
			    "'%s' changed while the bundle was written",
			    b->path);
			goto out;
		}
		/* Also advise the kernel: each blob is read once, in order. */
		posix_fadvise(fd, (off_t)b->offset, (off_t)b->m.size,
		    POSIX_FADV_SEQUENTIAL);
		if ((rc = add_entry(p, a, b->m.name, b->m.size)) == 0)
			rc = copy_member(p, a, fd, b->offset, b->m.size,
			    NULL, b->path, block);
		close(fd);
		if (rc < 0)
			goto out;
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		rc = p->err.code != 0 ? p->err.code : ferry_err_set(&p->err,
		    FERRY_EIO, "cannot finish the archive: %s",
		    aerr(a));
		goto out;
	}
	rc = 0;
out:
	/* EOF for gpg: the read end sees the end of the plaintext. */
	close(p->fd);
	p->fd = -1;
	p->rc = rc;
	return NULL;
}

/* Called by crypto_seal_ex once gpg runs. */
static void
start_producer(void *arg)
{
	struct producer *p = arg;
	int e;

	if ((e = pthread_create(&p->tid, NULL, produce, p)) != 0) {
		p->start_errno = e;
		/* No plaintext will come: gpg sees an empty input and ends. */
		close(p->fd);
		p->fd = -1;
		return;
	}
	p->started = true;
}

/* Fill the member list: ops first, then blobs in the order added. */
static void
list_members(struct bundle_writer *w)
{
	struct bundle_member *mb;
	size_t i, n = 0;

	w->m.members = xcalloc(w->nblobs + 1, sizeof(*w->m.members));
	if (w->m.kind == BUNDLE_DATA) {
		mb = &w->m.members[n++];
		mb->name = xstrdup(BUNDLE_OPS_NAME);
		mb->size = w->ops_size;
		crypto_sha256_final(&w->ops_hash, mb->sha256);
	}
	for (i = 0; i < w->nblobs; i++) {
		mb = &w->m.members[n++];
		*mb = w->blobs[i].m;
		mb->name = xstrdup(w->blobs[i].m.name);
	}
	w->m.nmembers = n;
}

int
bundle_writer_finish(struct bundle_writer *w, const struct bundle_seal *s,
    const char *outdir, char **name_out, uint8_t hash[32],
    struct ferry_err *err)
{
	struct file_atomic fa = FILE_ATOMIC_INIT;
	struct producer p;
	struct timespec ts;
	char name[BUNDLE_NAME_MAX];
	int pfd[2] = { -1, -1 }, rc;

	assert(!w->spent);
	w->spent = true;
	if (name_out != NULL)
		*name_out = NULL;
	memset(&p, 0, sizeof(p));
	p.w = w;
	p.fd = -1;
	p.a = archive_write_new();
	p.e = archive_entry_new();
	p.block = xmalloc(IO_BLOCK);
	buf_init(&p.manifest, 0);
	if ((rc = flush_ops(w, err)) < 0)
		goto out;
	clock_gettime(CLOCK_REALTIME, &ts);
	w->m.created_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	list_members(w);
	bundle_manifest_encode(&w->m, &p.manifest);
	if ((rc = bundle_name(&w->m, name, sizeof(name), err)) < 0)
		goto out;
	if ((rc = file_atomic_open(&fa, outdir, name, 0600, err)) < 0)
		goto out;
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		rc = ferry_err_sys(err, FERRY_EIO, "cannot make a pipe");
		goto out;
	}
	p.fd = pfd[1];
	pfd[1] = -1;
	rc = crypto_seal_ex(s->crypto, s->signer, s->peer, s->encrypt, pfd[0],
	    fa.fd, start_producer, &p, err);
	/* A failed gpg stops reading: closing makes the producer see EPIPE. */
	close(pfd[0]);
	pfd[0] = -1;
	if (p.started)
		pthread_join(p.tid, NULL);
	else if (p.fd != -1)
		close(p.fd);
	if (p.start_errno != 0) {
		errno = p.start_errno;
		rc = ferry_err_sys(err, FERRY_ERR, "cannot start a thread");
		goto out;
	}
	if (p.rc < 0 && (rc == 0 || p.err.sys != EPIPE)) {
		/* The archive's own failure explains a gpg one. */
		*err = p.err;
		rc = p.rc;
	}
	if (rc < 0)
		goto out;
	CRASHPOINT("bundle.write.before-commit");
	if ((rc = file_atomic_commit(&fa, err)) < 0)
		goto out;
	/* The bundle hash: the manifest, which lists every member's hash. */
	if (hash != NULL)
		crypto_sha256(p.manifest.data, p.manifest.len, hash);
	if (name_out != NULL)
		*name_out = xstrdup(name);
	rc = 0;
out:
	if (fa.fd != -1 || fa.tmp != NULL)
		file_atomic_abort(&fa);
	if (pfd[0] != -1)
		close(pfd[0]);
	archive_write_free(p.a);
	archive_entry_free(p.e);
	free(p.block);
	buf_release(&p.manifest);
	return rc;
}

int
bundle_seal_file(const struct bundle_seal *s, const char *in_path,
    const char *out_path, struct ferry_err *err)
{
	int in, out, rc;

	if ((in = open(in_path, O_RDONLY | O_CLOEXEC)) == -1)
		return ferry_err_sys(err, FERRY_EIO, "cannot open '%s'",
		    in_path);
	out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out == -1) {
		rc = ferry_err_sys(err, FERRY_EIO, "cannot create '%s'",
		    out_path);
		close(in);
		return rc;
	}
	rc = crypto_seal(s->crypto, s->signer, s->peer, s->encrypt, in, out,
	    err);
	close(in);
	if (close(out) == -1 && rc == 0)
		rc = ferry_err_sys(err, FERRY_EIO, "cannot close '%s'",
		    out_path);
	return rc;
}
