/*
 * test_crypto.c: SHA-256 (FIPS 180-4 vectors), the site key, sealing
 * and unsealing with real gpg keyrings in temporary directories (agents
 * killed at the end).
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/crypto.h"
#include "ferry/file.h"
#include "testutil.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

struct site {
	char		*home;
	struct crypto	*c;
	char		 fpr[CRYPTO_FPR_MAX];
};

static char *tmp;
static struct site alpha, beta, gamma_;

static void
site_make(struct site *s, const char *name, bool key)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char *uid = xasprintf("ferry site %s", name);

	s->home = xasprintf("%s/%s", tmp, name);
	if (crypto_open(s->home, &s->c, &err) != 0)
		fail_msg("crypto_open: %s", err.msg);
	if (key && crypto_keygen(s->c, uid, CRYPTO_ALGO_ED25519, 30, s->fpr,
	    &err) != 0)
		fail_msg("keygen: %s", err.msg);
	free(uid);
}

/* Pin b's public key in a's keyring. */
static void
pin(struct site *a, struct site *b)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct buf key = BUF_INIT(0);
	char fpr[CRYPTO_FPR_MAX];

	assert_int_equal(crypto_export(b->c, b->fpr, false, &key, &err), 0);
	assert_int_equal(crypto_import(a->c, key.data, key.len, fpr, &err), 0);
	assert_string_equal(fpr, b->fpr);
	buf_release(&key);
}

static void
site_free(struct site *s)
{
	crypto_free(s->c);
	if (s->home != NULL)
		crypto_kill_agent(s->home);
	free(s->home);
}

static int
group_setup(void **state)
{
	(void)state;
	tmp = tu_mkdtemp();
	site_make(&alpha, "alpha", true);
	site_make(&beta, "beta", true);
	site_make(&gamma_, "gamma", true);
	pin(&alpha, &beta);
	pin(&beta, &alpha);
	pin(&beta, &gamma_);
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	site_free(&alpha);
	site_free(&beta);
	site_free(&gamma_);
	tu_rmtree(tmp);
	free(tmp);
	return 0;
}

static char *
tmpfile_with(const char *name, const void *data, size_t len)
{
	char *p = xasprintf("%s/%s", tmp, name);

	tu_write_file(p, data, len);
	return p;
}

/* Seal the file at in with s's key for peer; returns the output path. */
static char *
seal(struct site *s, const char *peer, bool encrypt, const char *in,
    const char *outname)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char *out = xasprintf("%s/%s", tmp, outname);
	int ifd, ofd;

	ifd = open(in, O_RDONLY);
	ofd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(ifd >= 0 && ofd >= 0);
	if (crypto_seal(s->c, s->fpr, peer, encrypt, ifd, ofd, &err) != 0)
		fail_msg("seal: %s", err.msg);
	close(ifd);
	close(ofd);
	return out;
}

static int
unseal(struct site *s, const char *pinned, time_t received_at,
    const char *in, struct buf *plain, struct crypto_sig *sig,
    enum crypto_verdict *v, struct ferry_err *err)
{
	char *out = xasprintf("%s/plain.out", tmp);
	int ifd, ofd, rc;

	ifd = open(in, O_RDONLY);
	ofd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(ifd >= 0 && ofd >= 0);
	rc = crypto_unseal(s->c, pinned, received_at, ifd, ofd, sig, v, err);
	close(ifd);
	close(ofd);
	if (rc == 0 && plain != NULL)
		assert_int_equal(file_read(out, plain, err), 0);
	unlink(out);
	free(out);
	return rc;
}

