/*
 * jira_issue.c: issues, changelog, transitions, comments, entity
 * properties and remote links.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/jira.h"
#include "ferry/log.h"
#include "jira_int.h"

/* "/rest/api/2/issue/<escaped id>" + suffix into p. */
static void
issue_path(struct buf *p, const char *id_or_key, const char *suffix)
{
	buf_addstr(p, "/rest/api/2/issue/");
	jira_url_escape(p, id_or_key);
	if (suffix != NULL)
		buf_addstr(p, suffix);
}

static void
add_param(struct buf *p, const char *name, const char *value)
{
	if (value == NULL)
		return;
	buf_addch(p, strchr(p->data, '?') != NULL ? '&' : '?');
	buf_addstr(p, name);
	buf_addch(p, '=');
	jira_url_escape(p, value);
}

static int
path_over(const struct buf *p, const char *what, struct ferry_err *err)
{
	if (p->over)
		return ferry_err_set(err, FERRY_ELIMIT, "%s: URL too long",
		    what);
	return 0;
}

int
jira_issue_get(struct jira *j, const char *id_or_key, const char *fields,
    const char *expand, const char *properties, json_t **out,
    struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	int rc;

	*out = NULL;
	issue_path(&p, id_or_key, NULL);
	add_param(&p, "fields", fields);
	add_param(&p, "expand", expand);
	add_param(&p, "properties", properties);
	if ((rc = path_over(&p, "read issue", err)) == 0)
		rc = jira_json(j, "GET", p.data, NULL, true, "read issue", out,
		    err);
	buf_release(&p);
	return rc;
}

void
jira_created_release(struct jira_created *c)
{
	FREE_AND_NULL(c->id);
	FREE_AND_NULL(c->key);
}

int
jira_issue_create(struct jira *j, const json_t *body,
    struct jira_created *out, struct ferry_err *err)
{
	json_t *ans = NULL;
	int rc;

	out->id = out->key = NULL;
	if ((rc = jira_json(j, "POST", "/rest/api/2/issue", body, false,
	    "create issue", &ans, err)) < 0)
		goto out;
	out->id = jira_jdup(ans, "id");
	out->key = jira_jdup(ans, "key");
	if (out->id == NULL) {
		jira_created_release(out);
		/* 2xx without an id: it may exist; do not create again. */
		rc = ferry_err_set(err, FERRY_EINDOUBT, "create issue: the "
		    "answer carries no id");
		goto out;
	}
	rc = 0;
out:
	json_decref(ans);
	return rc;
}

int
jira_issue_create_bulk(struct jira *j, const json_t *issues, json_t **out,
    struct ferry_err *err)
{
	json_t *res, *created, *errors, *body = NULL, *chunk, *ans = NULL;
	json_t *e, *v;
	size_t n = json_array_size(issues), off, k, i;
	int rc = 0, crc;
	struct ferry_err cerr = FERRY_ERR_INIT;

	*out = NULL;
	res = json_pack("{s:[], s:[]}", "issues", "errors");
	created = json_object_get(res, "issues");
	errors = json_object_get(res, "errors");
	for (off = 0; off < n; off += JIRA_BULK_MAX) {
		chunk = json_array();
		for (k = off; k < n && k < off + JIRA_BULK_MAX; k++)
			json_array_append(chunk, json_array_get(issues, k));
		json_decref(body);
		body = json_pack("{s:o}", "issueUpdates", chunk);
		json_decref(ans);
		ans = NULL;
		ferry_err_clear(&cerr);
		crc = jira_json_ex(j, "POST", "/rest/api/2/issue/bulk", body,
		    false, true, "create issues in bulk", &ans, &cerr);
		if (crc < 0 && !(crc == FERRY_EREFUSED && cerr.http == 400 &&
		    json_is_array(json_object_get(ans, "errors")))) {
			*err = cerr;
			rc = crc;
			if (rc == FERRY_EINDOUBT && off > 0)
				ferry_err_prefix(err, "issues %zu-%zu: ", off,
				    k - 1);
			goto out;
		}
		json_array_extend(created, json_object_get(ans, "issues"));
		json_array_foreach(json_object_get(ans, "errors"), i, e) {
			v = json_deep_copy(e);
			json_object_set_new(v, "failedElementNumber",
			    json_integer(json_integer_value(json_object_get(e,
			    "failedElementNumber")) + (json_int_t)off));
			json_array_append_new(errors, v);
		}
		/* All of a chunk failed (400): keep its message. */
		if (crc < 0)
			*err = cerr;
	}
	if (json_array_size(created) == 0 && n > 0) {
		if (err->code == 0)
			ferry_err_set(err, FERRY_EREFUSED, "create issues in "
			    "bulk: none was created");
		err->code = FERRY_EREFUSED;
		rc = FERRY_EREFUSED;
	} else {
		ferry_err_clear(err);
		rc = 0;
	}
out:
	*out = res;
	json_decref(body);
	json_decref(ans);
	return rc;
}

