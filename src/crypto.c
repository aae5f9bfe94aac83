/*
 * crypto.c: the site keyring through gpgme (see crypto.h).
 *
 * Every operation runs in one gpgme context bound to the keyring
 * directory with gpgme_ctx_set_engine_info(), so ferry never depends on
 * GNUPGHOME or the operator's own ~/.gnupg.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/crypto.h"
#include "ferry/file.h"

#include <fcntl.h>
#include <gpgme.h>
#include <signal.h>
#include <spawn.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct crypto {
	gpgme_ctx_t	 ctx;
	char		*home;
};

/*
 * Compression off for every message made in this keyring: the bundle
 * inside is zstd already, and a second pass only costs time.
 */
static const char gpg_conf[] =
    "# written by ferry: bundles are zstd inside; no second compression\n"
    "compress-algo none\n"
    "personal-compress-preferences Uncompressed\n"
    "no-auto-key-retrieve\n";

/*
 * gpgme 1.18 pumps every byte between us and gpg itself (its gpg engine
 * never hands gpg our descriptors), through a buffer of 4 KiB by default
 * and pipes of 64 KiB.  A buffer the size of the pipe moves a pipeful a
 * round instead of 4 KiB; a larger one does harm: gpgme's outbound
 * handler writes what the pipe takes and memmove()s the rest to the front
 * of its buffer after every partial write, so 256 KiB made reading a
 * 130 MB bundle 15-20 % slower (docs/benchmarks.md).  An older gpgme
 * refuses the flag and keeps 4 KiB.
 */
#define CRYPTO_IO_BUFFER	"65536"

static void
big_buffer(gpgme_data_t d)
{
	(void)gpgme_data_set_flag(d, "io-buffer-size", CRYPTO_IO_BUFFER);
}

static int
gpg_fail(struct ferry_err *err, int code, gpgme_error_t e, const char *what)
{
	return ferry_err_set(err, code, "%s: %s", what, gpgme_strerror(e));
}

static int
lib_init(struct ferry_err *err)
{
	static bool done;
	gpgme_error_t e;

	if (done)
		return 0;
	/*
	 * A gpg that dies mid-stream must give EPIPE, not kill ferry;
	 * gpgme ignores SIGPIPE itself, this makes sure of it.
	 */
	signal(SIGPIPE, SIG_IGN);
	if (gpgme_check_version("1.13.0") == NULL)
		return ferry_err_set(err, FERRY_ERR,
		    "gpgme %s is too old; ferry needs 1.13 or newer",
		    gpgme_check_version(NULL));
	if ((e = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP)) != 0)
		return gpg_fail(err, FERRY_ERR, e, "no usable gpg for gpgme");
	done = true;
	return 0;
}

int
crypto_open(const char *dir, struct crypto **out, struct ferry_err *err)
{
	struct crypto *c = NULL;
	char *conf = NULL;
	struct stat st;
	gpgme_error_t e;
	int rc;

	*out = NULL;
	if ((rc = lib_init(err)) < 0)
		return rc;
	if (stat(dir, &st) == -1) {
		if (errno != ENOENT)
			return ferry_err_sys(err, FERRY_EIO, "cannot stat '%s'",
			    dir);
		if ((rc = file_mkdirs(dir, 0700, err)) < 0)
			return rc;
	} else if (!S_ISDIR(st.st_mode)) {
		return ferry_err_set(err, FERRY_ECONFIG,
		    "keyring '%s' is not a directory", dir);
	} else if ((st.st_mode & 077) != 0) {
		return ferry_err_set(err, FERRY_ECONFIG,
		    "keyring '%s' is open to other users (mode %03o); "
		    "run 'chmod 700 %s'", dir, (unsigned)(st.st_mode & 0777),
		    dir);
	}
	conf = file_join(dir, "gpg.conf");
	if (!file_exists(conf) && (rc = file_write_atomic(dir, "gpg.conf",
	    gpg_conf, sizeof(gpg_conf) - 1, 0600, err)) < 0)
		goto out;

	c = xcalloc(1, sizeof(*c));
	c->home = xstrdup(dir);
	if ((e = gpgme_new(&c->ctx)) != 0 ||
	    (e = gpgme_set_protocol(c->ctx, GPGME_PROTOCOL_OpenPGP)) != 0 ||
	    (e = gpgme_ctx_set_engine_info(c->ctx, GPGME_PROTOCOL_OpenPGP,
	    NULL, dir)) != 0) {
		rc = gpg_fail(err, FERRY_ERR, e, "cannot set up gpgme");
		goto out;
	}
	gpgme_set_armor(c->ctx, 0);
	gpgme_set_textmode(c->ctx, 0);
	gpgme_set_offline(c->ctx, 1);
	/* No key has a passphrase; never let an agent pop up a pinentry. */
	gpgme_set_pinentry_mode(c->ctx, GPGME_PINENTRY_MODE_LOOPBACK);
	*out = c;
	c = NULL;
	rc = 0;
out:
	crypto_free(c);
	free(conf);
	return rc;
}