/* FIPS 180-4 examples (NIST's SHA256.pdf and SHA2_Additional.pdf). */
static void
test_sha256_known_vectors(void **state)
{
	static const struct { const char *in, *hex; } v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b"
		    "7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9c"
		    "b410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd4"
		    "19db06c1" },
		{ "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
		    "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
		    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac4503"
		    "7afee9d1" },
	};
	struct crypto_sha256 s = CRYPTO_SHA256_INIT;
	uint8_t d[32];
	char hex[CRYPTO_SHA256_HEX];
	size_t i, j;

	(void)state;
	for (i = 0; i < FERRY_ARRAY_SIZE(v); i++) {
		crypto_sha256(v[i].in, strlen(v[i].in), d);
		crypto_sha256_hex(d, hex);
		assert_string_equal(hex, v[i].hex);
		/* The same through the streaming calls, a byte at a time. */
		crypto_sha256_init(&s);
		for (j = 0; v[i].in[j] != '\0'; j++)
			crypto_sha256_update(&s, v[i].in + j, 1);
		crypto_sha256_final(&s, d);
		assert_null(s.h);
		crypto_sha256_hex(d, hex);
		assert_string_equal(hex, v[i].hex);
	}
	assert_true(crypto_sha256_unhex(v[1].hex, d));
	assert_false(crypto_sha256_unhex("abc", d));
}

/* FIPS 180-4: one million 'a', fed in pieces that straddle blocks. */
static void
test_sha256_million_a_in_uneven_pieces(void **state)
{
	static const char want[] = "cdc76e5c9914fb9281a1c7e284d73e67f1809a4"
	    "8a497200e046d39ccc7112cd0";
	struct crypto_sha256 s = CRYPTO_SHA256_INIT;
	char *a = xmalloc(1000000), hex[CRYPTO_SHA256_HEX];
	size_t done = 0, n, step = 1;
	uint8_t d[32];

	(void)state;
	memset(a, 'a', 1000000);
	crypto_sha256(a, 1000000, d);
	crypto_sha256_hex(d, hex);
	assert_string_equal(hex, want);
	crypto_sha256_init(&s);
	while (done < 1000000) {
		n = 1000000 - done < step ? 1000000 - done : step;
		crypto_sha256_update(&s, a + done, n);
		done += n;
		step = step * 3 + 1;	/* 1, 4, 13, 40, ... 88573, ... */
	}
	crypto_sha256_final(&s, d);
	crypto_sha256_hex(d, hex);
	assert_string_equal(hex, want);
	free(a);
}

/* A hash dropped before final frees its handle (valgrind checks). */
static void
test_sha256_release_drops_abandoned_hash(void **state)
{
	struct crypto_sha256 s = CRYPTO_SHA256_INIT;

	(void)state;
	crypto_sha256_release(&s);
	crypto_sha256_init(&s);
	crypto_sha256_update(&s, "abc", 3);
	crypto_sha256_release(&s);
	assert_null(s.h);
	crypto_sha256_release(&s);
}

static void
test_sha256_file_range(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char *p = tmpfile_with("range", "0123456789", 10);
	uint8_t a[32], b[32];
	uint64_t n;

	(void)state;
	assert_int_equal(crypto_sha256_file(p, 3, 4, a, &n, &err), 0);
	assert_int_equal(n, 4);
	crypto_sha256("3456", 4, b);
	assert_memory_equal(a, b, 32);
	assert_int_equal(crypto_sha256_file(p, 8, 4, a, &n, &err), FERRY_ERR);
	free(p);
}

static void
test_keygen_refuses_second_key(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char fpr[CRYPTO_FPR_MAX];

	(void)state;
	assert_int_equal(crypto_keygen(alpha.c, "again", CRYPTO_ALGO_ED25519,
	    30, fpr, &err), FERRY_ERR);
	assert_non_null(strstr(err.msg, "never replaces"));
	assert_int_equal(crypto_site_key(alpha.c, fpr, &err), 0);
	assert_string_equal(fpr, alpha.fpr);
}

