/*
 * cmd_init.c: "ferry init": the state directory (mode 0700), the keyring
 * in STATE/gnupg and the site key, as the configuration describes them.
 *
 * Idempotent: run again, it finds the key and prints it; it never makes
 * a second key or replaces the first (crypto_keygen refuses too).  The
 * public key is also written to STATE/site-key.asc, the file a peer
 * that pairs by key files imports.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/cli.h"
#include "ferry/config.h"
#include "ferry/crypto.h"
#include "ferry/file.h"
#include "ferry/site.h"

#include <getopt.h>
#include <jansson.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

FERRY_COMMAND(init, "create the state directory, database and key of this "
    "site");

#define SITE_KEY_FILE	"site-key.asc"

static int
state_dir(const char *dir, struct ferry_err *err)
{
	struct stat st;
	int rc;

	if (stat(dir, &st) == -1) {
		if (errno != ENOENT)
			return ferry_err_sys(err, FERRY_EIO, "cannot stat '%s'",
			    dir);
		if ((rc = file_mkdirs(dir, 0700, err)) < 0)
			return rc;
		/* mkdir honours the umask; the state is private anyway. */
		if (chmod(dir, 0700) == -1)
			return ferry_err_sys(err, FERRY_EIO,
			    "cannot chmod '%s'", dir);
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return ferry_err_set(err, FERRY_ECONFIG,
		    "state_dir '%s' is not a directory", dir);
	if ((st.st_mode & 077) != 0)
		return ferry_err_set(err, FERRY_ECONFIG,
		    "state_dir '%s' is open to other users (mode %03o); run "
		    "'chmod 700 %s'", dir, (unsigned)(st.st_mode & 0777), dir);
	return 0;
}

int
cmd_init(int argc, char **argv, struct ferry_ctx *ctx, struct ferry_err *err)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct config *cfg = NULL;
	struct crypto *c = NULL;
	struct site *site = NULL;
	struct crypto_keyinfo ki;
	struct buf pub = BUF_INIT(1 << 20);
	char fpr[CRYPTO_FPR_MAX], *home = NULL, *uid = NULL, *pubpath = NULL;
	char created[32], expires[32];
	bool made = false, json = ctx->json;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (ch == 'j') {
			json = true;
			continue;
		}
		return ferry_err_set(err, FERRY_EUSAGE,
		    "usage: ferry [-c CONFIG] init [--json]");
	}
	if (optind != argc)
		return ferry_err_set(err, FERRY_EUSAGE,
		    "usage: ferry [-c CONFIG] init [--json]");
	if ((rc = config_load(ctx->config_path, &cfg, err)) < 0)
		return rc;
	if ((rc = state_dir(cfg->site.state_dir, err)) < 0)
		goto out;
	home = file_join(cfg->site.state_dir, "gnupg");
	if ((rc = crypto_open(home, &c, err)) < 0)
		goto out;
	rc = crypto_site_key(c, fpr, err);
	if (rc == FERRY_ENOTFOUND) {
		uid = xasprintf("ferry site %s", cfg->site.name);
		if ((rc = crypto_keygen(c, uid, cfg->site.key_algorithm ==
		    CONFIG_KEY_RSA3072 ? CRYPTO_ALGO_RSA3072 :
		    CRYPTO_ALGO_ED25519, cfg->site.key_expiry_days, fpr,
		    err)) < 0)
			goto out;
		made = true;
	} else if (rc < 0) {
		goto out;
	}
	if ((rc = crypto_key_info(c, fpr, &ki, err)) < 0 ||
	    (rc = crypto_export(c, fpr, true, &pub, err)) < 0)
		goto out;
	pubpath = file_join(cfg->site.state_dir, SITE_KEY_FILE);
	if ((rc = file_write_atomic(cfg->site.state_dir, SITE_KEY_FILE,
	    pub.data, pub.len, 0644, err)) < 0)
		goto out;
	/*
	 * The database, with this site's row, is made now too, so the
	 * state directory is complete before any other command runs.
	 */
	crypto_free(c);
	c = NULL;
	if ((rc = site_open(ctx->config_path, &site, err)) < 0)
		goto out;
	site_close(site);
	cli_utc_time(ki.created, created, sizeof(created));
	cli_utc_time(ki.expires, expires, sizeof(expires));
	if (json) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
		    "s:b}", "site", cfg->site.name, "state_dir",
		    cfg->site.state_dir, "fingerprint", fpr, "algorithm",
		    ki.algo, "created", created, "expires", expires,
		    "public_key_file", pubpath, "key_created", made);

		cli_print_json(o);
	} else {
		printf("%s site key for '%s' in %s\n"
		    "fingerprint: %s\nalgorithm:   %s\nexpires:     %s\n"
		    "public key:  %s\n", made ? "created the" :
		    "already initialised: kept the", cfg->site.name, home, fpr,
		    ki.algo, expires, pubpath);
	}
	rc = 0;
out:
	buf_release(&pub);
	crypto_free(c);
	config_free(cfg);
	free(home);
	free(uid);
	free(pubpath);
	return rc;
}