/* An update that adds a comment or worklog is not safe to repeat. */
static bool
edit_repeatable(const json_t *body)
{
	json_t *upd = json_object_get(body, "update");

	return json_object_get(upd, "comment") == NULL &&
	    json_object_get(upd, "worklog") == NULL;
}

int
jira_issue_edit(struct jira *j, const char *id_or_key, const json_t *body,
    const char *query, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	int rc;

	issue_path(&p, id_or_key, NULL);
	if (query != NULL && query[0] != '\0') {
		buf_addch(&p, '?');
		buf_addstr(&p, query);
	}
	if ((rc = path_over(&p, "edit issue", err)) == 0)
		rc = jira_json(j, "PUT", p.data, body, edit_repeatable(body),
		    "edit issue", NULL, err);
	buf_release(&p);
	return rc;
}

int
jira_issue_delete(struct jira *j, const char *id_or_key, bool subtasks,
    struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	int rc;

	issue_path(&p, id_or_key, subtasks ? "?deleteSubtasks=true" : NULL);
	if ((rc = path_over(&p, "delete issue", err)) == 0)
		rc = jira_json(j, "DELETE", p.data, NULL, true,
		    "delete issue", NULL, err);
	buf_release(&p);
	return rc;
}

/*
 * Page through a startAt/maxResults listing under list_key ("values",
 * "comments", "histories"), handing each page to fn.
 */
static int
paged(struct jira *j, const char *path, const char *list_key,
    const char *what, jira_page_fn *fn, void *arg, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	struct jira_page page;
	json_t *ans = NULL, *items;
	int64_t start = 0, total;
	size_t n;
	int rc;

	for (;;) {
		buf_reset(&p);
		buf_addf(&p, "%s%sstartAt=%" PRId64 "&maxResults=%d", path,
		    strchr(path, '?') ? "&" : "?", start, j->meta_page);
		json_decref(ans);
		ans = NULL;
		if ((rc = path_over(&p, what, err)) < 0 ||
		    (rc = jira_json(j, "GET", p.data, NULL, true, what, &ans,
		    err)) < 0)
			goto out;
		items = json_object_get(ans, list_key);
		if (!json_is_array(items)) {
			rc = ferry_err_set(err, FERRY_ERR, "%s: no %s in the "
			    "answer", what, list_key);
			goto out;
		}
		n = json_array_size(items);
		total = json_object_get(ans, "total") != NULL ?
		    json_integer_value(json_object_get(ans, "total")) : -1;
		page.items = items;
		page.first = (size_t)start;
		page.total = total;
		start += (int64_t)n;
		page.last = n == 0 ||
		    json_is_true(json_object_get(ans, "isLast")) ||
		    (total >= 0 && start >= total) ||
		    (total < 0 && json_object_get(ans, "isLast") == NULL);
		if ((rc = fn(arg, &page, err)) < 0)
			goto out;
		if (page.last)
			break;
	}
	rc = 0;
out:
	json_decref(ans);
	buf_release(&p);
	return rc;
}