static void
test_keygen_makes_ed25519_with_expiry_and_private_dir(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct crypto_keyinfo ki;
	struct stat st;

	(void)state;
	assert_int_equal(crypto_key_info(alpha.c, alpha.fpr, &ki, &err), 0);
	assert_string_equal(ki.algo, "ed25519");
	assert_true(ki.secret);
	assert_true(ki.expires > ki.created + 29 * 86400);
	assert_true(ki.expires <= ki.created + 31 * 86400);
	assert_int_equal(stat(alpha.home, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
}

static void
test_open_refuses_keyring_open_to_others(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char *d = xasprintf("%s/loose", tmp);
	struct crypto *c = NULL;

	(void)state;
	assert_int_equal(mkdir(d, 0755), 0);
	assert_int_equal(crypto_open(d, &c, &err), FERRY_ECONFIG);
	assert_non_null(strstr(err.msg, "chmod 700"));
	assert_null(c);
	free(d);
}

static void
test_import_refuses_secret_key(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	static const char armored[] =
	    "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxx\n";

	(void)state;
	assert_int_equal(crypto_import(alpha.c, armored, sizeof(armored) - 1,
	    NULL, &err), FERRY_ERR);
	assert_non_null(strstr(err.msg, "secret"));
}

static void
test_seal_unseal_round_trip_encrypted_and_plain(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct buf plain = BUF_INIT(0);
	struct crypto_sig sig;
	enum crypto_verdict v;
	char *in = tmpfile_with("msg", "hello bundle", 12), *out;

	(void)state;
	out = seal(&alpha, beta.fpr, true, in, "msg.enc");
	assert_int_equal(unseal(&beta, alpha.fpr, 0, out, &plain, &sig, &v,
	    &err), 0);
	assert_string_equal(plain.data, "hello bundle");
	assert_true(sig.encrypted);
	assert_string_equal(sig.fpr, alpha.fpr);
	/* Encrypted to the sender too: a site can inspect what it sent. */
	buf_reset(&plain);
	assert_int_equal(unseal(&alpha, alpha.fpr, 0, out, &plain, &sig, &v,
	    &err), 0);
	assert_string_equal(plain.data, "hello bundle");
	free(out);

	out = seal(&alpha, beta.fpr, false, in, "msg.sig");
	buf_reset(&plain);
	assert_int_equal(unseal(&beta, alpha.fpr, 0, out, &plain, &sig, &v,
	    &err), 0);
	assert_false(sig.encrypted);
	assert_string_equal(plain.data, "hello bundle");
	buf_release(&plain);
	free(out);
	free(in);
}

/* gpg --list-packets shows no compressed packet in either form. */
static void
test_seal_does_not_compress_inside_openpgp(void **state)
{
	char *in, *out, *cmd, *listing;
	char big[8192];
	int enc;

	(void)state;
	memset(big, 'a', sizeof(big));
	in = tmpfile_with("compressible", big, sizeof(big));
	for (enc = 0; enc <= 1; enc++) {
		out = seal(&alpha, beta.fpr, enc, in, "packets");
		cmd = xasprintf("gpg --homedir '%s' --batch --list-packets "
		    "'%s' > '%s/packets.txt' 2>&1", beta.home, out, tmp);
		assert_int_equal(system(cmd), 0);
		free(cmd);
		cmd = xasprintf("%s/packets.txt", tmp);
		listing = tu_read_file(cmd, NULL);
		assert_non_null(strstr(listing, ":literal data packet:"));
		assert_null(strstr(listing, "compressed packet"));
		free(listing);
		free(cmd);
		free(out);
	}
	free(in);
}

static void
expect_verdict(struct site *s, const char *pinned, const char *path,
    enum crypto_verdict want)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct crypto_sig sig;
	enum crypto_verdict v;

	assert_int_equal(unseal(s, pinned, 0, path, NULL, &sig, &v, &err),
	    FERRY_EREJECT);
	if (v != want)
		fail_msg("verdict %d, want %d: %s", v, want, err.msg);
}

static void
test_unseal_rejects_wrong_and_unknown_signer(void **state)
{
	char *in = tmpfile_with("msg2", "x", 1), *out;

	(void)state;
	/* gamma is known to beta (pinned for another connection). */
	out = seal(&gamma_, beta.fpr, false, in, "from-gamma");
	expect_verdict(&beta, alpha.fpr, out, CRYPTO_WRONG_SIGNER);
	/* beta is unknown to gamma. */
	free(out);
	out = seal(&beta, NULL, false, in, "from-beta");
	expect_verdict(&gamma_, beta.fpr, out, CRYPTO_UNKNOWN_SIGNER);
	free(out);
	free(in);
}

static void
test_unseal_rejects_not_openpgp_and_unsigned(void **state)
{
	char *jpeg = tmpfile_with("x.jpg", "\xff\xd8\xff\xe0\0\x10JFIF\0", 11);
	char *text = tmpfile_with("x.txt", "hello, world\n", 13);
	char *in = tmpfile_with("unsigned.in", "secret", 6), *cmd, *out;

	(void)state;
	expect_verdict(&beta, alpha.fpr, jpeg, CRYPTO_NOT_OPENPGP);
	expect_verdict(&beta, alpha.fpr, text, CRYPTO_NOT_OPENPGP);
	out = xasprintf("%s/unsigned.gpg", tmp);
	cmd = xasprintf("gpg --homedir '%s' --batch --yes --trust-model always "
	    "-r %s -o '%s' --encrypt '%s' 2>/dev/null", alpha.home, beta.fpr,
	    out, in);
	assert_int_equal(system(cmd), 0);
	expect_verdict(&beta, alpha.fpr, out, CRYPTO_UNSIGNED);
	free(cmd);
	free(out);
	free(in);
	free(jpeg);
	free(text);
}

static void
test_unseal_rejects_message_for_another_site(void **state)
{
	char *in = tmpfile_with("msg3", "x", 1), *out;

	(void)state;
	out = seal(&beta, gamma_.fpr, true, in, "to-gamma");
	/* alpha knows beta's key but holds neither beta's nor gamma's. */
	expect_verdict(&alpha, beta.fpr, out, CRYPTO_NOT_FOR_US);
	free(out);
	free(in);
}

/* The revocation certificate gpg wrote at keygen, made importable. */
static void
site_revoke(struct site *owner, struct site *in)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char *path, *rev, *p;
	size_t len;

	path = xasprintf("%s/openpgp-revocs.d/%s.rev", owner->home,
	    owner->fpr);
	rev = tu_read_file(path, &len);
	assert_non_null(rev);
	/* gpg guards the certificate with a ':' before the armor line. */
	p = strstr(rev, ":-----BEGIN");
	assert_non_null(p);
	*p = ' ';
	if (crypto_import(in->c, p + 1, strlen(p + 1), NULL, &err) != 0)
		fail_msg("import revocation: %s", err.msg);
	free(rev);
	free(path);
}

