/*
 * jira-probe: drive the Jira client from the command line, for the end
 * to end tests (a test tool, not part of ferry's CLI).
 *
 *	jira-probe [options] COMMAND [ARGS] [+ COMMAND [ARGS]] ...
 *
 * Options: --url URL, --flavor auto|server|cloud, --user NAME, --bearer,
 * --timeout-ms N, --connect-ms N, --budget-ms N, --attempts N,
 * --backoff-ms N, --backoff-max-ms N, --page N, --window N,
 * --meta-page N, --ca-file F, --proxy P, -v.  The secret comes from the
 * environment (JIRA_PROBE_SECRET), never from the command line.
 *
 * The commands run in one process with one client, separated by "+".
 * Each prints one JSON line: {"cmd", "ok", "code", "http", "error",
 * "result"}; a last line carries {"stats", "vmhwm_kb"}.  A JSON argument
 * may be given as @FILE.  Exit status: 0 if every command succeeded.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/file.h"
#include "ferry/jira.h"
#include "ferry/log.h"

#include <fcntl.h>
#include <unistd.h>

struct probe {
	struct jira	*j;
	json_t		*result;	/* the command's result */
};

static json_t *
arg_json(const char *s, struct ferry_err *err)
{
	json_error_t je;
	json_t *v;

	if (s[0] == '@')
		v = json_load_file(s + 1, JSON_DECODE_ANY, &je);
	else
		v = json_loads(s, JSON_DECODE_ANY, &je);
	if (v == NULL)
		ferry_err_set(err, FERRY_EUSAGE, "bad JSON argument: %s",
		    je.text);
	return v;
}

static long
vmhwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	fclose(f);
	return kb;
}

/* Collects pages: counts and items. */
struct collect {
	json_t	*items;		/* all items, or NULL to keep only ids */
	json_t	*ids;
	json_t	*keys;
	json_t	*pages;
	int	 stop_after;	/* stop with an error after n pages (0: no) */
};

static int
on_page(void *arg, const struct jira_page *p, struct ferry_err *err)
{
	struct collect *c = arg;
	json_t *it;
	size_t i;

	json_array_append_new(c->pages, json_pack("{s:I, s:I, s:I, s:b}",
	    "first", (json_int_t)p->first, "count",
	    (json_int_t)json_array_size(p->items), "total",
	    (json_int_t)p->total, "last", p->last));
	json_array_foreach(p->items, i, it) {
		if (c->items != NULL)
			json_array_append(c->items, it);
		if (json_object_get(it, "id") != NULL)
			json_array_append(c->ids, json_object_get(it, "id"));
		if (json_object_get(it, "key") != NULL)
			json_array_append(c->keys, json_object_get(it, "key"));
	}
	if (c->stop_after > 0 &&
	    (int)json_array_size(c->pages) >= c->stop_after)
		return ferry_err_set(err, FERRY_ERR, "stopped by the callback");
	return 0;
}

static json_t *
collect_result(struct collect *c)
{
	json_t *r = json_pack("{s:O, s:O, s:O}", "ids", c->ids, "keys",
	    c->keys, "pages", c->pages);

	if (c->items != NULL)
		json_object_set(r, "items", c->items);
	return r;
}

static void
collect_release(struct collect *c)
{
	json_decref(c->items);
	json_decref(c->ids);
	json_decref(c->keys);
	json_decref(c->pages);
}

static const char **
split_list(const char *s)
{
	const char **v;
	char *copy, *p, *save = NULL;
	size_t n = 1, i = 0;

	for (p = (char *)s; *p != '\0'; p++)
		n += *p == ',';
	v = xcalloc(n + 2, sizeof(*v));
	copy = xstrdup(s);
	v[n + 1] = copy;	/* freed with the list */
	for (p = strtok_r(copy, ",", &save); p != NULL;
	    p = strtok_r(NULL, ",", &save))
		v[i++] = p;
	v[i] = NULL;
	return v;
}