int
jira_changelog(struct jira *j, const char *id_or_key, jira_page_fn *fn,
    void *arg, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	struct jira_page page;
	json_t *issue = NULL, *cl, *h;
	int rc;

	if ((rc = jira_need_flavor(j, err)) < 0)
		goto out;
	if (j->flavor == JIRA_FLAVOR_CLOUD) {
		buf_addstr(&p, "/rest/api/3/issue/");
		jira_url_escape(&p, id_or_key);
		buf_addstr(&p, "/changelog");
		rc = paged(j, p.data, "values", "read changelog", fn, arg,
		    err);
		goto out;
	}
	/* DC has no changelog endpoint; the issue carries it whole. */
	issue_path(&p, id_or_key, "?fields=none&expand=changelog");
	if ((rc = jira_json(j, "GET", p.data, NULL, true, "read changelog",
	    &issue, err)) < 0)
		goto out;
	cl = json_object_get(issue, "changelog");
	h = json_object_get(cl, "histories");
	if (!json_is_array(h)) {
		rc = ferry_err_set(err, FERRY_ERR, "read changelog: no "
		    "histories in the answer");
		goto out;
	}
	page.items = h;
	page.first = 0;
	page.total = (int64_t)json_array_size(h);
	page.last = true;
	rc = fn(arg, &page, err);
out:
	json_decref(issue);
	buf_release(&p);
	return rc;
}

/* DC: one issue's histories wrapped as a bulkfetch item. */
struct wrap {
	const char	*id;
	jira_page_fn	*fn;
	void		*arg;
	size_t		 first;
	bool		 final;		/* the last issue */
};

static int
wrap_page(void *arg, const struct jira_page *p, struct ferry_err *err)
{
	struct wrap *w = arg;
	struct jira_page page;
	json_t *items;
	int rc;

	items = json_pack("[{s:s, s:O}]", "issueId", w->id,
	    "changeHistories", p->items);
	page.items = items;
	page.first = w->first++;
	page.total = -1;
	page.last = w->final && p->last;
	rc = w->fn(w->arg, &page, err);
	json_decref(items);
	return rc;
}

int
jira_changelogs(struct jira *j, const char *const *ids, size_t n,
    jira_page_fn *fn, void *arg, struct ferry_err *err)
{
	struct jira_page page;
	struct wrap w;
	json_t *body = NULL, *ans = NULL, *chunk, *items;
	const char *t;
	char *token = NULL;
	size_t off, k, first = 0;
	int rc = 0;

	if ((rc = jira_need_flavor(j, err)) < 0)
		return rc;
	if (j->flavor != JIRA_FLAVOR_CLOUD) {
		w.fn = fn;
		w.arg = arg;
		w.first = 0;
		for (k = 0; k < n; k++) {
			w.id = ids[k];
			w.final = k + 1 == n;
			if ((rc = jira_changelog(j, ids[k], wrap_page, &w,
			    err)) < 0)
				return rc;
		}
		return 0;
	}
	for (off = 0; off < n; off += JIRA_CHANGELOG_BULK_MAX) {
		for (;;) {
			chunk = json_array();
			for (k = off; k < n && k < off +
			    JIRA_CHANGELOG_BULK_MAX; k++)
				json_array_append_new(chunk,
				    json_string(ids[k]));
			json_decref(body);
			body = json_pack("{s:o, s:i}", "issueIdsOrKeys", chunk,
			    "maxResults", 10000);
			if (token != NULL)
				json_object_set_new(body, "nextPageToken",
				    json_string(token));
			json_decref(ans);
			ans = NULL;
			if ((rc = jira_json(j, "POST",
			    "/rest/api/3/changelog/bulkfetch", body, true,
			    "read changelogs", &ans, err)) < 0)
				goto out;
			items = json_object_get(ans, "issueChangeLogs");
			if (!json_is_array(items)) {
				rc = ferry_err_set(err, FERRY_ERR, "read "
				    "changelogs: no issueChangeLogs");
				goto out;
			}
			free(token);
			token = NULL;
			if ((t = jira_jstr(ans, "nextPageToken")) != NULL &&
			    t[0] != '\0')
				token = xstrdup(t);
			page.items = items;
			page.first = first;
			page.total = -1;
			page.last = token == NULL && off +
			    JIRA_CHANGELOG_BULK_MAX >= n;
			first += json_array_size(items);
			if ((rc = fn(arg, &page, err)) < 0)
				goto out;
			if (token == NULL)
				break;
		}
	}
	rc = 0;
out:
	free(token);
	json_decref(body);
	json_decref(ans);
	return rc;
}