static void
test_unseal_rejects_revoked_key(void **state)
{
	struct site delta = { 0 }, eps = { 0 };
	char *in = tmpfile_with("msg4", "x", 1), *out;

	(void)state;
	site_make(&delta, "delta", true);
	site_make(&eps, "eps", true);
	pin(&eps, &delta);
	out = seal(&delta, NULL, false, in, "from-delta");
	site_revoke(&delta, &eps);
	expect_verdict(&eps, delta.fpr, out, CRYPTO_KEY_REVOKED);
	site_free(&delta);
	site_free(&eps);
	free(out);
	free(in);
}

/*
 * A key that expires two seconds after it is made: a message signed at
 * once is rejected when read after the expiry, and accepted when the
 * inbox record says it was received before.
 */
static void
test_unseal_expired_key_unless_received_in_time(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct site zeta = { 0 }, eta = { 0 };
	struct crypto_sig sig;
	enum crypto_verdict v;
	char *in = tmpfile_with("msg5", "x", 1), *out, *cmd;
	struct crypto_keyinfo ki;
	time_t signed_at;

	(void)state;
	site_make(&zeta, "zeta", false);
	site_make(&eta, "eta", true);
	cmd = xasprintf("gpg --homedir '%s' --batch --passphrase '' "
	    "--quick-gen-key 'ferry site zeta' ed25519 sign seconds=3 "
	    ">/dev/null 2>&1", zeta.home);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(crypto_site_key(zeta.c, zeta.fpr, &err), 0);
	pin(&eta, &zeta);
	signed_at = time(NULL);
	out = seal(&zeta, NULL, false, in, "from-zeta");
	assert_int_equal(unseal(&eta, zeta.fpr, 0, out, NULL, &sig, &v, &err),
	    0);
	assert_int_equal(crypto_key_info(eta.c, zeta.fpr, &ki, &err), 0);
	while (time(NULL) <= ki.expires + 1)
		sleep(1);
	expect_verdict(&eta, zeta.fpr, out, CRYPTO_KEY_EXPIRED);
	assert_int_equal(unseal(&eta, zeta.fpr, signed_at, out, NULL, &sig,
	    &v, &err), 0);
	site_free(&zeta);
	site_free(&eta);
	free(out);
	free(in);
}