void
crypto_free(struct crypto *c)
{
	if (c == NULL)
		return;
	if (c->ctx != NULL)
		gpgme_release(c->ctx);
	free(c->home);
	free(c);
}

const char *
crypto_home(const struct crypto *c)
{
	return c->home;
}

void
crypto_kill_agent(const char *dir)
{
	char a0[] = "gpgconf", a1[] = "--homedir", a3[] = "--kill",
	    a4[] = "all", *a2 = xstrdup(dir);
	char *argv[] = { a0, a1, a2, a3, a4, NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, "gpgconf", &fa, NULL, argv, environ) == 0)
		while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
			;
	posix_spawn_file_actions_destroy(&fa);
	free(a2);
}

/* Count the secret keys; fpr gets the first. */
static int
secret_keys(struct crypto *c, char fpr[CRYPTO_FPR_MAX], int *count,
    struct ferry_err *err)
{
	gpgme_key_t key;
	gpgme_error_t e;

	*count = 0;
	if ((e = gpgme_op_keylist_start(c->ctx, NULL, 1)) != 0)
		return gpg_fail(err, FERRY_ERR, e, "cannot list keys");
	while ((e = gpgme_op_keylist_next(c->ctx, &key)) == 0) {
		if (*count == 0 && fpr != NULL && key->fpr != NULL)
			snprintf(fpr, CRYPTO_FPR_MAX, "%s", key->fpr);
		(*count)++;
		gpgme_key_unref(key);
	}
	gpgme_op_keylist_end(c->ctx);
	if (gpg_err_code(e) != GPG_ERR_EOF)
		return gpg_fail(err, FERRY_ERR, e, "cannot list keys");
	return 0;
}

int
crypto_site_key(struct crypto *c, char fpr[CRYPTO_FPR_MAX],
    struct ferry_err *err)
{
	int n, rc;

	if ((rc = secret_keys(c, fpr, &n, err)) < 0)
		return rc;
	if (n == 0)
		return ferry_err_set(err, FERRY_ENOTFOUND,
		    "keyring '%s' holds no site key; run 'ferry init'",
		    c->home);
	if (n > 1)
		return ferry_err_set(err, FERRY_ERR,
		    "keyring '%s' holds %d secret keys, ferry expects one",
		    c->home, n);
	return 0;
}

int
crypto_only_peer(struct crypto *c, char fpr[CRYPTO_FPR_MAX],
    struct ferry_err *err)
{
	char site[CRYPTO_FPR_MAX] = "";
	gpgme_key_t key;
	gpgme_error_t e;
	int n = 0, nsec, rc;