int
jira_transitions(struct jira *j, const char *id_or_key, bool fields,
    json_t **out, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	json_t *ans = NULL, *t;
	int rc;

	*out = NULL;
	issue_path(&p, id_or_key, fields ?
	    "/transitions?expand=transitions.fields" : "/transitions");
	if ((rc = path_over(&p, "read transitions", err)) < 0 ||
	    (rc = jira_json(j, "GET", p.data, NULL, true, "read transitions",
	    &ans, err)) < 0)
		goto out;
	t = json_object_get(ans, "transitions");
	if (!json_is_array(t)) {
		rc = ferry_err_set(err, FERRY_ERR, "read transitions: no list");
		goto out;
	}
	*out = json_incref(t);
	rc = 0;
out:
	json_decref(ans);
	buf_release(&p);
	return rc;
}

int
jira_transition(struct jira *j, const char *id_or_key, const json_t *body,
    struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	int rc;

	issue_path(&p, id_or_key, "/transitions");
	if ((rc = path_over(&p, "transition issue", err)) == 0)
		rc = jira_json(j, "POST", p.data, body, false,
		    "transition issue", NULL, err);
	buf_release(&p);
	return rc;
}

int
jira_comments(struct jira *j, const char *id_or_key, const char *expand,
    jira_page_fn *fn, void *arg, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	int rc;

	issue_path(&p, id_or_key, "/comment?orderBy=created");
	add_param(&p, "expand", expand);
	rc = paged(j, p.data, "comments", "read comments", fn, arg, err);
	buf_release(&p);
	return rc;
}

static json_t *
comment_body(const struct jira_comment *c)
{
	json_t *b = json_pack("{s:s}", "body", c->body ? c->body : "");
	json_t *v;

	if (c->vis_type != NULL) {
		v = json_pack("{s:s, s:s}", "type", c->vis_type, "value",
		    c->vis_value ? c->vis_value : "");
		if (c->vis_id != NULL)
			json_object_set_new(v, "identifier",
			    json_string(c->vis_id));
		json_object_set_new(b, "visibility", v);
	}
	if (c->properties != NULL)
		json_object_set_new(b, "properties",
		    json_deep_copy(c->properties));
	return b;
}

int
jira_comment_add(struct jira *j, const char *id_or_key,
    const struct jira_comment *c, json_t **out, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	json_t *b = comment_body(c);
	int rc;

	issue_path(&p, id_or_key, "/comment");
	if ((rc = path_over(&p, "add comment", err)) == 0)
		rc = jira_json(j, "POST", p.data, b, false, "add comment",
		    out, err);
	json_decref(b);
	buf_release(&p);
	return rc;
}

int
jira_comment_edit(struct jira *j, const char *id_or_key,
    const char *comment_id, const struct jira_comment *c, json_t **out,
    struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	json_t *b = comment_body(c);
	int rc;

	issue_path(&p, id_or_key, "/comment/");
	jira_url_escape(&p, comment_id);
	if ((rc = path_over(&p, "edit comment", err)) == 0)
		rc = jira_json(j, "PUT", p.data, b, true, "edit comment", out,
		    err);
	json_decref(b);
	buf_release(&p);
	return rc;
}

int
jira_comment_delete(struct jira *j, const char *id_or_key,
    const char *comment_id, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	int rc;

	issue_path(&p, id_or_key, "/comment/");
	jira_url_escape(&p, comment_id);
	if ((rc = path_over(&p, "delete comment", err)) == 0)
		rc = jira_json(j, "DELETE", p.data, NULL, true,
		    "delete comment", NULL, err);
	buf_release(&p);
	return rc;
}

static void
prop_path(struct buf *p, enum jira_entity e, const char *id, const char *key)
{
	buf_addstr(p, e == JIRA_ENTITY_ISSUE ? "/rest/api/2/issue/" :
	    "/rest/api/2/comment/");
	jira_url_escape(p, id);
	buf_addstr(p, "/properties");
	if (key != NULL) {
		buf_addch(p, '/');
		jira_url_escape(p, key);
	}
}

