/*
 * pair.h: pairing two sites, and the batch cycle that carries it.
 *
 * The handshake (docs/pairing.md):
 *
 *	inviter  `ferry invite`  a pending invitation in the store (connection
 *				 id, one-time secret, expiry); prints the code
 *	acceptor `ferry accept`  decodes the code, records the connection and
 *				 the inviter's fingerprint prefix, writes a
 *				 hello carrying its public key, authenticated
 *				 with invite_mac(), signed by its own key
 *	inviter  `ferry run`     checks the hello against its invitations
 *				 (MAC, expiry, single use), pins the key,
 *				 replies with a hello carrying its own key
 *	acceptor `ferry run`     checks that key against the code's prefix,
 *				 pins it
 *
 * Hellos are signed, never encrypted (the peer key is not known yet), and
 * named like every control message, addressed to the peer's site id.  The
 * acceptor knows the inviter's id from the code (site ids are fingerprint
 * prefixes, site.h); the inviter learns the acceptor's from the hello.
 * Until both keys are pinned nothing but hello is read on a connection.
 *
 * The pure helpers (ids, OpenPGP key packets, durations, reading a code)
 * are in pair.c and unit tested; the rest (pair_run.c) drives the store,
 * keyring and transport.
 */
#ifndef FERRY_PAIR_H
#define FERRY_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ferry/crypto.h"
#include "ferry/invite.h"

struct config_conn;
struct ferry_err;
struct site;

#define PAIR_SITE_ID_LEN	20	/* = SITE_ID_LEN */
#define PAIR_CONN_ID_LEN	8	/* the 32-bit id in hex */
#define PAIR_CODE_MAX		256	/* longest line of a code */
#define PAIR_KEY_MAX		(1u << 20)	/* a public key file */
#define PAIR_CLOCK_SLACK	60	/* seconds of clock difference */

/* Site id of a key: its first 20 hex digits, lower case. */
void pair_site_id(const char *fpr_hex, char out[PAIR_SITE_ID_LEN + 1]);
/* The same from the fingerprint prefix an invitation carries. */
void pair_site_id_bytes(const uint8_t fpr[INVITE_FPR_LEN],
    char out[PAIR_SITE_ID_LEN + 1]);
/* Connection id as it appears in names: 8 hex digits, lower case. */
void pair_conn_id(uint32_t id, char out[PAIR_CONN_ID_LEN + 1]);
/* Parse 1-8 hex digits, not 0; false otherwise. */
bool pair_conn_id_parse(const char *s, uint32_t *id);
/*
 * The connection id two sites pairing by key files agree on without a
 * code: from both fingerprints, in either order.  Never 0.
 */
uint32_t pair_keyfile_conn_id(const char *fpr_a, const char *fpr_b);

/* What the first packet of an OpenPGP public key says. */
struct pair_keypkt {
	int		 version;	/* 4, 5 or 6 */
	int64_t		 created;	/* seconds since the epoch */
	char		 fpr[CRYPTO_FPR_MAX];	/* upper-case hex */
};
/*
 * Read the public key packet that starts key (binary, or ASCII armored):
 * its version, creation time and fingerprint, computed as RFC 4880 (v4:
 * SHA-1) and RFC 9580 (v5, v6: SHA-256) define it, so that a key can be
 * judged before gpg is given it.  FERRY_EREJECT if it is not one.
 */
int pair_key_packet(const void *key, size_t len, struct pair_keypkt *out,
    struct ferry_err *err);

/* "2 h 0 min", "45 s", "3 days 4 h": a clock difference for people. */
void pair_duration(int64_t secs, char *out, size_t len);

/*
 * Read an invitation code from fp: the first line that is not empty,
 * trimmed, at most PAIR_CODE_MAX bytes.  FERRY_EUSAGE if there is none or
 * it is too long.  out has PAIR_CODE_MAX + 1 bytes.
 */
int pair_read_code(FILE *fp, char *out, struct ferry_err *err);

/* What `ferry invite` made. */
struct pair_invitation {
	char		 conn_id[PAIR_CONN_ID_LEN + 1];
	char		 code[INVITE_CODE_LEN + 1]; /* caller wipes */
	int64_t		 created, expires;
	bool		 replaced;	/* an older code became invalid */
};

/*
 * A new invitation for connection cc: the connection is recorded (or its
 * pending record reused, with the same id), the secret goes into the
 * store, the code into out.  FERRY_ERR if the connection is paired or
 * this site accepted an invitation for it.
 */
int pair_invite(struct site *s, const struct config_conn *cc, int64_t now,
    struct pair_invitation *out, struct ferry_err *err);

/* What `ferry accept` did. */
struct pair_accepted {
	char		 conn_id[PAIR_CONN_ID_LEN + 1];
	char		 peer_site[PAIR_SITE_ID_LEN + 1];
	/* The pinned key (key files), or the code's prefix. */
	char		 peer_fpr[CRYPTO_FPR_MAX];
	char		 hello[256];	/* the hello's name */
	bool		 sent;		/* on the transport; else
					   `ferry run` sends it */
	char		 unsent_why[FERRY_ERR_MSG_MAX];
};

/*
 * Accept invitation inv for connection cc: record the connection and
 * write, and try to send, the hello.  FERRY_ERR if the connection is
 * paired, invited by this site, or accepted before (unless replace: an
 * accepted, unpaired connection then takes the new code, and its old
 * hello leaves the transport), or if the code is this site's own.
 */
int pair_accept(struct site *s, const struct config_conn *cc,
    const struct invite *inv, bool replace, int64_t now,
    struct pair_accepted *out, struct ferry_err *err);

/*
 * Read the public key file key_path and say what it is, for a person to
 * compare before pinning.  FERRY_EREJECT for a key whose creation time is
 * in the future of this host's clock (naming the difference).
 */
int pair_key_file(const char *key_path, struct buf *key,
    struct pair_keypkt *info, int64_t now, struct ferry_err *err);
/*
 * Pair connection cc by the key in key (pair_key_file()): import and pin
 * it.  conn_id NULL: pair_keyfile_conn_id().
 */
int pair_accept_key(struct site *s, const struct config_conn *cc,
    const struct buf *key, const char *conn_id, int64_t now,
    struct pair_accepted *out, struct ferry_err *err);

/* What one run did on one connection. */
struct pair_report {
	const char	*name;
	char		 conn_id[PAIR_CONN_ID_LEN + 1];
	/* "paired", "waiting-for-hello", "waiting-for-reply", "not-paired" */
	const char	*state;
	char		 peer_site[PAIR_SITE_ID_LEN + 1];
	char		 peer_fpr[CRYPTO_FPR_MAX];
	bool		 pinned_now;	/* this run pinned the key */
	bool		 hello_sent;	/* this run put a hello */
	unsigned	 hellos_rejected;
	unsigned	 fetched, quarantined, acks_in, sent, resent;
	unsigned	 acks_out, removed, pruned;
	bool		 unavailable, stopped;
	int		 rc;		/* its first error */
	char		 msg[FERRY_ERR_MSG_MAX];
};

/*
 * One batch cycle of connection cc: pairing (hellos), then, once both
 * keys are pinned, the channel: receive, acks, resends, prune.  Errors of
 * the connection go into r (r->rc, r->msg) and are returned; the caller
 * goes on with the next connection.
 */
int pair_run_conn(struct site *s, const struct config_conn *cc, int64_t now,
    struct pair_report *r, struct ferry_err *err);

#endif