	if ((rc = secret_keys(c, site, &nsec, err)) < 0)
		return rc;
	if ((e = gpgme_op_keylist_start(c->ctx, NULL, 0)) != 0)
		return gpg_fail(err, FERRY_ERR, e, "cannot list keys");
	while (gpgme_op_keylist_next(c->ctx, &key) == 0) {
		if (key->fpr != NULL && strcasecmp(key->fpr, site) != 0 &&
		    n++ == 0)
			snprintf(fpr, CRYPTO_FPR_MAX, "%s", key->fpr);
		gpgme_key_unref(key);
	}
	gpgme_op_keylist_end(c->ctx);
	if (n != 1)
		return ferry_err_set(err, n == 0 ? FERRY_ENOTFOUND : FERRY_ERR,
		    "the keyring '%s' holds %d peer keys, not one; name the "
		    "peer with --peer FPR or --peer-key FILE", c->home, n);
	return 0;
}

int
crypto_keygen(struct crypto *c, const char *uid, enum crypto_algo algo,
    uint32_t expiry_days, char fpr[CRYPTO_FPR_MAX], struct ferry_err *err)
{
	const char *primary = algo == CRYPTO_ALGO_RSA3072 ? "rsa3072" :
	    "ed25519";
	const char *sub = algo == CRYPTO_ALGO_RSA3072 ? "rsa3072" : "cv25519";
	unsigned long expires = (unsigned long)expiry_days * 86400UL;
	unsigned int flags, noexp = expiry_days == 0 ?
	    GPGME_CREATE_NOEXPIRE : 0;
	gpgme_genkey_result_t res;
	gpgme_key_t key = NULL;
	gpgme_error_t e;
	char have[CRYPTO_FPR_MAX];
	int n, rc;

	if ((rc = secret_keys(c, have, &n, err)) < 0)
		return rc;
	if (n > 0)
		return ferry_err_set(err, FERRY_ERR,
		    "keyring '%s' already holds the site key %s; "
		    "ferry never replaces it", c->home, have);
	/* FORCE: the uid may repeat a public key's; ours is the only secret. */
	flags = GPGME_CREATE_SIGN | GPGME_CREATE_CERT | GPGME_CREATE_NOPASSWD |
	    GPGME_CREATE_FORCE | noexp;
	if ((e = gpgme_op_createkey(c->ctx, uid, primary, 0, expires, NULL,
	    flags)) != 0)
		return gpg_fail(err, FERRY_ERR, e,
		    "cannot create the site key");
	res = gpgme_op_genkey_result(c->ctx);
	if (res == NULL || res->fpr == NULL)
		return ferry_err_set(err, FERRY_ERR,
		    "gpg made a key but did not say which");
	snprintf(fpr, CRYPTO_FPR_MAX, "%s", res->fpr);
	if ((e = gpgme_get_key(c->ctx, fpr, &key, 1)) != 0)
		return gpg_fail(err, FERRY_ERR, e, "cannot find the new key");
	e = gpgme_op_createsubkey(c->ctx, key, sub, 0, expires,
	    GPGME_CREATE_ENCR | GPGME_CREATE_NOPASSWD | noexp);
	gpgme_key_unref(key);
	if (e != 0)
		return gpg_fail(err, FERRY_ERR, e,
		    "cannot create the encryption subkey");
	return 0;
}

int
crypto_key_info(struct crypto *c, const char *fpr,
    struct crypto_keyinfo *info, struct ferry_err *err)
{
	gpgme_key_t key = NULL, sec = NULL;
	gpgme_error_t e;
	char *algo;

	memset(info, 0, sizeof(*info));
	if ((e = gpgme_get_key(c->ctx, fpr, &key, 0)) != 0)
		return ferry_err_set(err, gpg_err_code(e) == GPG_ERR_EOF ?
		    FERRY_ENOTFOUND : FERRY_ERR, "no key '%s' in '%s': %s",
		    fpr, c->home, gpgme_strerror(e));
	snprintf(info->fpr, sizeof(info->fpr), "%s", key->fpr);
	if ((algo = gpgme_pubkey_algo_string(key->subkeys)) != NULL) {
		snprintf(info->algo, sizeof(info->algo), "%s", algo);
		gpgme_free(algo);
	}
	if (key->uids != NULL && key->uids->uid != NULL)
		snprintf(info->uid, sizeof(info->uid), "%s", key->uids->uid);
	info->created = key->subkeys->timestamp;
	info->expires = key->subkeys->expires;
	info->expired = key->expired != 0;
	info->revoked = key->revoked != 0;
	if (gpgme_get_key(c->ctx, fpr, &sec, 1) == 0) {
		info->secret = true;
		gpgme_key_unref(sec);
	}
	gpgme_key_unref(key);
	return 0;
}

