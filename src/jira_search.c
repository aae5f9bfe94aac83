/*
 * jira_search.c: JQL search, page by page: Data Center's startAt/total
 * search with a moving bound past the result window, Cloud's enhanced
 * search with nextPageToken.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/jira.h"
#include "ferry/log.h"
#include "jira_int.h"

#include <ctype.h>

#define JQL_MAX		(64u * 1024)

static bool
has_order_by(const char *jql)
{
	const char *p;

	for (p = jql; *p != '\0'; p++)
		if (strncasecmp(p, "order", 5) == 0 &&
		    (p == jql || isspace((unsigned char)p[-1]) ||
		    p[-1] == ')')) {
			const char *q = p + 5;

			while (isspace((unsigned char)*q))
				q++;
			if (strncasecmp(q, "by", 2) == 0 &&
			    (isspace((unsigned char)q[2]) || q[2] == '\0'))
				return true;
		}
	return false;
}

static json_t *
str_array(const char *const *v, const char *extra)
{
	json_t *a = json_array();
	const char *const *p;
	bool have = extra == NULL;

	for (p = v; p != NULL && *p != NULL; p++) {
		json_array_append_new(a, json_string(*p));
		if (extra != NULL && strcmp(*p, extra) == 0)
			have = true;
	}
	if (!have && v != NULL)
		json_array_append_new(a, json_string(extra));
	return a;
}

/* Ids handed over at the current bound instant (few: one millisecond). */
struct idset {
	char	**v;
	size_t	  n, cap;
};

static bool
idset_has(const struct idset *s, const char *id)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->v[i], id) == 0)
			return true;
	return false;
}

static void
idset_add(struct idset *s, const char *id)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	s->v[s->n++] = xstrdup(id);
}