static void
free_list(const char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		;
	/* The copy sits after the NULL terminator's slots. */
	while (v[i] == NULL)
		i++;
	free((void *)v[i]);
	free(v);
}

static enum jira_entity
entity(const char *s)
{
	return strcmp(s, "comment") == 0 ? JIRA_ENTITY_COMMENT :
	    JIRA_ENTITY_ISSUE;
}

static void
comment_from(const json_t *o, struct jira_comment *c)
{
	json_t *vis = json_object_get(o, "visibility");

	memset(c, 0, sizeof(*c));
	c->body = json_string_value(json_object_get(o, "body"));
	c->vis_type = json_string_value(json_object_get(vis, "type"));
	c->vis_value = json_string_value(json_object_get(vis, "value"));
	c->vis_id = json_string_value(json_object_get(vis, "identifier"));
	c->properties = json_object_get(o, "properties");
}

#define NEED(n) do { if (argc < (n)) { \
	rc = ferry_err_set(err, FERRY_EUSAGE, "%s: needs %d arguments", \
	    cmd, (n) - 1); goto out; } } while (0)

/* Run one command (argv[0] is its name). */
static int
run(struct probe *pr, int argc, char **argv, struct ferry_err *err)
{
	struct jira *j = pr->j;
	const char *cmd = argv[0];
	struct collect col;
	json_t *v = NULL, *out = NULL;
	const char **list = NULL, **list2 = NULL;
	int rc = 0, i;

	memset(&col, 0, sizeof(col));
	col.ids = json_array();
	col.keys = json_array();
	col.pages = json_array();
	if (strcmp(cmd, "detect") == 0) {
		const struct jira_server *s;

		if ((rc = jira_detect(j, &s, err)) == 0)
			out = json_pack("{s:s, s:s?, s:[i,i,i], s:s?, s:s?, "
			    "s:I}", "flavor", s->flavor == JIRA_FLAVOR_CLOUD ?
			    "cloud" : "server", "version", s->version,
			    "versionNumbers", s->version_num[0],
			    s->version_num[1], s->version_num[2],
			    "deploymentType", s->deployment_type,
			    "timeZone", s->time_zone, "serverTimeMs",
			    (json_int_t)s->server_time_ms);
	} else if (strcmp(cmd, "flavor") == 0) {
		enum jira_flavor f = jira_flavor(j);

		out = json_string(f == JIRA_FLAVOR_CLOUD ? "cloud" :
		    f == JIRA_FLAVOR_SERVER ? "server" : "auto");
	} else if (strcmp(cmd, "server-time") == 0) {
		int64_t ms;

		if ((rc = jira_server_time(j, &ms, err)) == 0)
			out = json_integer(ms);
	} else if (strcmp(cmd, "myself") == 0) {
		struct jira_user u = JIRA_USER_INIT;

		if ((rc = jira_myself(j, &u, err)) == 0)
			out = json_pack("{s:s?, s:s?, s:s?, s:s?, s:s?, s:s?, "
			    "s:b}", "name", u.name, "key", u.key, "accountId",
			    u.account_id, "displayName", u.display_name,
			    "email", u.email, "timeZone", u.time_zone,
			    "active", u.active);
		jira_user_release(&u);
	} else if (strcmp(cmd, "jql-date") == 0) {
		char d[24];

		NEED(2);
		if (argc > 2)
			rc = jira_jql_date(strtoll(argv[1], NULL, 10), argv[2],
			    d, err);
		else
			rc = jira_jql_date_user(j, strtoll(argv[1], NULL, 10),
			    d, err);
		if (rc == 0)
			out = json_string(d);
	} else if (strcmp(cmd, "time-parse") == 0) {
		int64_t ms;

		NEED(2);
		if ((rc = jira_time_parse(argv[1], &ms, err)) == 0)
			out = json_integer(ms);
	} else if (strcmp(cmd, "permissions") == 0) {
		NEED(2);
		if (argc > 2)
			list = split_list(argv[2]);
		if ((rc = jira_mypermissions(j, argv[1], list, &v, err)) ==
		    0) {
			const char *k;
			json_t *p;

			out = json_object();
			json_object_foreach(v, k, p)
				json_object_set_new(out, k, json_boolean(
				    jira_have_permission(v, k)));
		}
	} else if (strcmp(cmd, "project") == 0) {
		NEED(2);
		rc = jira_project(j, argv[1], &out, err);
	} else if (strcmp(cmd, "statuses") == 0) {
		NEED(2);
		rc = jira_project_statuses(j, argv[1], &out, err);
	} else if (strcmp(cmd, "priorities") == 0) {
		rc = jira_priorities(j, &out, err);
	} else if (strcmp(cmd, "fields") == 0) {
		rc = jira_fields(j, &out, err);
	} else if (strcmp(cmd, "createmeta-types") == 0) {
		NEED(2);
		rc = jira_createmeta_issuetypes(j, argv[1], &out, err);
	} else if (strcmp(cmd, "createmeta-fields") == 0) {
		NEED(3);
		rc = jira_createmeta_fields(j, argv[1], argv[2], &out, err);
	} else if (strcmp(cmd, "search") == 0) {
		struct jira_search q;
		struct jira_search_stats st;
		const char **rec = NULL;

		NEED(2);
		memset(&q, 0, sizeof(q));
		q.jql = argv[1];
		for (i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--changelog") == 0)
				q.changelog = true;
			else if (strcmp(argv[i], "--full") == 0)
				col.items = json_array();
			else if (strcmp(argv[i], "--stop-after") == 0 &&
			    i + 1 < argc)
				col.stop_after = (int)strtol(argv[++i], NULL,
				    10);
			else if (strcmp(argv[i], "--fields") == 0 &&
			    i + 1 < argc)
				q.fields = list = split_list(argv[++i]);
			else if (strcmp(argv[i], "--properties") == 0 &&
			    i + 1 < argc)
				q.properties = list2 = split_list(argv[++i]);
			else if (strcmp(argv[i], "--reconcile") == 0 &&
			    i + 1 < argc)
				q.reconcile = rec = split_list(argv[++i]);
		}
		rc = jira_search(j, &q, on_page, &col, &st, err);
		out = collect_result(&col);
		json_object_set_new(out, "stats", json_pack("{s:i, s:i, s:I, "
		    "s:i}", "calls", st.calls, "pageSize", st.page_size,
		    "issues", (json_int_t)st.issues, "windows", st.windows));
		free_list(rec);
	} else if (strcmp(cmd, "read") == 0) {
		struct jira_search q;

		NEED(2);
		memset(&q, 0, sizeof(q));
		col.items = json_array();
		list = split_list(argv[1]);
		for (i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--changelog") == 0)
				q.changelog = true;
			else if (strcmp(argv[i], "--fields") == 0 &&
			    i + 1 < argc)
				q.fields = list2 = split_list(argv[++i]);
		}
		for (i = 0; list[i] != NULL; i++)
			;
		rc = jira_issues_read(j, list, (size_t)i, &q, on_page, &col,
		    err);
		out = collect_result(&col);
	} else if (strcmp(cmd, "get") == 0) {
		NEED(2);
		rc = jira_issue_get(j, argv[1], argc > 2 ? argv[2] : NULL,
		    argc > 3 ? argv[3] : NULL, argc > 4 ? argv[4] : NULL,
		    &out, err);
	} else if (strcmp(cmd, "create") == 0) {
		struct jira_created c = JIRA_CREATED_INIT;

		NEED(2);
		if ((v = arg_json(argv[1], err)) == NULL) {
			rc = err->code;
			goto out;
		}
		if ((rc = jira_issue_create(j, v, &c, err)) == 0)
			out = json_pack("{s:s, s:s?}", "id", c.id, "key",
			    c.key);
		jira_created_release(&c);
	} else if (strcmp(cmd, "bulk") == 0) {
		NEED(2);
		if ((v = arg_json(argv[1], err)) == NULL) {
			rc = err->code;
			goto out;
		}
		rc = jira_issue_create_bulk(j, v, &out, err);
	} else if (strcmp(cmd, "edit") == 0) {
		NEED(3);
		if ((v = arg_json(argv[2], err)) == NULL) {
			rc = err->code;
			goto out;
		}
		rc = jira_issue_edit(j, argv[1], v, argc > 3 ? argv[3] : NULL,
		    err);
	} else if (strcmp(cmd, "delete") == 0) {
		NEED(2);
		rc = jira_issue_delete(j, argv[1], argc > 2 &&
		    strcmp(argv[2], "subtasks") == 0, err);
	} else if (strcmp(cmd, "changelog") == 0) {
		NEED(2);
		col.items = json_array();
		rc = jira_changelog(j, argv[1], on_page, &col, err);
		out = collect_result(&col);
	} else if (strcmp(cmd, "changelogs") == 0) {
		NEED(2);
		col.items = json_array();
		list = split_list(argv[1]);
		for (i = 0; list[i] != NULL; i++)
			;
		rc = jira_changelogs(j, list, (size_t)i, on_page, &col, err);
		out = collect_result(&col);
	} else if (strcmp(cmd, "transitions") == 0) {
		NEED(2);
		rc = jira_transitions(j, argv[1], argc > 2, &out, err);
	} else if (strcmp(cmd, "transition") == 0) {
		NEED(3);
		if ((v = arg_json(argv[2], err)) == NULL) {
			rc = err->code;
			goto out;
		}
		rc = jira_transition(j, argv[1], v, err);
	} else if (strcmp(cmd, "comments") == 0) {
		NEED(2);
		col.items = json_array();
		rc = jira_comments(j, argv[1], argc > 2 ? argv[2] : NULL,
		    on_page, &col, err);
		out = collect_result(&col);
	} else if (strcmp(cmd, "comment-add") == 0 ||
	    strcmp(cmd, "comment-edit") == 0) {
		struct jira_comment c;
		bool add = strcmp(cmd, "comment-add") == 0;

		NEED(add ? 3 : 4);
		if ((v = arg_json(argv[add ? 2 : 3], err)) == NULL) {
			rc = err->code;
			goto out;
		}
		comment_from(v, &c);
		if (add)
			rc = jira_comment_add(j, argv[1], &c, &out, err);
		else
			rc = jira_comment_edit(j, argv[1], argv[2], &c, &out,
			    err);
	} else if (strcmp(cmd, "comment-delete") == 0) {
		NEED(3);
		rc = jira_comment_delete(j, argv[1], argv[2], err);
	} else if (strcmp(cmd, "att-settings") == 0) {
		bool en;
		int64_t lim;

		if ((rc = jira_attachment_settings(j, &en, &lim, err)) == 0)
			out = json_pack("{s:b, s:I}", "enabled", en,
			    "uploadLimit", (json_int_t)lim);
	} else if (strcmp(cmd, "att-meta") == 0) {
		NEED(2);
		rc = jira_attachment_meta(j, argv[1], &out, err);
	} else if (strcmp(cmd, "download") == 0 ||
	    strcmp(cmd, "download-fd") == 0) {
		int64_t size = 0;
		const char *url = argc > 3 ? argv[3] : NULL;

		NEED(3);
		if (strcmp(cmd, "download") == 0)
			rc = jira_attachment_download_path(j, argv[1], url,
			    argv[2], &size, err);
		else {
			int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC,
			    0600);

			if (fd == -1) {
				rc = ferry_err_sys(err, FERRY_EIO, "open '%s'",
				    argv[2]);
				goto out;
			}
			rc = jira_attachment_download(j, argv[1], url, fd,
			    &size, err);
			close(fd);
		}
		if (rc == 0)
			out = json_pack("{s:I}", "size", (json_int_t)size);
	} else if (strcmp(cmd, "upload") == 0) {
		struct jira_upload *f;
		char *eq;
		int n = argc - 2;

		NEED(3);
		f = xcalloc((size_t)n, sizeof(*f));
		for (i = 0; i < n; i++) {
			/* PATH or PATH=NAME (NAME may hold anything). */
			f[i].path = argv[i + 2];
			if ((eq = strchr(argv[i + 2], '=')) != NULL) {
				*eq = '\0';
				f[i].name = eq + 1;
			}
		}
		rc = jira_attachment_upload(j, argv[1], f, (size_t)n, &out,
		    err);
		free(f);
	} else if (strcmp(cmd, "att-delete") == 0) {
		NEED(2);
		rc = jira_attachment_delete(j, argv[1], err);
	} else if (strcmp(cmd, "prop-get") == 0) {
		NEED(4);
		rc = jira_property_get(j, entity(argv[1]), argv[2], argv[3],
		    &out, err);
	} else if (strcmp(cmd, "prop-keys") == 0) {
		NEED(3);
		rc = jira_property_keys(j, entity(argv[1]), argv[2], &out,
		    err);
	} else if (strcmp(cmd, "prop-set") == 0) {
		NEED(5);
		if ((v = arg_json(argv[4], err)) == NULL) {
			rc = err->code;
			goto out;
		}
		rc = jira_property_set(j, entity(argv[1]), argv[2], argv[3], v,
		    err);
	} else if (strcmp(cmd, "prop-delete") == 0) {
		NEED(4);
		rc = jira_property_delete(j, entity(argv[1]), argv[2],
		    argv[3], err);
	} else if (strcmp(cmd, "links") == 0) {
		NEED(2);
		rc = jira_remotelinks(j, argv[1], argc > 2 ? argv[2] : NULL,
		    &out, err);
	} else if (strcmp(cmd, "link-put") == 0) {
		NEED(3);
		if ((v = arg_json(argv[2], err)) == NULL) {
			rc = err->code;
			goto out;
		}
		rc = jira_remotelink_put(j, argv[1], v, &out, err);
	} else if (strcmp(cmd, "link-delete") == 0) {
		NEED(4);
		rc = jira_remotelink_delete(j, argv[1],
		    strcmp(argv[2], "global") == 0 ? argv[3] : NULL,
		    strcmp(argv[2], "id") == 0 ? argv[3] : NULL, err);
	} else if (strcmp(cmd, "call") == 0) {
		NEED(3);
		if (argc > 3 && (v = arg_json(argv[3], err)) == NULL) {
			rc = err->code;
			goto out;
		}
		rc = jira_call(j, argv[1], argv[2], v, argc > 4 &&
		    strcmp(argv[4], "idempotent") == 0, &out, err);
	} else
		rc = ferry_err_set(err, FERRY_EUSAGE, "unknown command '%s'",
		    cmd);