/* True if data starts with a secret key packet, binary or armored. */
static bool
looks_secret(const unsigned char *p, size_t len)
{
	static const char armor[] = "PRIVATE KEY BLOCK";
	size_t i;
	int tag;

	for (i = 0; i + sizeof(armor) - 1 <= len && i < 4096; i++)
		if (memcmp(p + i, armor, sizeof(armor) - 1) == 0)
			return true;
	if (len == 0 || (p[0] & 0x80) == 0)
		return false;
	tag = (p[0] & 0x40) ? (p[0] & 0x3f) : ((p[0] >> 2) & 0x0f);
	return tag == 5 || tag == 7;
}

int
crypto_import(struct crypto *c, const void *data, size_t len,
    char fpr[CRYPTO_FPR_MAX], struct ferry_err *err)
{
	gpgme_import_result_t res;
	gpgme_data_t d = NULL;
	gpgme_error_t e;
	int rc = FERRY_ERR;

	if (looks_secret(data, len))
		return ferry_err_set(err, FERRY_ERR,
		    "refusing to import a secret key: a peer sends its "
		    "public key only");
	if ((e = gpgme_data_new_from_mem(&d, data, len, 0)) != 0) {
		rc = gpg_fail(err, FERRY_ERR, e, "cannot read key data");
		goto out;
	}
	if ((e = gpgme_op_import(c->ctx, d)) != 0) {
		rc = gpg_fail(err, FERRY_ERR, e, "cannot import key");
		goto out;
	}
	res = gpgme_op_import_result(c->ctx);
	/* A revocation certificate imports no key, only a revocation. */
	if (res == NULL || (res->imports == NULL &&
	    res->new_revocations == 0)) {
		rc = ferry_err_set(err, FERRY_ERR,
		    "no OpenPGP key in the data");
		goto out;
	}
	if (res->imports != NULL && res->imports->result != 0) {
		rc = gpg_fail(err, FERRY_ERR, res->imports->result,
		    "gpg refused the key");
		goto out;
	}
	if (fpr != NULL)
		snprintf(fpr, CRYPTO_FPR_MAX, "%s", res->imports != NULL &&
		    res->imports->fpr != NULL ? res->imports->fpr : "");
	rc = 0;
out:
	gpgme_data_release(d);
	return rc;
}

int
crypto_export(struct crypto *c, const char *fpr, bool armor, struct buf *out,
    struct ferry_err *err)
{
	gpgme_data_t d = NULL;
	gpgme_error_t e;
	size_t len = 0;
	char *mem;
	int rc = FERRY_ERR;

	if ((e = gpgme_data_new(&d)) != 0)
		return gpg_fail(err, FERRY_ERR, e, "cannot export key");
	gpgme_set_armor(c->ctx, armor);
	e = gpgme_op_export(c->ctx, fpr, GPGME_EXPORT_MODE_MINIMAL, d);
	gpgme_set_armor(c->ctx, 0);
	if (e != 0) {
		gpgme_data_release(d);
		return gpg_fail(err, FERRY_ERR, e, "cannot export key");
	}
	mem = gpgme_data_release_and_get_mem(d, &len);
	if (len == 0)
		rc = ferry_err_set(err, FERRY_ENOTFOUND,
		    "no key '%s' in '%s'", fpr, c->home);
	else if (!buf_add(out, mem, len))
		rc = ferry_err_set(err, FERRY_ELIMIT, "exported key too large");
	else
		rc = 0;
	gpgme_free(mem);
	return rc;
}

