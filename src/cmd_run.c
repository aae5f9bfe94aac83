/*
 * cmd_run.c: "ferry run": one batch cycle of every connection.
 *
 * In this version the cycle carries what exists of the flow: pairing
 * (hellos), acknowledgements and resends, over the channel (transport.h).
 * Jira export and import come with the sync engine; run says so in its
 * help, its output and its man page, so nobody takes a quiet run for a
 * sync.
 */
#include "ferry/common.h"
#include "ferry/cli.h"
#include "ferry/config.h"
#include "ferry/log.h"
#include "ferry/pair.h"
#include "ferry/site.h"

#include <getopt.h>
#include <jansson.h>
#include <time.h>

FERRY_COMMAND(run, "one batch cycle (this version: pairing, acks and "
    "resends; no Jira sync yet)");

#define USAGE	"usage: ferry [-c CONFIG] [-q] run [--json]"
#define NOTE	"this version of ferry carries pairing, acknowledgements " \
		"and resends; Jira export and import come with the sync " \
		"engine"

static void
print_text(const struct pair_report *r, size_t n)
{
	size_t i;

	printf("ferry run: %s\n", NOTE);
	for (i = 0; i < n; i++) {
		printf("connection '%s'", r[i].name);
		if (r[i].conn_id[0] != '\0')
			printf(" (%s)", r[i].conn_id);
		if (strcmp(r[i].state, "paired") == 0)
			printf(": paired with site %s", r[i].peer_site);
		else if (strcmp(r[i].state, "not-paired") == 0)
			printf(": not paired (run 'ferry invite' or 'ferry "
			    "accept')");
		else if (strcmp(r[i].state, "waiting-for-hello") == 0)
			printf(": invited, waiting for the other site's "
			    "hello");
		else
			printf(": accepted, waiting for the inviting site's "
			    "reply");
		if (r[i].pinned_now)
			printf("; pinned key %s", r[i].peer_fpr);
		if (r[i].hello_sent)
			printf("; sent a hello");
		if (r[i].hellos_rejected > 0)
			printf("; refused %u hello%s", r[i].hellos_rejected,
			    r[i].hellos_rejected == 1 ? "" : "s");
		printf("; fetched %u, acks in %u, acks out %u, sent %u, "
		    "resent %u, removed %u, pruned %u", r[i].fetched,
		    r[i].acks_in, r[i].acks_out, r[i].sent, r[i].resent,
		    r[i].removed, r[i].pruned);
		if (r[i].unavailable)
			printf("; transport unavailable");
		if (r[i].stopped)
			printf("; STOPPED");
		if (r[i].rc < 0)
			printf("; error: %s", ferry_code_name(r[i].rc));
		printf("\n");
	}
}

static void
print_json(const struct pair_report *r, size_t n)
{
	json_t *a = json_array(), *o;
	size_t i;

	for (i = 0; i < n; i++) {
		o = json_pack("{s:s, s:s?, s:s, s:s?, s:s?, s:b, s:b, s:i, "
		    "s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:b, s:b, s:s?}",
		    "connection", r[i].name, "connection_id",
		    r[i].conn_id[0] != '\0' ? r[i].conn_id : NULL,
		    "state", r[i].state,
		    "peer_site", r[i].peer_site[0] != '\0' ? r[i].peer_site :
		    NULL, "peer_fingerprint", r[i].peer_fpr[0] != '\0' ?
		    r[i].peer_fpr : NULL, "pinned_now", r[i].pinned_now,
		    "hello_sent", r[i].hello_sent,
		    "hellos_refused", (int)r[i].hellos_rejected,
		    "fetched", (int)r[i].fetched,
		    "quarantined", (int)r[i].quarantined,
		    "acks_in", (int)r[i].acks_in,
		    "acks_out", (int)r[i].acks_out,
		    "sent", (int)r[i].sent, "resent", (int)r[i].resent,
		    "removed", (int)r[i].removed, "pruned", (int)r[i].pruned,
		    "unavailable", r[i].unavailable, "stopped", r[i].stopped,
		    "error", r[i].rc < 0 ? r[i].msg : NULL);
		json_array_append_new(a, o);
	}
	o = json_pack("{s:s, s:o}", "note", NOTE, "connections", a);
	cli_print_json(o);
}

int
cmd_run(int argc, char **argv, struct ferry_ctx *ctx, struct ferry_err *err)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pair_report *r = NULL;
	struct ferry_err cerr;
	struct site *s = NULL;
	bool json = ctx->json;
	int64_t now;
	size_t i, n = 0;
	int ch, rc, first = 0;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (ch == 'j') {
			json = true;
			continue;
		}
		if (ch == 'h') {
			printf("%s\n\nOne batch cycle of every connection: "
			    "receive, pairing (hellos), acknowledgements,\n"
			    "resends, pruning.\n\nNote: %s.\n\nExit status 75 "
			    "when another run holds the state directory or a "
			    "transport is\nunavailable.  See ferry(1) and "
			    "docs/pairing.md.\n", USAGE, NOTE);
			return 0;
		}
		return ferry_err_set(err, FERRY_EUSAGE, USAGE);
	}
	if (optind != argc)
		return ferry_err_set(err, FERRY_EUSAGE, USAGE);
	if ((rc = site_open(ctx->config_path, &s, err)) < 0)
		return rc;
	now = (int64_t)time(NULL);
	n = s->cfg->nconns;
	r = xcalloc(n > 0 ? n : 1, sizeof(*r));
	/* Each connection on its own: one failing does not stop the rest. */
	for (i = 0; i < n; i++) {
		ferry_err_clear(&cerr);
		rc = pair_run_conn(s, &s->cfg->conns[i], now, &r[i], &cerr);
		if (rc < 0 && first == 0) {
			first = rc;
			*err = cerr;
			ferry_err_prefix(err, "connection '%s': ",
			    s->cfg->conns[i].name);
		} else if (rc < 0) {
			log_error("connection '%s': %s", s->cfg->conns[i].name,
			    cerr.msg);
		}
	}
	if (json)
		print_json(r, n);
	else if (ctx->verbosity >= 0)
		print_text(r, n);
	rc = first;
	free(r);
	site_close(s);
	return rc;
}
