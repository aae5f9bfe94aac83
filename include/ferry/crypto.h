/*
 * crypto.h: the site's OpenPGP keyring (through gpgme) and SHA-256.
 *
 * A keyring lives in a directory of its own, STATE/gnupg (mode 0700), and
 * holds one secret key, the site's, plus the public keys of pinned peers.
 * crypto_open() writes a gpg.conf there that turns compression off, so no
 * message ferry makes is compressed a second time inside OpenPGP (the
 * bundle is already zstd); encryption also passes GPGME_ENCRYPT_NO_COMPRESS.
 * gpgme starts a gpg-agent for the directory as needed; crypto_kill_agent()
 * stops it (tests, and `ferry init` when it made the keyring).
 *
 * Trust is by pinning, never by the web of trust: the caller names the
 * fingerprint of the primary key it expects, and a signature counts only
 * if it is good and made by that key or one of its subkeys.
 */
#ifndef FERRY_CRYPTO_H
#define FERRY_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;
struct ferry_err;

/*
 * libgcrypt, which ferry uses for SHA-256, HMAC and random numbers, must
 * be initialised once before its first use; every function here that
 * needs it calls this.  Safe to call again and from several threads.
 */
void crypto_gcrypt_init(void);

/*
 * SHA-256, streaming, from libgcrypt (which uses the CPU's SHA or AVX2
 * instructions when it has them).
 */
#define CRYPTO_SHA256_LEN	32
#define CRYPTO_SHA256_HEX	(2 * CRYPTO_SHA256_LEN + 1)

/*
 * A hash in progress: a libgcrypt digest handle (gcry_md_hd_t), owned
 * by the struct from crypto_sha256_init() until crypto_sha256_final(),
 * which releases it.  A hash abandoned before final (an error path) must
 * be given to crypto_sha256_release().  CRYPTO_SHA256_INIT is a struct
 * that holds no handle; final and release leave it so.
 */
struct gcry_md_handle;
struct crypto_sha256 {
	struct gcry_md_handle	*h;
};
#define CRYPTO_SHA256_INIT	{ NULL }

/* Start a hash; allocation failure aborts, as xmalloc() does. */
void crypto_sha256_init(struct crypto_sha256 *s);
void crypto_sha256_update(struct crypto_sha256 *s, const void *data,
    size_t len);
/* The digest into out; releases the handle (s is CRYPTO_SHA256_INIT). */
void crypto_sha256_final(struct crypto_sha256 *s,
    uint8_t out[CRYPTO_SHA256_LEN]);
/* Drop a hash without its digest; nothing happens if s holds none. */
void crypto_sha256_release(struct crypto_sha256 *s);
/* One call: out = SHA-256(data). */
void crypto_sha256(const void *data, size_t len,
    uint8_t out[CRYPTO_SHA256_LEN]);
/* Lower-case hex of a digest into hex (CRYPTO_SHA256_HEX bytes). */
void crypto_sha256_hex(const uint8_t d[CRYPTO_SHA256_LEN],
    char hex[CRYPTO_SHA256_HEX]);
/* Parse 64 hex digits (either case); false if s is anything else. */
bool crypto_sha256_unhex(const char *s, uint8_t d[CRYPTO_SHA256_LEN]);
/*
 * Hash the whole of path (or, with len != UINT64_MAX, len bytes from
 * offset), reading in blocks of 128 KiB.  *size (may be NULL) gets the
 * bytes hashed.  FERRY_EIO, or FERRY_ERR if the file ends before
 * offset + len.
 */
int crypto_sha256_file(const char *path, uint64_t offset, uint64_t len,
    uint8_t out[CRYPTO_SHA256_LEN], uint64_t *size, struct ferry_err *err);

/* A v4 fingerprint is 40 hex digits, v5 64: room for either. */
#define CRYPTO_FPR_MAX		65

enum crypto_algo {
	CRYPTO_ALGO_ED25519,	/* Ed25519 primary + Cv25519 subkey */
	CRYPTO_ALGO_RSA3072,	/* RSA 3072 primary + RSA 3072 subkey */
};

struct crypto;

/*
 * Open the keyring in dir, creating dir (mode 0700) and its gpg.conf when
 * missing.  A dir that exists with group or other access is refused
 * (FERRY_ECONFIG): gpg would warn and an agent socket there is private.
 * *out is freed with crypto_free().
 */
int crypto_open(const char *dir, struct crypto **out, struct ferry_err *err);
void crypto_free(struct crypto *c);
/* The keyring directory (borrowed, valid until crypto_free()). */
const char *crypto_home(const struct crypto *c);
/* Stop the agent and other daemons of the keyring in dir (gpgconf). */
void crypto_kill_agent(const char *dir);

/*
 * Make the site key: a primary key for signing and certification with an
 * encryption subkey, both expiring after expiry_days (0: never; ferry's
 * config always gives a number), no passphrase (the keyring directory is
 * the protection, as for an ssh host key).  Refuses with FERRY_ERR if the
 * keyring already holds a secret key: a site key is never replaced by
 * accident.  fpr gets the primary key's fingerprint.
 */