int
crypto_seal(struct crypto *c, const char *signer, const char *peer,
    bool encrypt, int in_fd, int out_fd, struct ferry_err *err)
{
	return crypto_seal_ex(c, signer, peer, encrypt, in_fd, out_fd, NULL,
	    NULL, err);
}

int
crypto_seal_ex(struct crypto *c, const char *signer, const char *peer,
    bool encrypt, int in_fd, int out_fd, void (*started)(void *),
    void *arg, struct ferry_err *err)
{
	gpgme_error_t status = 0;
	gpgme_key_t skey = NULL, self = NULL, pkey = NULL, rcpt[3];
	gpgme_data_t plain = NULL, cipher = NULL;
	gpgme_sign_result_t sres;
	gpgme_encrypt_result_t eres;
	gpgme_error_t e;
	int rc = FERRY_ERR;

	gpgme_signers_clear(c->ctx);
	if ((e = gpgme_get_key(c->ctx, signer, &skey, 1)) != 0) {
		rc = ferry_err_set(err, FERRY_ERR,
		    "no secret key '%s' to sign with in '%s': %s", signer,
		    c->home, gpgme_strerror(e));
		goto out;
	}
	if ((e = gpgme_signers_add(c->ctx, skey)) != 0) {
		rc = gpg_fail(err, FERRY_ERR, e, "cannot sign");
		goto out;
	}
	if ((e = gpgme_data_new_from_fd(&plain, in_fd)) != 0 ||
	    (e = gpgme_data_new_from_fd(&cipher, out_fd)) != 0) {
		rc = gpg_fail(err, FERRY_ERR, e, "cannot set up gpgme data");
		goto out;
	}
	big_buffer(plain);
	big_buffer(cipher);
	if (encrypt) {
		if ((e = gpgme_get_key(c->ctx, signer, &self, 0)) != 0 ||
		    (peer != NULL && (e = gpgme_get_key(c->ctx, peer, &pkey,
		    0)) != 0)) {
			rc = ferry_err_set(err, FERRY_ERR,
			    "no public key '%s' to encrypt to in '%s': %s",
			    peer != NULL && self != NULL ? peer : signer,
			    c->home, gpgme_strerror(e));
			goto out;
		}
		rcpt[0] = self;
		rcpt[1] = pkey;
		rcpt[2] = NULL;
		/* Pinning, not the web of trust, makes a key valid here. */
		e = gpgme_op_encrypt_sign_start(c->ctx, rcpt,
		    GPGME_ENCRYPT_ALWAYS_TRUST | GPGME_ENCRYPT_NO_COMPRESS,
		    plain, cipher);
	} else {
		e = gpgme_op_sign_start(c->ctx, plain, cipher,
		    GPGME_SIG_MODE_NORMAL);
	}
	/*
	 * gpg is running now: only then may the caller start feeding in_fd
	 * from another thread, so no fork happens while that thread runs.
	 */
	if (e == 0) {
		if (started != NULL)
			started(arg);
		if (gpgme_wait(c->ctx, &status, 1) == NULL && status == 0)
			status = gpg_error(GPG_ERR_GENERAL);
		e = status;
	}
	if (encrypt) {
		eres = gpgme_op_encrypt_result(c->ctx);
		if (e == 0 && eres != NULL && eres->invalid_recipients != NULL)
			e = eres->invalid_recipients->reason != 0 ?
			    eres->invalid_recipients->reason :
			    gpg_error(GPG_ERR_UNUSABLE_PUBKEY);
	}
	if (e != 0) {
		rc = gpg_fail(err, FERRY_ERR, e, encrypt ?
		    "cannot sign and encrypt" : "cannot sign");
		goto out;
	}
	sres = gpgme_op_sign_result(c->ctx);
	if (sres == NULL || sres->signatures == NULL ||
	    sres->invalid_signers != NULL) {
		rc = ferry_err_set(err, FERRY_ERR,
		    "gpg did not sign with '%s' (expired or revoked?)", signer);
		goto out;
	}
	rc = 0;
out:
	gpgme_signers_clear(c->ctx);
	gpgme_data_release(plain);
	gpgme_data_release(cipher);
	gpgme_key_unref(skey);
	gpgme_key_unref(self);
	gpgme_key_unref(pkey);
	return rc;
}

