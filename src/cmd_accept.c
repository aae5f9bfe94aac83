/*
 * cmd_accept.c: "ferry accept --connection NAME": take the other site's
 * invitation code and send the hello (docs/pairing.md); or, with
 * --peer-key FILE, pin a public key file the other site gave.
 *
 * The code holds a secret: it is read from the terminal, standard input
 * or a file, never from the command line, where every user of the host
 * sees it (ps, /proc, shell history).
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/cli.h"
#include "ferry/config.h"
#include "ferry/invite.h"
#include "ferry/pair.h"
#include "ferry/site.h"

#include <getopt.h>
#include <jansson.h>
#include <time.h>
#include <unistd.h>

FERRY_COMMAND(accept, "pair with another site: accept its invitation code");

#define USAGE	"usage: ferry [-c CONFIG] accept --connection NAME " \
		"[--code-file FILE] [--replace] [--json]\n" \
		"       ferry [-c CONFIG] accept --connection NAME " \
		"--peer-key FILE [--connection-id ID] [--yes] [--json]"

#define NOT_AN_ARGUMENT	"the invitation code is never given as an " \
	"argument: it holds a secret, and the arguments of a command are " \
	"visible to every user of the host (ps, /proc) and stay in shell " \
	"history; type it when asked, give it on standard input, or use " \
	"--code-file FILE"

/* The code from a file, the terminal or standard input. */
static int
read_code(const char *path, char *code, struct ferry_err *err)
{
	FILE *fp;
	int rc;

	if (path != NULL) {
		if ((fp = fopen(path, "re")) == NULL)
			return ferry_err_sys(err, FERRY_ENOTFOUND, "cannot "
			    "read the code file '%s'", path);
		rc = pair_read_code(fp, code, err);
		fclose(fp);
		return rc < 0 ? ferry_err_prefix(err, "'%s': ", path) : 0;
	}
	if (isatty(STDIN_FILENO)) {
		/* Prompt where the person is, even if stdout is redirected. */
		if ((fp = fopen("/dev/tty", "r+e")) == NULL)
			return ferry_err_sys(err, FERRY_EIO,
			    "cannot open the terminal");
		fprintf(fp, "Invitation code: ");
		fflush(fp);
		rc = pair_read_code(fp, code, err);
		fclose(fp);
		return rc;
	}
	return pair_read_code(stdin, code, err);
}

/* Ask on the terminal; false if there is none or the answer is not yes. */
static bool
confirm(const char *question)
{
	char line[16];
	FILE *fp;
	bool yes = false;

	if (!isatty(STDIN_FILENO) || (fp = fopen("/dev/tty", "r+e")) == NULL)
		return false;
	fprintf(fp, "%s [y/N] ", question);
	fflush(fp);
	if (fgets(line, sizeof(line), fp) != NULL)
		yes = line[0] == 'y' || line[0] == 'Y';
	fclose(fp);
	return yes;
}

static int
accept_key(struct site *s, const struct config_conn *cc, const char *keyfile,
    const char *conn_id, bool yes, bool json, struct ferry_err *err)
{
	struct buf key = BUF_INIT(PAIR_KEY_MAX);
	struct pair_keypkt info;
	struct pair_accepted acc;
	char *question = NULL;
	int rc;

	if ((rc = pair_key_file(keyfile, &key, &info, (int64_t)time(NULL),
	    err)) < 0)
		goto out;
	fprintf(stderr, "key file %s\n  fingerprint: %s\n", keyfile,
	    info.fpr);
	if (!yes) {
		question = xasprintf("Pin key %s for connection '%s'?  Compare "
		    "the fingerprint with the one the other site's "
		    "administrator reads to you.", info.fpr, cc->name);
		if (!isatty(STDIN_FILENO)) {
			rc = ferry_err_set(err, FERRY_EUSAGE, "no terminal to "
			    "confirm the key on: compare fingerprint %s with "
			    "the other site's administrator, then run again "
			    "with --yes", info.fpr);
			goto out;
		}
		if (!confirm(question)) {
			rc = ferry_err_set(err, FERRY_ERR, "key not pinned: "
			    "not confirmed");
			goto out;
		}
	}
	if ((rc = pair_accept_key(s, cc, &key, conn_id, (int64_t)time(NULL),
	    &acc, err)) < 0)
		goto out;
	if (json)
		cli_print_json(json_pack("{s:s, s:s, s:s, s:s, s:s}", "connection",
		    cc->name, "connection_id", acc.conn_id, "peer_site",
		    acc.peer_site, "peer_fingerprint", acc.peer_fpr, "state",
		    "paired"));
	else
		printf("connection '%s' (connection id %s) is paired with site "
		    "%s: pinned key %s.\nThe other site pins this site's key "
		    "(%s) the same way.\n", cc->name, acc.conn_id,
		    acc.peer_site, acc.peer_fpr, s->fpr);
out:
	free(question);
	buf_release(&key);
	return rc;
}