int crypto_keygen(struct crypto *c, const char *uid, enum crypto_algo algo,
    uint32_t expiry_days, char fpr[CRYPTO_FPR_MAX], struct ferry_err *err);

/*
 * The site key: the fingerprint of the one secret key in the keyring.
 * FERRY_ENOTFOUND if there is none, FERRY_ERR if there are several.
 */
int crypto_site_key(struct crypto *c, char fpr[CRYPTO_FPR_MAX],
    struct ferry_err *err);

/*
 * The one public key in the keyring besides the site key (the peer, when
 * a site has one connection).  FERRY_ENOTFOUND if there is none,
 * FERRY_ERR if there are several.
 */
int crypto_only_peer(struct crypto *c, char fpr[CRYPTO_FPR_MAX],
    struct ferry_err *err);

/* What one key looks like, for `ferry init` and `ferry check`. */
struct crypto_keyinfo {
	char		 fpr[CRYPTO_FPR_MAX];
	char		 algo[32];	/* "ed25519", "rsa3072" */
	char		 uid[128];
	int64_t		 created;	/* seconds since the epoch */
	int64_t		 expires;	/* 0: never */
	bool		 expired, revoked, secret;
};
int crypto_key_info(struct crypto *c, const char *fpr,
    struct crypto_keyinfo *info, struct ferry_err *err);

/*
 * Import the public key(s) in data (binary or armored).  fpr (may be
 * NULL) gets the primary fingerprint of the first key imported or
 * already present.  A secret key in data is refused: peers send public
 * keys only.  FERRY_ERR if data holds no key.
 */
int crypto_import(struct crypto *c, const void *data, size_t len,
    char fpr[CRYPTO_FPR_MAX], struct ferry_err *err);
/* Append the public key fpr, binary (armor false) or armored, to out. */
int crypto_export(struct crypto *c, const char *fpr, bool armor,
    struct buf *out, struct ferry_err *err);

/*
 * Sign the file in_path with the key signer (the site key), encrypt it to
 * peer and to signer when encrypt is true, and write the binary OpenPGP
 * message to out_fd.  Input is streamed from in_fd when in_path is NULL
 * (a pipe: the bundle writer feeds it from another thread).  No
 * compression inside OpenPGP.  FERRY_ERR with gpgme's reason on failure
 * (an expired or revoked signer or recipient among them).
 */
int crypto_seal(struct crypto *c, const char *signer, const char *peer,
    bool encrypt, int in_fd, int out_fd, struct ferry_err *err);
/*
 * As crypto_seal, calling started(arg) once gpg runs and before any byte
 * is read: a thread that feeds in_fd starts there, after gpgme's fork.
 * started is not called if gpg could not be started.
 */
int crypto_seal_ex(struct crypto *c, const char *signer, const char *peer,
    bool encrypt, int in_fd, int out_fd, void (*started)(void *),
    void *arg, struct ferry_err *err);

/* Why crypto_unseal() refused a message: see enum bundle_reason. */
enum crypto_verdict {
	CRYPTO_OK = 0,
	CRYPTO_NOT_OPENPGP,	/* not an OpenPGP message at all */
	CRYPTO_CORRUPT,		/* OpenPGP, but damaged or truncated */
	CRYPTO_NOT_FOR_US,	/* encrypted, but to no key we hold */
	CRYPTO_UNSIGNED,	/* no signature at all */
	CRYPTO_BAD_SIGNATURE,	/* a signature that does not match */
	CRYPTO_UNKNOWN_SIGNER,	/* the signing key is not in the keyring */
	CRYPTO_WRONG_SIGNER,	/* a known key, not the one pinned */
	CRYPTO_KEY_EXPIRED,	/* the pinned key had expired */
	CRYPTO_KEY_REVOKED,	/* the pinned key is revoked */
	CRYPTO_MULTIPLE_SIGNERS,	/* more than one signature */
};

struct crypto_sig {
	char		 fpr[CRYPTO_FPR_MAX];	/* primary key that signed */
	int64_t		 signed_at;		/* signature time */
	bool		 encrypted;		/* the message was encrypted */
};

/*
 * Decrypt (when encrypted) and verify the message in in_fd, writing the
 * plaintext to out_fd.  The plaintext is written before the signature is
 * checked (it trails the data): the caller must not read out_fd unless
 * this returns 0, and should discard it otherwise.
 *
 * A signature counts only if it is the message's only signature, it is
 * good, and it was made by pinned (a primary fingerprint) or a subkey of
 * it.  A signature by a key that has expired since is accepted only if it
 * was made before the key expired and received_at (when the site received
 * the message, from its inbox record; 0 means now) is before the expiry
 * too: a bundle received in time stays valid when re-read later.  A
 * revoked key is never accepted.
 *
 * Refusals return FERRY_EREJECT with *verdict set and err naming the
 * reason; other failures FERRY_EIO/FERRY_ERR with *verdict CRYPTO_OK.
 */
int crypto_unseal(struct crypto *c, const char *pinned, time_t received_at,
    int in_fd, int out_fd, struct crypto_sig *sig,
    enum crypto_verdict *verdict, struct ferry_err *err);

#endif
