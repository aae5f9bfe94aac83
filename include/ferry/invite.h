/*
 * invite.h: the invitation code that pairs two sites across an air gap.
 *
 * A code is 25 bytes written as 40 characters of Crockford base32 in
 * eight groups of five, short enough to read aloud or type:
 *
 *	byte  0	     format version (INVITE_VERSION)
 *	bytes 1-4    connection id, big-endian, chosen by the inviter
 *	bytes 5-14   the first 10 bytes of the inviter's key fingerprint
 *	bytes 15-22  a one-time secret
 *	bytes 23-24  checksum: the first two bytes of SHA-256 of bytes 0-22
 *
 * Decoding ignores case, spaces and '-', and reads I and L as 1 and O as
 * 0, as Crockford's alphabet intends.  The checksum catches a mistyped
 * code before any message is sent.  Expiry and single use are enforced
 * by the inviter, which keeps each pending invitation in its store.
 */
#ifndef FERRY_INVITE_H
#define FERRY_INVITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ferry_err;

#define INVITE_VERSION		1
#define INVITE_FPR_LEN		10
#define INVITE_SECRET_LEN	8
#define INVITE_CODE_LEN		47	/* 40 symbols + 7 dashes */
#define INVITE_MAC_LEN		32	/* HMAC-SHA-256 */

struct invite {
	uint8_t		 version;
	uint32_t	 conn_id;
	uint8_t		 fpr[INVITE_FPR_LEN];
	uint8_t		 secret[INVITE_SECRET_LEN];
};

/*
 * A new invitation for the key with the given hex fingerprint (40 or 64
 * hex digits): a fresh random secret and, if conn_id is 0, a fresh
 * random connection id.
 */
int invite_new(const char *fpr_hex, uint32_t conn_id, struct invite *inv,
    struct ferry_err *err);

/* Write inv as "XXXXX-XXXXX-...": out has INVITE_CODE_LEN + 1 bytes. */
void invite_encode(const struct invite *inv, char out[INVITE_CODE_LEN + 1]);

/*
 * Read a code as a person typed it.  Fails with FERRY_EUSAGE for a code
 * of the wrong length or with a character outside the alphabet (naming
 * it), a checksum that does not match ("mistyped"), or a version this
 * ferry does not know (naming both).
 */
int invite_decode(const char *text, struct invite *inv,
    struct ferry_err *err);

/* True if the hex fingerprint fpr_hex starts with inv->fpr. */
bool invite_matches_key(const struct invite *inv, const char *fpr_hex);

/*
 * The hello's authenticator: HMAC-SHA-256 keyed with the secret over a
 * label, the connection id, the acceptor's site name and its public key.
 */
void invite_mac(const struct invite *inv, const char *site_name,
    const void *pubkey, size_t pubkey_len, uint8_t mac[INVITE_MAC_LEN]);

/* Compare two MACs in constant time. */
bool invite_mac_equal(const uint8_t a[INVITE_MAC_LEN],
    const uint8_t b[INVITE_MAC_LEN]);

/* Wipe the secret. */
void invite_wipe(struct invite *inv);

#endif