int
cmd_accept(int argc, char **argv, struct ferry_ctx *ctx, struct ferry_err *err)
{
	static const struct option longopts[] = {
		{ "connection", required_argument, NULL, 'C' },
		{ "code-file", required_argument, NULL, 'f' },
		{ "code", optional_argument, NULL, 'X' },
		{ "peer-key", required_argument, NULL, 'k' },
		{ "connection-id", required_argument, NULL, 'i' },
		{ "yes", no_argument, NULL, 'y' },
		{ "replace", no_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	const struct config_conn *cc;
	struct pair_accepted acc;
	struct config *cfg = NULL;
	struct invite inv;
	struct site *s = NULL;
	const char *name = NULL, *codefile = NULL, *keyfile = NULL;
	const char *conn_id = NULL;
	char code[PAIR_CODE_MAX + 1];
	bool json = ctx->json, yes = false, replace = false;
	uint32_t id;
	int ch, rc;

	memset(&inv, 0, sizeof(inv));
	code[0] = '\0';
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'C':
			name = optarg;
			break;
		case 'f':
			codefile = optarg;
			break;
		case 'X':
			return ferry_err_set(err, FERRY_EUSAGE, "there is no "
			    "--code option: %s", NOT_AN_ARGUMENT);
		case 'k':
			keyfile = optarg;
			break;
		case 'i':
			conn_id = optarg;
			break;
		case 'y':
			yes = true;
			break;
		case 'r':
			replace = true;
			break;
		case 'j':
			json = true;
			break;
		default:
			return ferry_err_set(err, FERRY_EUSAGE, USAGE);
		}
	}
	if (optind != argc)
		return ferry_err_set(err, FERRY_EUSAGE, "unexpected argument: "
		    "%s", NOT_AN_ARGUMENT);
	if (name == NULL)
		return ferry_err_set(err, FERRY_EUSAGE, USAGE);
	if (keyfile != NULL && codefile != NULL)
		return ferry_err_set(err, FERRY_EUSAGE, "--peer-key and "
		    "--code-file are two ways to pair: give one");
	if (conn_id != NULL && (keyfile == NULL ||
	    !pair_conn_id_parse(conn_id, &id)))
		return ferry_err_set(err, FERRY_EUSAGE, "--connection-id takes "
		    "1 to 8 hex digits, not 0, and goes with --peer-key");
	/*
	 * Check what can be checked before a person is asked for the code,
	 * and ask before the lock is taken: a run started meanwhile is not
	 * held up by someone typing.
	 */
	if ((rc = config_load(ctx->config_path, &cfg, err)) < 0)
		return rc;
	if ((rc = site_check_init(cfg, err)) == 0 &&
	    config_conn_find(cfg, name) == NULL)
		rc = ferry_err_set(err, FERRY_ECONFIG, "unknown connection "
		    "'%s': '%s' has no [connection %s] section", name,
		    cfg->path, name);
	config_free(cfg);
	if (rc < 0)
		return rc;
	if (keyfile == NULL && (rc = read_code(codefile, code, err)) < 0)
		goto out;
	if ((rc = site_open(ctx->config_path, &s, err)) < 0)
		goto out;
	if ((cc = config_conn_find(s->cfg, name)) == NULL) {
		rc = ferry_err_set(err, FERRY_ECONFIG, "unknown connection "
		    "'%s': '%s' has no [connection %s] section", name,
		    s->cfg->path, name);
		goto out;
	}
	if (keyfile != NULL) {
		char idbuf[PAIR_CONN_ID_LEN + 1];

		if (conn_id != NULL)
			pair_conn_id(id, idbuf);
		rc = accept_key(s, cc, keyfile, conn_id != NULL ? idbuf :
		    NULL, yes, json, err);
		goto out;
	}
	if ((rc = invite_decode(code, &inv, err)) < 0) {
		rc = FERRY_EREJECT;
		err->code = rc;
		ferry_err_prefix(err, "invitation code refused: ");
		goto out;
	}
	if ((rc = pair_accept(s, cc, &inv, replace, (int64_t)time(NULL), &acc,
	    err)) < 0)
		goto out;
	if (json) {
		cli_print_json(json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:s?}",
		    "connection", cc->name, "connection_id", acc.conn_id,
		    "peer_site", acc.peer_site, "expected_fingerprint_prefix",
		    acc.peer_fpr, "hello", acc.hello, "hello_sent", acc.sent,
		    "hello_waits_because", acc.sent ? NULL : acc.unsent_why));
	} else {
		printf("accepted the invitation for connection '%s' "
		    "(connection id %s) from site %s.\n", cc->name,
		    acc.conn_id, acc.peer_site);
		if (acc.sent)
			printf("The hello with this site's key is on the "
			    "transport.  Run 'ferry run' on the inviting site, "
			    "then here.\n");
		else
			printf("The hello with this site's key waits in the "
			    "state directory (%s); 'ferry run' sends it.\n",
			    acc.unsent_why);
	}
	rc = 0;
out:
	explicit_bzero(code, sizeof(code));
	invite_wipe(&inv);
	site_close(s);
	return rc;
}