static void
idset_clear(struct idset *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	s->n = 0;
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static int64_t
issue_updated(const json_t *issue)
{
	const char *s = jira_jstr(json_object_get(issue, "fields"), "updated");
	int64_t ms;

	if (s == NULL || jira_time_parse(s, &ms, NULL) < 0)
		return INT64_MIN;
	return ms;
}

static int
search_dc(struct jira *j, const struct jira_search *q, jira_page_fn *fn,
    void *arg, struct jira_search_stats *st, struct ferry_err *err)
{
	struct buf jql = BUF_INIT(JQL_MAX);
	struct idset at_bound = { NULL, 0, 0 };
	json_t *body = NULL, *ans = NULL, *issues, *keep = NULL, *it;
	struct jira_page page;
	int64_t start = 0, total = -1, first_total = -1, delivered = 0;
	int64_t bound = INT64_MIN, max_upd = INT64_MIN, upd;	/* seconds */
	int ask, page_size, rc;
	size_t n, i;
	const char *id;

	ask = j->search_page > 0 ? j->search_page : JIRA_DC_PAGE_ASK;
	page_size = ask;
	for (;;) {
		if (start >= j->search_window) {
			/*
			 * Deep paging fails past the window: start again at
			 * 0 with a bound at the last second handed over.
			 * Jira compares dates in whole seconds (its index
			 * drops the milliseconds), so the bound is a second
			 * and the issues of that second already handed over
			 * are skipped.
			 */
			if (max_upd == INT64_MIN || max_upd == bound) {
				rc = ferry_err_set(err, FERRY_ELIMIT, "search: "
				    "more than %d issues were updated within "
				    "one second; cannot page past the result "
				    "window",
				    j->search_window);
				goto out;
			}
			bound = max_upd;
			start = 0;
			st->windows++;
			log_debug("jira: search window %d crossed: "
			    "updated >= %" PRId64, st->windows, bound * 1000);
		}
		buf_reset(&jql);
		if (bound != INT64_MIN)
			buf_addf(&jql, "(%s) AND updated >= %" PRId64, q->jql,
			    bound * 1000);
		else if (q->jql[0] != '\0')
			buf_addf(&jql, "%s", q->jql);
		buf_addstr(&jql, " ORDER BY updated ASC, key ASC");
		if (jql.over) {
			rc = ferry_err_set(err, FERRY_ELIMIT, "search: JQL "
			    "too long");
			goto out;
		}
		json_decref(body);
		body = json_pack("{s:s, s:I, s:i}", "jql", jql.data,
		    "startAt", (json_int_t)start, "maxResults",
		    start + ask > j->search_window ?
		    (int)(j->search_window - start) : ask);
		json_object_set_new(body, "fields",
		    q->fields != NULL ? str_array(q->fields, "updated") :
		    json_pack("[s, s]", "*navigable", "updated"));
		if (q->changelog)
			json_object_set_new(body, "expand",
			    json_pack("[s]", "changelog"));
		if (q->properties != NULL)
			json_object_set_new(body, "properties",
			    str_array(q->properties, NULL));
		json_decref(ans);
		ans = NULL;
		st->calls++;
		if ((rc = jira_json(j, "POST", "/rest/api/2/search", body, true,
		    "search", &ans, err)) < 0)
			goto out;
		issues = json_object_get(ans, "issues");
		if (!json_is_array(issues)) {
			rc = ferry_err_set(err, FERRY_ERR, "search: no issues "
			    "in the answer");
			goto out;
		}
		n = json_array_size(issues);
		total = json_integer_value(json_object_get(ans, "total"));
		if (first_total < 0)
			first_total = total;
		/* Read the page size back: the server may cap it. */
		if (json_integer_value(json_object_get(ans, "maxResults")) > 0)
			page_size = (int)json_integer_value(
			    json_object_get(ans, "maxResults"));
		st->page_size = page_size;
		json_decref(keep);
		keep = json_array();
		json_array_foreach(issues, i, it) {
			id = jira_jstr(it, "id");
			/* In whole seconds, as Jira compares them. */
			upd = issue_updated(it);
			if (upd != INT64_MIN)
				upd = floor_div(upd, 1000);
			if (bound != INT64_MIN && upd == bound && id != NULL &&
			    idset_has(&at_bound, id))
				continue;
			if (upd > max_upd) {
				max_upd = upd;
				idset_clear(&at_bound);
			}
			if (upd == max_upd && id != NULL)
				idset_add(&at_bound, id);
			json_array_append(keep, it);
		}
		start += (int64_t)n;
		page.items = keep;
		page.first = (size_t)delivered;
		page.total = first_total;
		page.last = n == 0 || (total >= 0 && start >= total);
		delivered += (int64_t)json_array_size(keep);
		st->issues = delivered;
		if (json_array_size(keep) > 0 || page.last || delivered == 0)
			if ((rc = fn(arg, &page, err)) < 0)
				goto out;
		if (page.last)
			break;
	}
	rc = 0;
out:
	idset_clear(&at_bound);
	free(at_bound.v);
	json_decref(keep);
	json_decref(body);
	json_decref(ans);
	buf_release(&jql);
	return rc;
}

static int
search_cloud(struct jira *j, const struct jira_search *q, jira_page_fn *fn,
    void *arg, struct jira_search_stats *st, struct ferry_err *err)
{
	struct buf jql = BUF_INIT(JQL_MAX);
	json_t *body = NULL, *ans = NULL, *issues, *rec;
	struct jira_page page;
	char *token = NULL;
	const char *t;
	const char *const *p;
	int64_t delivered = 0;
	int ask, rc;
	size_t n;

	ask = j->search_page > 0 ? j->search_page : JIRA_CLOUD_PAGE_ASK;
	if (q->jql[0] != '\0')
		buf_addf(&jql, "%s", q->jql);
	buf_addstr(&jql, " ORDER BY updated ASC, key ASC");
	if (jql.over) {
		rc = ferry_err_set(err, FERRY_ELIMIT, "search: JQL too long");
		goto out;
	}
	for (;;) {
		json_decref(body);
		body = json_pack("{s:s, s:i}", "jql", jql.data, "maxResults",
		    ask);
		/* The enhanced search returns only ids unless asked. */
		json_object_set_new(body, "fields", q->fields != NULL ?
		    str_array(q->fields, "updated") :
		    json_pack("[s]", "*navigable"));
		if (q->changelog)
			json_object_set_new(body, "expand",
			    json_string("changelog"));
		if (q->properties != NULL)
			json_object_set_new(body, "properties",
			    str_array(q->properties, NULL));
		if (q->reconcile != NULL) {
			/* Must be the same on every page. */
			rec = json_array();
			for (p = q->reconcile; *p != NULL; p++)
				json_array_append_new(rec, json_integer(
				    strtoll(*p, NULL, 10)));
			json_object_set_new(body, "reconcileIssues", rec);
		}
		if (token != NULL)
			json_object_set_new(body, "nextPageToken",
			    json_string(token));
		json_decref(ans);
		ans = NULL;
		st->calls++;
		if ((rc = jira_json(j, "POST", "/rest/api/3/search/jql", body,
		    true, "search", &ans, err)) < 0)
			goto out;
		issues = json_object_get(ans, "issues");
		if (!json_is_array(issues)) {
			rc = ferry_err_set(err, FERRY_ERR, "search: no issues "
			    "in the answer");
			goto out;
		}
		n = json_array_size(issues);
		if (st->page_size == 0 || (int)n > st->page_size)
			st->page_size = (int)n;
		free(token);
		token = NULL;
		if ((t = jira_jstr(ans, "nextPageToken")) != NULL &&
		    t[0] != '\0')
			token = xstrdup(t);
		page.items = issues;
		page.first = (size_t)delivered;
		page.total = -1;
		page.last = token == NULL ||
		    json_is_true(json_object_get(ans, "isLast"));
		delivered += (int64_t)n;
		st->issues = delivered;
		if ((rc = fn(arg, &page, err)) < 0)
			goto out;
		if (page.last)
			break;
	}
	rc = 0;
out:
	free(token);
	json_decref(body);
	json_decref(ans);
	buf_release(&jql);
	return rc;
}

int
jira_search(struct jira *j, const struct jira_search *q, jira_page_fn *fn,
    void *arg, struct jira_search_stats *stats, struct ferry_err *err)
{
	struct jira_search_stats local;
	struct jira_search_stats *st = stats != NULL ? stats : &local;
	enum jira_flavor before;
	int rc, tries;

	memset(st, 0, sizeof(*st));
	if (q->jql == NULL || has_order_by(q->jql))
		return ferry_err_set(err, FERRY_ERR, "search: the JQL must "
		    "not carry ORDER BY (the client orders by updated, key)");
	for (tries = 0; ; tries++) {
		if ((rc = jira_need_flavor(j, err)) < 0)
			return rc;
		before = j->flavor;
		if (j->flavor == JIRA_FLAVOR_CLOUD)
			rc = search_cloud(j, q, fn, arg, st, err);
		else
			rc = search_dc(j, q, fn, arg, st, err);
		/*
		 * 404/410 from the search endpoint: the site may have been
		 * upgraded or moved to Cloud (which removed the old search):
		 * probe again, once, if nothing was handed over yet.
		 */
		if (rc == FERRY_ENOTFOUND && st->issues == 0 && tries == 0 &&
		    !j->flavor_fixed &&
		    (err->http == 404 || err->http == 410)) {
			jira_forget_flavor(j);
			if (jira_detect(j, NULL, NULL) == 0 &&
			    j->flavor != before) {
				log_info("jira: the server is now %s; "
				    "searching again", j->flavor ==
				    JIRA_FLAVOR_CLOUD ? "Cloud" : "Server");
				memset(st, 0, sizeof(*st));
				continue;
			}
		}
		return rc;
	}
}

/* A numeric id or an issue key: nothing else may go into the JQL. */
static bool
id_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= 64 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

static int
collect(void *arg, const struct jira_page *p, struct ferry_err *err)
{
	(void)err;
	json_array_extend(arg, p->items);
	return 0;
}

static void
add_csv(struct buf *b, const char *const *v)
{
	const char *const *p;

	for (p = v; p != NULL && *p != NULL; p++) {
		if (p != v)
			buf_addch(b, ',');
		buf_addstr(b, *p);
	}
}

/* Data Center, one chunk: a search, or one GET each if Jira refuses it. */
static int
read_dc(struct jira *j, const char *const *ids, size_t n,
    const struct jira_search *q, json_t *got, struct ferry_err *err)
{
	struct buf jql = BUF_INIT(JQL_MAX), f = BUF_INIT(4096);
	struct buf p = BUF_INIT(4096);
	struct jira_search sq = *q;
	json_t *one = NULL;
	size_t k;
	int rc;

	buf_addstr(&jql, "issuekey in (");
	for (k = 0; k < n; k++)
		buf_addf(&jql, "%s%s", k ? ", " : "", ids[k]);
	buf_addch(&jql, ')');
	sq.jql = jql.data;
	sq.reconcile = NULL;
	rc = jira_search(j, &sq, collect, got, NULL, err);
	if (rc != FERRY_EREFUSED || err->http != 400)
		goto out;
	/* A key or id that no longer exists makes the whole JQL invalid. */
	log_debug("jira: read issues: %s; one by one", err->msg);
	json_array_clear(got);
	if (q->fields != NULL)
		add_csv(&f, q->fields);
	add_csv(&p, q->properties);
	for (k = 0; k < n; k++) {
		rc = jira_issue_get(j, ids[k], q->fields ? f.data : NULL,
		    q->changelog ? "changelog" : NULL,
		    q->properties ? p.data : NULL, &one, err);
		if (rc == FERRY_ENOTFOUND)
			continue;
		if (rc < 0)
			goto out;
		json_array_append_new(got, one);
		one = NULL;
	}
	ferry_err_clear(err);
	rc = 0;
out:
	buf_release(&jql);
	buf_release(&f);
	buf_release(&p);
	return rc;
}

int
jira_issues_read(struct jira *j, const char *const *ids, size_t n,
    const struct jira_search *q, jira_page_fn *fn, void *arg,
    struct ferry_err *err)
{
	json_t *body = NULL, *ans = NULL, *got = NULL, *chunk;
	struct jira_page page;
	size_t off, end, k, first = 0;
	int rc;

	for (k = 0; k < n; k++)
		if (!id_ok(ids[k]))
			return ferry_err_set(err, FERRY_ERR, "read issues: "
			    "'%.64s' is not an issue id or key", ids[k]);
	if ((rc = jira_need_flavor(j, err)) < 0)
		return rc;
	for (off = 0; off < n; off = end) {
		end = n - off > JIRA_BULKFETCH_MAX ? off + JIRA_BULKFETCH_MAX :
		    n;
		json_decref(got);
		got = json_array();
		if (j->flavor != JIRA_FLAVOR_CLOUD) {
			if ((rc = read_dc(j, ids + off, end - off, q, got,
			    err)) < 0)
				goto out;
		} else {
			chunk = json_array();
			for (k = off; k < end; k++)
				json_array_append_new(chunk,
				    json_string(ids[k]));
			json_decref(body);
			body = json_pack("{s:o, s:o}", "issueIdsOrKeys", chunk,
			    "fields", q->fields != NULL ?
			    str_array(q->fields, NULL) :
			    json_pack("[s]", "*navigable"));
			if (q->changelog)
				json_object_set_new(body, "expand",
				    json_pack("[s]", "changelog"));
			if (q->properties != NULL)
				json_object_set_new(body, "properties",
				    str_array(q->properties, NULL));
			json_decref(ans);
			ans = NULL;
			if ((rc = jira_json(j, "POST",
			    "/rest/api/3/issue/bulkfetch", body, true,
			    "read issues", &ans, err)) < 0)
				goto out;
			if (!json_is_array(json_object_get(ans, "issues"))) {
				rc = ferry_err_set(err, FERRY_ERR, "read "
				    "issues: no issues in the answer");
				goto out;
			}
			json_array_extend(got, json_object_get(ans, "issues"));
		}
		page.items = got;
		page.first = first;
		page.total = -1;
		page.last = end == n;
		first += json_array_size(got);
		if ((rc = fn(arg, &page, err)) < 0)
			goto out;
	}
	rc = 0;
out:
	json_decref(got);
	json_decref(body);
	json_decref(ans);
	return rc;
}