static int
reject(struct ferry_err *err, enum crypto_verdict *verdict,
    enum crypto_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
reject(struct ferry_err *err, enum crypto_verdict *verdict,
    enum crypto_verdict v, const char *fmt, ...)
{
	char msg[FERRY_ERR_MSG_MAX];
	va_list ap;

	*verdict = v;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ferry_err_set(err, FERRY_EREJECT, "%s", msg);
}

/* Expiry of the (sub)key that made the signature, or of the primary. */
static int64_t
key_expiry(gpgme_key_t key, const char *sigfpr)
{
	gpgme_subkey_t sk;
	int64_t exp = key->subkeys->expires;

	for (sk = key->subkeys; sk != NULL; sk = sk->next)
		if (sk->fpr != NULL && strcasecmp(sk->fpr, sigfpr) == 0 &&
		    sk->expires != 0 && (exp == 0 || sk->expires < exp))
			exp = sk->expires;
	return exp;
}

static bool
is_revoked(gpgme_key_t key, const char *sigfpr)
{
	gpgme_subkey_t sk;

	if (key->revoked)
		return true;
	for (sk = key->subkeys; sk != NULL; sk = sk->next)
		if (sk->fpr != NULL && strcasecmp(sk->fpr, sigfpr) == 0 &&
		    sk->revoked)
			return true;
	return false;
}

static int
check_signature(struct crypto *c, const char *pinned, time_t received_at,
    struct crypto_sig *out, enum crypto_verdict *verdict,
    struct ferry_err *err)
{
	gpgme_verify_result_t vres = gpgme_op_verify_result(c->ctx);
	gpgme_signature_t sig;
	gpgme_key_t key = NULL;
	gpg_err_code_t st;
	int64_t exp;
	int rc;

	if (vres == NULL || (sig = vres->signatures) == NULL)
		return reject(err, verdict, CRYPTO_UNSIGNED,
		    "the message carries no signature");
	if (sig->next != NULL)
		return reject(err, verdict, CRYPTO_MULTIPLE_SIGNERS,
		    "the message carries more than one signature");
	st = gpg_err_code(sig->status);
	if (st == GPG_ERR_NO_PUBKEY || sig->fpr == NULL)
		return reject(err, verdict, CRYPTO_UNKNOWN_SIGNER,
		    "signed by key %s, which is not in the keyring",
		    sig->fpr != NULL ? sig->fpr : "(unknown)");
	if (st == GPG_ERR_BAD_SIGNATURE || (sig->summary & GPGME_SIGSUM_RED &&
	    st != GPG_ERR_KEY_EXPIRED && st != GPG_ERR_CERT_REVOKED))
		return reject(err, verdict, CRYPTO_BAD_SIGNATURE,
		    "the signature does not match the content");
	if (gpgme_get_key(c->ctx, sig->fpr, &key, 0) != 0 || key == NULL)
		return reject(err, verdict, CRYPTO_UNKNOWN_SIGNER,
		    "signed by key %s, which is not in the keyring", sig->fpr);
	if (strcasecmp(key->fpr, pinned) != 0) {
		rc = reject(err, verdict, CRYPTO_WRONG_SIGNER,
		    "signed by key %s, not by the key %s pinned for this "
		    "connection", key->fpr, pinned);
		goto out;
	}
	if (st == GPG_ERR_CERT_REVOKED || is_revoked(key, sig->fpr) ||
	    (sig->summary & GPGME_SIGSUM_KEY_REVOKED)) {
		rc = reject(err, verdict, CRYPTO_KEY_REVOKED,
		    "signed by key %s, which has been revoked", key->fpr);
		goto out;
	}
	exp = key_expiry(key, sig->fpr);
	if (st == GPG_ERR_KEY_EXPIRED || (sig->summary &
	    GPGME_SIGSUM_KEY_EXPIRED) || key->expired) {
		if (received_at == 0)
			received_at = time(NULL);
		/* Signed and received while the key was valid: still good. */
		if (exp == 0 || (int64_t)sig->timestamp >= exp ||
		    (int64_t)received_at >= exp) {
			rc = reject(err, verdict, CRYPTO_KEY_EXPIRED,
			    "signed by key %s, which expired at %" PRId64
			    " (signature made at %lu)", key->fpr, exp,
			    sig->timestamp);
			goto out;
		}
	} else if (st != GPG_ERR_NO_ERROR || sig->wrong_key_usage) {
		rc = reject(err, verdict, CRYPTO_BAD_SIGNATURE,
		    "the signature is not valid: %s",
		    gpgme_strerror(sig->status));
		goto out;
	}
	snprintf(out->fpr, sizeof(out->fpr), "%s", key->fpr);
	out->signed_at = sig->timestamp;
	rc = 0;
out:
	gpgme_key_unref(key);
	return rc;
}

int
crypto_unseal(struct crypto *c, const char *pinned, time_t received_at,
    int in_fd, int out_fd, struct crypto_sig *sig,
    enum crypto_verdict *verdict, struct ferry_err *err)
{
	gpgme_data_t cipher = NULL, plain = NULL;
	gpgme_data_type_t type;
	gpgme_error_t e;
	gpg_err_code_t code;
	int rc = FERRY_ERR;

	*verdict = CRYPTO_OK;
	memset(sig, 0, sizeof(*sig));
	if ((e = gpgme_data_new_from_fd(&cipher, in_fd)) != 0 ||
	    (e = gpgme_data_new_from_fd(&plain, out_fd)) != 0) {
		rc = gpg_fail(err, FERRY_ERR, e, "cannot set up gpgme data");
		goto out;
	}
	big_buffer(cipher);
	big_buffer(plain);
	type = gpgme_data_identify(cipher, 0);
	if (lseek(in_fd, 0, SEEK_SET) == -1) {
		rc = ferry_err_sys(err, FERRY_EIO, "cannot rewind the message");
		goto out;
	}
	if (type != GPGME_DATA_TYPE_PGP_ENCRYPTED &&
	    type != GPGME_DATA_TYPE_PGP_SIGNED &&
	    type != GPGME_DATA_TYPE_PGP_OTHER) {
		rc = reject(err, verdict, CRYPTO_NOT_OPENPGP,
		    "not an OpenPGP message");
		goto out;
	}
	sig->encrypted = type == GPGME_DATA_TYPE_PGP_ENCRYPTED;
	if (sig->encrypted)
		e = gpgme_op_decrypt_ext(c->ctx, GPGME_DECRYPT_VERIFY, cipher,
		    plain);
	else
		e = gpgme_op_verify(c->ctx, cipher, NULL, plain);
	code = gpg_err_code(e);
	if (code == GPG_ERR_NO_SECKEY) {
		rc = reject(err, verdict, CRYPTO_NOT_FOR_US,
		    "encrypted to keys this site does not hold");
		goto out;
	}
	if (code == GPG_ERR_BAD_SIGNATURE) {
		rc = reject(err, verdict, CRYPTO_BAD_SIGNATURE,
		    "the signature does not match the content");
		goto out;
	}
	if (e != 0) {
		rc = reject(err, verdict, CRYPTO_CORRUPT,
		    "damaged or truncated OpenPGP message: %s",
		    gpgme_strerror(e));
		goto out;
	}
	rc = check_signature(c, pinned, received_at, sig, verdict, err);
out:
	gpgme_data_release(cipher);
	gpgme_data_release(plain);
	return rc;
}
