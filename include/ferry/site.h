/*
 * site.h: opening this site for a command: the configuration, the lock of
 * the state directory, the store and the keyring, in that order.
 *
 * `ferry init` made the state directory and the site key; site_open()
 * refuses a site without them (FERRY_ECONFIG: "run 'ferry init' first").
 * On first open it gives the store its site row: the site id, which goes
 * into manifests and file names, is the first 20 hex digits of the site
 * key's fingerprint (pair_site_id()), so an acceptor knows the inviter's
 * id from the invitation code alone.
 *
 * Every command that opens the site checks that no paired connection has
 * changed its project or sync user (site_check_conn()); a connection not
 * yet paired follows its section.  The Jira base URL and the credentials
 * may change at any time: they are not compared.
 */
#ifndef FERRY_SITE_H
#define FERRY_SITE_H

#include <stdbool.h>

#include "ferry/crypto.h"

struct config;
struct config_conn;
struct crypto;
struct ferry_err;
struct lock;
struct store;
struct store_conn;

#define SITE_ID_LEN	20	/* hex digits of the key fingerprint */

struct site {
	struct config	*cfg;
	struct lock	*lock;
	struct store	*store;
	struct crypto	*crypto;
	const char	*state_dir;	/* cfg->site.state_dir */
	char		*gnupg;		/* STATE/gnupg */
	char		*tmp;		/* STATE/tmp: bundle work space */
	char		*pairdir;	/* STATE/pairing: hellos to send */
	char		 site_id[SITE_ID_LEN + 1];
	char		 fpr[CRYPTO_FPR_MAX];	/* the site key */
};

/*
 * Open the site of the configuration at config_path: load and validate
 * it, take the lock (FERRY_ELOCKED if another run holds it), open the
 * store and the keyring, and check every connection.  *out is closed with
 * site_close().  FERRY_ECONFIG before `ferry init` or when a paired
 * connection's project or sync user changed (naming the old and the new
 * value).
 */
int site_open(const char *config_path, struct site **out,
    struct ferry_err *err);
/*
 * Has `ferry init` made the state directory and keyring of cfg?
 * FERRY_ECONFIG ("run 'ferry init' first") if not.  Takes no lock: a
 * command checks this before it waits for a person (accept's prompt).
 */
int site_check_init(const struct config *cfg, struct ferry_err *err);
/* Close the store and keyring, release the lock; NULL is fine. */
void site_close(struct site *s);

/*
 * Compare connection section cc (of config file path) with its store row
 * sc.  A paired row (peer key pinned) must have the same project and sync
 * user (FERRY_ECONFIG otherwise, naming both values); *update is set when
 * an unpaired row should take the section's values.
 */
int site_check_conn(const char *path, const struct config_conn *cc,
    const char *sync_user, const struct store_conn *sc, bool *update,
    struct ferry_err *err);

#endif