/*
 * Every flipped bit is either rejected or harmless: OpenPGP leaves the
 * session key packet of the *other* recipient unauthenticated, and this
 * site cannot check a packet encrypted to another key.  A flip there
 * still gives the identical signed plaintext (which is why the bundle
 * hash is taken over the plaintext, not the file).  Flips in the
 * encrypted data, the signature, and truncation anywhere are rejected.
 */
static void
test_unseal_rejects_flipped_and_truncated(void **state)
{
	static const char content[] = "some bundle content to damage";
	char *in, *out, *bad, *data;
	size_t len, off, harmless = 0;

	(void)state;
	in = tmpfile_with("msg6", content, sizeof(content) - 1);
	out = seal(&alpha, beta.fpr, true, in, "tamper");
	data = tu_read_file(out, &len);
	for (off = 0; off < len; off += off < len - 40 ? 5 : 1) {
		struct ferry_err err = FERRY_ERR_INIT;
		struct buf plain = BUF_INIT(0);
		struct crypto_sig sig;
		enum crypto_verdict v;

		data[off] ^= 0x10;
		bad = tmpfile_with("flipped", data, len);
		if (unseal(&beta, alpha.fpr, 0, bad, &plain, &sig, &v,
		    &err) == 0) {
			assert_string_equal(plain.data, content);
			assert_true(off < len / 2);
			harmless++;
		}
		data[off] ^= 0x10;
		buf_release(&plain);
		free(bad);
		bad = tmpfile_with("truncated", data, off);
		assert_int_equal(unseal(&beta, alpha.fpr, 0, bad, NULL, &sig,
		    &v, &err), FERRY_EREJECT);
		free(bad);
	}
	/* At most the other recipient's key packet (~ 100 bytes). */
	assert_true(harmless < 30);
	free(data);
	free(out);
	free(in);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_known_vectors),
		cmocka_unit_test(test_sha256_million_a_in_uneven_pieces),
		cmocka_unit_test(test_sha256_release_drops_abandoned_hash),
		cmocka_unit_test(test_sha256_file_range),
		cmocka_unit_test(test_keygen_refuses_second_key),
		cmocka_unit_test(
		    test_keygen_makes_ed25519_with_expiry_and_private_dir),
		cmocka_unit_test(test_open_refuses_keyring_open_to_others),
		cmocka_unit_test(test_import_refuses_secret_key),
		cmocka_unit_test(
		    test_seal_unseal_round_trip_encrypted_and_plain),
		cmocka_unit_test(test_seal_does_not_compress_inside_openpgp),
		cmocka_unit_test(test_unseal_rejects_wrong_and_unknown_signer),
		cmocka_unit_test(test_unseal_rejects_not_openpgp_and_unsigned),
		cmocka_unit_test(test_unseal_rejects_message_for_another_site),
		cmocka_unit_test(test_unseal_rejects_revoked_key),
		cmocka_unit_test(
		    test_unseal_expired_key_unless_received_in_time),
		cmocka_unit_test(test_unseal_rejects_flipped_and_truncated),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
