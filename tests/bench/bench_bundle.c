/*
 * bench_bundle.c: the bundle writer and reader, timed and measured, for
 * tests/bench/bench_bundle.sh (make bench).
 *
 *	bench_bundle setup DIR            keyrings DIR/alpha, DIR/beta
 *	bench_bundle write DIR OPS OUT [FILE...]
 *	                                  a bundle alpha -> beta of the msgpack
 *	                                  ops in OPS and the files as blobs,
 *	                                  into OUT; prints its path
 *	bench_bundle read DIR BUNDLE      verify and open it as beta, keeping
 *	                                  the blobs (as import does)
 *
 * write and read print "time_s=... maxrss_kib=..." for this process only
 * (gpg runs in a process of its own; the script measures the tree too).
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/bundle.h"
#include "ferry/crypto.h"
#include "ferry/file.h"
#include "ferry/ops.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void
die(const struct ferry_err *err, const char *what)
{
	fprintf(stderr, "bench_bundle: %s: %s\n", what, err->msg);
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
report(double t0)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	fprintf(stderr, "time_s=%.3f maxrss_kib=%ld\n", now() - t0,
	    ru.ru_maxrss);
}

static struct crypto *
open_site(const char *dir, const char *name, char fpr[CRYPTO_FPR_MAX])
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct crypto *c;
	char *home = xasprintf("%s/%s", dir, name);

	if (crypto_open(home, &c, &err) < 0)
		die(&err, home);
	if (fpr != NULL && crypto_site_key(c, fpr, &err) < 0)
		die(&err, home);
	free(home);
	return c;
}

static int
setup(const char *dir)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct crypto *a = open_site(dir, "alpha", NULL);
	struct crypto *b = open_site(dir, "beta", NULL);
	char fa[CRYPTO_FPR_MAX], fb[CRYPTO_FPR_MAX];
	struct buf ka = BUF_INIT(0), kb = BUF_INIT(0);

	if (crypto_keygen(a, "ferry site alpha", CRYPTO_ALGO_ED25519, 730, fa,
	    &err) < 0 || crypto_keygen(b, "ferry site beta",
	    CRYPTO_ALGO_ED25519, 730, fb, &err) < 0 ||
	    crypto_export(a, fa, false, &ka, &err) < 0 ||
	    crypto_export(b, fb, false, &kb, &err) < 0 ||
	    crypto_import(a, kb.data, kb.len, NULL, &err) < 0 ||
	    crypto_import(b, ka.data, ka.len, NULL, &err) < 0)
		die(&err, "setup");
	printf("alpha %s\nbeta %s\n", fa, fb);
	buf_release(&ka);
	buf_release(&kb);
	crypto_free(a);
	crypto_free(b);
	return 0;
}

static int
write_bundle(const char *dir, const char *opsfile, const char *outdir,
    char **files, int nfiles)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct bundle_limits lim;
	struct bundle_manifest hdr;
	struct bundle_writer *w;
	struct bundle_seal s;
	struct buf ops = BUF_INIT(0);
	char fa[CRYPTO_FPR_MAX], fb[CRYPTO_FPR_MAX], *name, *work;
	struct crypto *a, *b;
	enum mp_verdict v;
	size_t off = 0, used, n;
	double t0 = now();
	bool eof = false;
	FILE *fp;
	int i;

	a = open_site(dir, "alpha", fa);
	b = open_site(dir, "beta", fb);
	crypto_free(b);
	bundle_limits_default(&lim);
	memset(&hdr, 0, sizeof(hdr));
	hdr.kind = BUNDLE_DATA;
	snprintf(hdr.conn, sizeof(hdr.conn), "bench");
	snprintf(hdr.from, sizeof(hdr.from), "alpha");
	snprintf(hdr.to, sizeof(hdr.to), "beta");
	hdr.seq = 1;
	work = xasprintf("%s/work", dir);
	mkdir(work, 0700);
	if (bundle_writer_new(&hdr, work, &w, &err) < 0)
		die(&err, "writer");
	/*
	 * The ops file stands in for the exporter: read in 1 MiB pieces,
	 * decode each operation, hand it to the writer.
	 */
	if ((fp = fopen(opsfile, "rb")) == NULL) {
		ferry_err_sys(&err, FERRY_EIO, "cannot open '%s'", opsfile);
		die(&err, opsfile);
	}
	for (;;) {
		struct op op = OP_INIT;

		if (eof && off == ops.len)
			break;
		if (ops_mp_check(ops.data + off, ops.len - off,
		    eof ? ops.len - off : (size_t)lim.max_op_size, &lim.mp,
		    &used, &v, &err) < 0)
			die(&err, "ops");
		if (used == 0) {
			if (eof)
				break;
			memmove(ops.data, ops.data + off, ops.len - off);
			buf_setlen(&ops, ops.len - off);
			off = 0;
			buf_grow(&ops, 1 << 20);
			n = fread(ops.data + ops.len, 1, 1 << 20, fp);
			ops.len += n;
			ops.data[ops.len] = '\0';
			eof = n == 0;
			continue;
		}
		if (ops_decode(ops.data + off, used, &lim.mp, &op, &v,
		    &err) < 0)
			die(&err, "ops");
		if (bundle_writer_add_op(w, &op, &err) < 0)
			die(&err, "add op");
		op_release(&op);
		off += used;
	}
	fclose(fp);
	buf_release(&ops);
	for (i = 0; i < nfiles; i++)
		if (bundle_writer_add_blob(w, files[i], NULL, &err) < 0)
			die(&err, files[i]);
	s.crypto = a;
	s.signer = fa;
	s.peer = fb;
	s.encrypt = true;
	if (bundle_writer_finish(w, &s, outdir, &name, NULL, &err) < 0)
		die(&err, "finish");
	bundle_writer_free(w);
	printf("%s/%s\n", outdir, name);
	free(name);
	free(work);
	crypto_free(a);
	report(t0);
	return 0;
}

static int
read_bundle(const char *dir, const char *path)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct bundle_expect ex;
	struct bundle *bd;
	char fa[CRYPTO_FPR_MAX], *work;
	struct crypto *a, *b;
	struct op op = OP_INIT;
	uint64_t n = 0;
	double t0 = now();
	int rc;

	a = open_site(dir, "alpha", fa);
	crypto_free(a);
	b = open_site(dir, "beta", NULL);
	memset(&ex, 0, sizeof(ex));
	ex.pinned = fa;
	ex.to = "beta";
	ex.keep_blobs = true;
	work = xasprintf("%s/work", dir);
	mkdir(work, 0700);
	if (bundle_open(b, path, &ex, NULL, work, &bd, NULL, &err) < 0)
		die(&err, path);
	while ((rc = bundle_next_op(bd, &op, &err)) == 1) {
		n++;
		op_release(&op);
	}
	if (rc < 0)
		die(&err, "ops");
	printf("ops=%" PRIu64 " members=%zu\n", n, bd->m.nmembers);
	report(t0);
	bundle_free(bd);
	crypto_free(b);
	free(work);
	return 0;
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "setup") == 0)
		return setup(argv[2]);
	if (argc >= 5 && strcmp(argv[1], "write") == 0)
		return write_bundle(argv[2], argv[3], argv[4], argv + 5,
		    argc - 5);
	if (argc == 4 && strcmp(argv[1], "read") == 0)
		return read_bundle(argv[2], argv[3]);
	fprintf(stderr, "usage: bench_bundle setup DIR | write DIR OPS OUT "
	    "[FILE...] | read DIR BUNDLE\n");
	return 64;
}