int
jira_property_get(struct jira *j, enum jira_entity e, const char *id,
    const char *key, json_t **out, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	json_t *ans = NULL, *v;
	int rc;

	*out = NULL;
	prop_path(&p, e, id, key);
	if ((rc = path_over(&p, "read property", err)) < 0 ||
	    (rc = jira_json(j, "GET", p.data, NULL, true, "read property",
	    &ans, err)) < 0)
		goto out;
	if ((v = json_object_get(ans, "value")) == NULL) {
		rc = ferry_err_set(err, FERRY_ERR, "read property: no value");
		goto out;
	}
	*out = json_incref(v);
	rc = 0;
out:
	json_decref(ans);
	buf_release(&p);
	return rc;
}

int
jira_property_keys(struct jira *j, enum jira_entity e, const char *id,
    json_t **out, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	json_t *ans = NULL, *k;
	int rc;

	*out = NULL;
	prop_path(&p, e, id, NULL);
	if ((rc = path_over(&p, "list properties", err)) < 0 ||
	    (rc = jira_json(j, "GET", p.data, NULL, true, "list properties",
	    &ans, err)) < 0)
		goto out;
	k = json_object_get(ans, "keys");
	*out = json_is_array(k) ? json_incref(k) : json_array();
	rc = 0;
out:
	json_decref(ans);
	buf_release(&p);
	return rc;
}

int
jira_property_set(struct jira *j, enum jira_entity e, const char *id,
    const char *key, const json_t *value, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	int rc;

	prop_path(&p, e, id, key);
	if ((rc = path_over(&p, "set property", err)) == 0)
		rc = jira_json(j, "PUT", p.data, value, true, "set property",
		    NULL, err);
	buf_release(&p);
	return rc;
}

int
jira_property_delete(struct jira *j, enum jira_entity e, const char *id,
    const char *key, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	int rc;

	prop_path(&p, e, id, key);
	if ((rc = path_over(&p, "delete property", err)) == 0)
		rc = jira_json(j, "DELETE", p.data, NULL, true,
		    "delete property", NULL, err);
	buf_release(&p);
	return rc;
}

int
jira_remotelinks(struct jira *j, const char *id_or_key,
    const char *global_id, json_t **out, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	int rc;

	*out = NULL;
	issue_path(&p, id_or_key, "/remotelink");
	add_param(&p, "globalId", global_id);
	if ((rc = path_over(&p, "read remote links", err)) == 0)
		rc = jira_json(j, "GET", p.data, NULL, true,
		    "read remote links", out, err);
	buf_release(&p);
	return rc;
}

int
jira_remotelink_put(struct jira *j, const char *id_or_key,
    const json_t *body, json_t **out, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	bool upsert = jira_jstr(body, "globalId") != NULL;
	int rc;

	if (out != NULL)
		*out = NULL;
	issue_path(&p, id_or_key, "/remotelink");
	/* With a globalId the POST is an upsert: safe to repeat. */
	if ((rc = path_over(&p, "put remote link", err)) == 0)
		rc = jira_json(j, "POST", p.data, body, upsert,
		    "put remote link", out, err);
	buf_release(&p);
	return rc;
}

int
jira_remotelink_delete(struct jira *j, const char *id_or_key,
    const char *global_id, const char *link_id, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	int rc;

	issue_path(&p, id_or_key, "/remotelink");
	if (global_id != NULL)
		add_param(&p, "globalId", global_id);
	else if (link_id != NULL) {
		buf_addch(&p, '/');
		jira_url_escape(&p, link_id);
	} else {
		buf_release(&p);
		return ferry_err_set(err, FERRY_ERR, "delete remote link: "
		    "no globalId or link id");
	}
	if ((rc = path_over(&p, "delete remote link", err)) == 0)
		rc = jira_json(j, "DELETE", p.data, NULL, true,
		    "delete remote link", NULL, err);
	buf_release(&p);
	return rc;
}
