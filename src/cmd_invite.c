/*
 * cmd_invite.c: "ferry invite --connection NAME": a one-time invitation
 * code for the other site (docs/pairing.md), or with --export-key FILE
 * this site's public key, for sites that pair by key files.
 *
 * The code's secret is kept in the store only (the state directory is
 * private); the code is printed once, on stdout.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/cli.h"
#include "ferry/config.h"
#include "ferry/crypto.h"
#include "ferry/file.h"
#include "ferry/pair.h"
#include "ferry/site.h"

#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <time.h>

FERRY_COMMAND(invite, "pair with another site: print a one-time "
    "invitation code");

#define USAGE	"usage: ferry [-c CONFIG] invite --connection NAME " \
		"[--export-key FILE] [--json]"

/* Write this site's public key, armored, to path. */
static int
export_key(struct site *s, const char *path, bool json,
    struct ferry_err *err)
{
	struct buf pub = BUF_INIT(PAIR_KEY_MAX);
	char *d = xstrdup(path), *b = xstrdup(path);
	int rc;

	if ((rc = crypto_export(s->crypto, s->fpr, true, &pub, err)) < 0 ||
	    (rc = file_write_atomic(dirname(d), basename(b), pub.data,
	    pub.len, 0644, err)) < 0)
		goto out;
	if (json)
		cli_print_json(json_pack("{s:s, s:s, s:s}", "public_key_file",
		    path, "fingerprint", s->fpr, "site_id", s->site_id));
	else
		printf("wrote the public key of site '%s' to %s\n"
		    "fingerprint: %s\n"
		    "The other site pins it with 'ferry accept --connection "
		    "NAME --peer-key FILE';\nread the fingerprint to its "
		    "administrator to compare.\n", s->cfg->site.name, path,
		    s->fpr);
out:
	buf_release(&pub);
	free(d);
	free(b);
	return rc;
}

int
cmd_invite(int argc, char **argv, struct ferry_ctx *ctx, struct ferry_err *err)
{
	static const struct option longopts[] = {
		{ "connection", required_argument, NULL, 'C' },
		{ "export-key", required_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const struct config_conn *cc;
	struct pair_invitation inv;
	struct site *s = NULL;
	const char *name = NULL, *keyfile = NULL;
	char created[32], expires[32];
	bool json = ctx->json;
	int ch, rc;

	memset(&inv, 0, sizeof(inv));
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'C':
			name = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'j':
			json = true;
			break;
		default:
			return ferry_err_set(err, FERRY_EUSAGE, USAGE);
		}
	}
	if (optind != argc || name == NULL)
		return ferry_err_set(err, FERRY_EUSAGE, USAGE);
	if ((rc = site_open(ctx->config_path, &s, err)) < 0)
		return rc;
	if ((cc = config_conn_find(s->cfg, name)) == NULL) {
		rc = ferry_err_set(err, FERRY_ECONFIG, "unknown connection "
		    "'%s': '%s' has no [connection %s] section", name,
		    s->cfg->path, name);
		goto out;
	}
	if (keyfile != NULL) {
		rc = export_key(s, keyfile, json, err);
		goto out;
	}
	if ((rc = pair_invite(s, cc, (int64_t)time(NULL), &inv, err)) < 0)
		goto out;
	cli_utc_time(inv.created, created, sizeof(created));
	cli_utc_time(inv.expires, expires, sizeof(expires));
	if (json) {
		cli_print_json(json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, "
		    "s:b}", "connection", cc->name, "connection_id",
		    inv.conn_id, "code", inv.code, "created", created,
		    "expires", expires, "fingerprint", s->fpr, "site_id",
		    s->site_id, "replaced_older_code", inv.replaced));
	} else {
		printf("invitation for connection '%s' (project %s, "
		    "connection id %s):\n\n    %s\n\n"
		    "It works once and expires at %s.%s\n"
		    "Carry it to the other site by a way you trust (read it "
		    "aloud, type it); there run\n"
		    "    ferry accept --connection NAME\n"
		    "and give the code when asked.  Then run 'ferry run' "
		    "here, then there.\n", cc->name, cc->project, inv.conn_id,
		    inv.code, expires, inv.replaced ? "  The older code of "
		    "this connection no longer works." : "");
	}
	rc = 0;
out:
	explicit_bzero(inv.code, sizeof(inv.code));
	site_close(s);
	return rc;
}