out:
	pr->result = out;
	collect_release(&col);
	free_list(list);
	free_list(list2);
	json_decref(v);
	return rc;
}

static int
usage(void)
{
	fprintf(stderr, "usage: jira-probe --url URL [options] COMMAND "
	    "[ARGS] [+ COMMAND [ARGS]]...\n");
	return 2;
}

int
main(int argc, char **argv)
{
	struct jira_opts o = JIRA_OPTS_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	struct probe pr = { NULL, NULL };
	struct jira_stats st;
	json_t *line;
	char *s;
	int i, start, rc, failed = 0;

	o.creds.secret = getenv("JIRA_PROBE_SECRET");
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";

		if (strcmp(a, "-v") == 0) {
			log_set_level(LOG_DEBUG);
			continue;
		}
		if (strcmp(a, "--bearer") == 0) {
			o.creds.auth = JIRA_AUTH_BEARER;
			continue;
		}
		i++;
		if (strcmp(a, "--url") == 0)
			o.url = v;
		else if (strcmp(a, "--flavor") == 0)
			o.flavor = strcmp(v, "cloud") == 0 ? JIRA_FLAVOR_CLOUD :
			    strcmp(v, "server") == 0 ? JIRA_FLAVOR_SERVER :
			    JIRA_FLAVOR_AUTO;
		else if (strcmp(a, "--user") == 0)
			o.creds.user = v;
		else if (strcmp(a, "--timeout-ms") == 0)
			o.timeout_ms = strtol(v, NULL, 10);
		else if (strcmp(a, "--connect-ms") == 0)
			o.connect_timeout_ms = strtol(v, NULL, 10);
		else if (strcmp(a, "--budget-ms") == 0)
			o.call_budget_ms = strtol(v, NULL, 10);
		else if (strcmp(a, "--attempts") == 0)
			o.max_attempts = (int)strtol(v, NULL, 10);
		else if (strcmp(a, "--backoff-ms") == 0)
			o.backoff_base_ms = strtol(v, NULL, 10);
		else if (strcmp(a, "--backoff-max-ms") == 0)
			o.backoff_max_ms = strtol(v, NULL, 10);
		else if (strcmp(a, "--page") == 0)
			o.search_page = (int)strtol(v, NULL, 10);
		else if (strcmp(a, "--window") == 0)
			o.search_window = (int)strtol(v, NULL, 10);
		else if (strcmp(a, "--meta-page") == 0)
			o.meta_page = (int)strtol(v, NULL, 10);
		else if (strcmp(a, "--ca-file") == 0)
			o.ca_file = v;
		else if (strcmp(a, "--proxy") == 0)
			o.proxy = v;
		else
			return usage();
	}
	if (i >= argc)
		return usage();
	if ((rc = jira_new(&o, &pr.j, &err)) < 0) {
		line = json_pack("{s:s, s:b, s:s, s:i, s:s}", "cmd", "new",
		    "ok", 0, "code", ferry_code_name(rc), "rc", rc, "error",
		    err.msg);
		s = json_dumps(line, JSON_COMPACT);
		printf("%s\n", s);
		free(s);
		json_decref(line);
		return 1;
	}
	while (i < argc) {
		start = i;
		while (i < argc && strcmp(argv[i], "+") != 0)
			i++;
		ferry_err_clear(&err);
		pr.result = NULL;
		rc = run(&pr, i - start, argv + start, &err);
		line = json_pack("{s:s, s:b}", "cmd", argv[start], "ok",
		    rc == 0);
		if (rc != 0) {
			failed = 1;
			json_object_set_new(line, "code",
			    json_string(ferry_code_name(rc)));
			json_object_set_new(line, "rc", json_integer(rc));
			json_object_set_new(line, "http",
			    json_integer(err.http));
			json_object_set_new(line, "error",
			    json_string(err.msg));
		}
		json_object_set_new(line, "result",
		    pr.result != NULL ? pr.result : json_null());
		s = json_dumps(line, JSON_COMPACT | JSON_ENCODE_ANY);
		printf("%s\n", s);
		fflush(stdout);
		free(s);
		json_decref(line);
		if (i < argc)
			i++;	/* the "+" */
	}
	jira_get_stats(pr.j, &st);
	line = json_pack("{s:{s:i, s:i, s:i, s:I, s:I}, s:i}", "stats",
	    "requests", st.requests, "connects", st.connects, "retries",
	    st.retries, "bytesIn",
	    (json_int_t)st.bytes_in, "bytesOut", (json_int_t)st.bytes_out,
	    "vmhwm_kb", (int)vmhwm_kb());
	s = json_dumps(line, JSON_COMPACT);
	printf("%s\n", s);
	free(s);
	json_decref(line);
	jira_free(pr.j);
	return failed;
}
