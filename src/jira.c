/*
 * jira.c: server detection, identity, permissions and project metadata.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/jira.h"
#include "ferry/log.h"
#include "jira_int.h"

/* The permissions ferry uses (Cloud wants them named). */
static const char *const ferry_permissions[] = {
	"BROWSE_PROJECTS", "CREATE_ISSUES", "EDIT_ISSUES", "DELETE_ISSUES",
	"TRANSITION_ISSUES", "ADD_COMMENTS", "EDIT_OWN_COMMENTS",
	"EDIT_ALL_COMMENTS", "DELETE_OWN_COMMENTS", "DELETE_ALL_COMMENTS",
	"CREATE_ATTACHMENTS", "DELETE_OWN_ATTACHMENTS",
	"DELETE_ALL_ATTACHMENTS", "LINK_ISSUES", "MODIFY_REPORTER",
	"ADMINISTER_PROJECTS", NULL
};

static void
parse_version(const char *v, int num[3])
{
	int i;
	char *end;

	num[0] = num[1] = num[2] = 0;
	for (i = 0; i < 3 && v != NULL && *v != '\0'; i++) {
		num[i] = (int)strtol(v, &end, 10);
		if (end == v || *end != '.')
			break;
		v = end + 1;
	}
}

static int
server_info(struct jira *j, json_t **out, struct ferry_err *err)
{
	return jira_json(j, "GET", "/rest/api/2/serverInfo", NULL, true,
	    "read serverInfo", out, err);
}

int
jira_detect(struct jira *j, const struct jira_server **out,
    struct ferry_err *err)
{
	struct jira_server *s = &j->server;
	json_t *info = NULL, *vn;
	const char *dt, *st;
	int rc;

	if (out != NULL)
		*out = NULL;
	if ((rc = server_info(j, &info, err)) < 0)
		goto out;
	if (!json_is_object(info)) {
		rc = ferry_err_set(err, FERRY_ERETRY, "read serverInfo: not "
		    "a JSON object: is the URL a Jira?");
		goto out;
	}
	free(s->version);
	free(s->deployment_type);
	free(s->server_title);
	free(s->time_zone);
	s->version = jira_jdup(info, "version");
	s->deployment_type = jira_jdup(info, "deploymentType");
	s->server_title = jira_jdup(info, "serverTitle");
	s->time_zone = jira_jdup(info, "serverTimeZone");
	parse_version(s->version, s->version_num);
	vn = json_object_get(info, "versionNumbers");
	if (json_is_array(vn) && json_array_size(vn) >= 3) {
		size_t i;

		for (i = 0; i < 3; i++)
			s->version_num[i] = (int)json_integer_value(
			    json_array_get(vn, i));
	}
	s->server_time_ms = 0;
	if ((st = jira_jstr(info, "serverTime")) != NULL)
		jira_time_parse(st, &s->server_time_ms, NULL);
	/* Cloud's deploymentType "is always returned as Cloud" [C3]. */
	dt = s->deployment_type;
	s->flavor = dt != NULL && strcasecmp(dt, "Cloud") == 0 ?
	    JIRA_FLAVOR_CLOUD : JIRA_FLAVOR_SERVER;
	if (j->flavor_fixed) {
		if (s->flavor != j->flavor)
			log_warn("jira: configured as %s but serverInfo says "
			    "%s; keeping the configuration",
			    j->flavor == JIRA_FLAVOR_CLOUD ? "Cloud" : "Server",
			    dt ? dt : "(none)");
		s->flavor = j->flavor;
	} else
		j->flavor = s->flavor;
	j->detected = true;
	log_debug("jira: %s %s (%s)", s->flavor == JIRA_FLAVOR_CLOUD ?
	    "Cloud" : "Server", s->version ? s->version : "?",
	    dt ? dt : "no deploymentType");
	if (out != NULL)
		*out = s;
	rc = 0;
out:
	json_decref(info);
	return rc;
}

enum jira_flavor
jira_flavor(const struct jira *j)
{
	return j->flavor;
}

int
jira_need_flavor(struct jira *j, struct ferry_err *err)
{
	if (j->flavor != JIRA_FLAVOR_AUTO)
		return 0;
	return jira_detect(j, NULL, err);
}

void
jira_forget_flavor(struct jira *j)
{
	if (j->flavor_fixed)
		return;
	j->flavor = JIRA_FLAVOR_AUTO;
	j->detected = false;
}

int
jira_server_time(struct jira *j, int64_t *ms, struct ferry_err *err)
{
	json_t *info = NULL;
	const char *st;
	int rc;

	*ms = 0;
	if ((rc = server_info(j, &info, err)) < 0)
		goto out;
	if ((st = jira_jstr(info, "serverTime")) == NULL) {
		rc = ferry_err_set(err, FERRY_ERR, "read serverInfo: no "
		    "serverTime");
		goto out;
	}
	rc = jira_time_parse(st, ms, err);
out:
	json_decref(info);
	return rc;
}

void
jira_user_release(struct jira_user *u)
{
	FREE_AND_NULL(u->name);
	FREE_AND_NULL(u->key);
	FREE_AND_NULL(u->account_id);
	FREE_AND_NULL(u->display_name);
	FREE_AND_NULL(u->email);
	FREE_AND_NULL(u->time_zone);
	u->active = false;
}

int
jira_myself(struct jira *j, struct jira_user *out, struct ferry_err *err)
{
	json_t *me = NULL;
	int rc;

	if ((rc = jira_json(j, "GET", "/rest/api/2/myself", NULL, true,
	    "read myself", &me, err)) < 0)
		goto out;
	if (!json_is_object(me)) {
		rc = ferry_err_set(err, FERRY_ERR, "read myself: not an "
		    "object");
		goto out;
	}
	out->name = jira_jdup(me, "name");
	out->key = jira_jdup(me, "key");
	out->account_id = jira_jdup(me, "accountId");
	out->display_name = jira_jdup(me, "displayName");
	out->email = jira_jdup(me, "emailAddress");
	out->time_zone = jira_jdup(me, "timeZone");
	out->active = json_is_true(json_object_get(me, "active"));
	free(j->user_tz);
	j->user_tz = out->time_zone ? xstrdup(out->time_zone) : NULL;
	rc = 0;
out:
	json_decref(me);
	return rc;
}

int
jira_jql_date_user(struct jira *j, int64_t ms, char out[24],
    struct ferry_err *err)
{
	if (j->user_tz == NULL)
		return ferry_err_set(err, FERRY_ERR, "the sync user's time "
		    "zone is not known yet (read myself first)");
	return jira_jql_date(ms, j->user_tz, out, err);
}

int
jira_mypermissions(struct jira *j, const char *project,
    const char *const *keys, json_t **out, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	json_t *ans = NULL, *perms;
	const char *const *k;
	bool digits;
	int rc;

	*out = NULL;
	if ((rc = jira_need_flavor(j, err)) < 0)
		goto out;
	buf_addstr(&p, "/rest/api/2/mypermissions?");
	digits = project[0] != '\0' &&
	    strspn(project, "0123456789") == strlen(project);
	buf_addstr(&p, digits ? "projectId=" : "projectKey=");
	jira_url_escape(&p, project);
	if (keys == NULL && j->flavor == JIRA_FLAVOR_CLOUD)
		keys = ferry_permissions;
	if (keys != NULL) {
		buf_addstr(&p, "&permissions=");
		for (k = keys; *k != NULL; k++) {
			if (k != keys)
				buf_addstr(&p, "%2C");
			jira_url_escape(&p, *k);
		}
	}
	if ((rc = jira_json(j, "GET", p.data, NULL, true,
	    "read my permissions", &ans, err)) < 0)
		goto out;
	perms = json_object_get(ans, "permissions");
	if (!json_is_object(perms)) {
		rc = ferry_err_set(err, FERRY_ERR, "read my permissions: no "
		    "permissions object");
		goto out;
	}
	*out = json_incref(perms);
	rc = 0;
out:
	json_decref(ans);
	buf_release(&p);
	return rc;
}

bool
jira_have_permission(const json_t *perms, const char *key)
{
	json_t *p = json_object_get(perms, key);

	return json_is_true(json_object_get(p, "havePermission"));
}

/* GET path+escaped(arg)+suffix into *out. */
static int
get_with(struct jira *j, const char *path, const char *arg,
    const char *suffix, const char *what, json_t **out,
    struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	int rc;

	*out = NULL;
	buf_addstr(&p, path);
	if (arg != NULL)
		jira_url_escape(&p, arg);
	if (suffix != NULL)
		buf_addstr(&p, suffix);
	rc = jira_json(j, "GET", p.data, NULL, true, what, out, err);
	buf_release(&p);
	return rc;
}

int
jira_project(struct jira *j, const char *project, json_t **out,
    struct ferry_err *err)
{
	return get_with(j, "/rest/api/2/project/", project, NULL,
	    "read project", out, err);
}

int
jira_project_statuses(struct jira *j, const char *project, json_t **out,
    struct ferry_err *err)
{
	return get_with(j, "/rest/api/2/project/", project, "/statuses",
	    "read project statuses", out, err);
}

int
jira_priorities(struct jira *j, json_t **out, struct ferry_err *err)
{
	return get_with(j, "/rest/api/2/priority", NULL, NULL,
	    "read priorities", out, err);
}

int
jira_fields(struct jira *j, json_t **out, struct ferry_err *err)
{
	return get_with(j, "/rest/api/2/field", NULL, NULL, "read fields",
	    out, err);
}

/*
 * Read every page of a createmeta listing.  DC 9 answers {values, isLast,
 * total}; Cloud {issueTypes|fields, total, startAt, maxResults}: take
 * whichever array is there and page on startAt until a short or last page.
 */
static int
createmeta_pages(struct jira *j, const char *path, const char *cloud_key,
    const char *what, json_t **out, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	json_t *all = json_array(), *page = NULL, *items;
	int64_t start = 0, total;
	size_t n;
	int rc;

	*out = NULL;
	for (;;) {
		buf_reset(&p);
		buf_addf(&p, "%s?startAt=%" PRId64 "&maxResults=%d", path,
		    start, j->meta_page);
		json_decref(page);
		page = NULL;
		if ((rc = jira_json(j, "GET", p.data, NULL, true, what, &page,
		    err)) < 0)
			goto out;
		items = json_object_get(page, "values");
		if (!json_is_array(items))
			items = json_object_get(page, cloud_key);
		if (!json_is_array(items)) {
			rc = ferry_err_set(err, FERRY_ERR, "%s: no list in "
			    "the answer", what);
			goto out;
		}
		n = json_array_size(items);
		json_array_extend(all, items);
		start += (int64_t)n;
		total = json_integer_value(json_object_get(page, "total"));
		if (n == 0 || json_is_true(json_object_get(page, "isLast")) ||
		    (json_object_get(page, "total") != NULL && start >= total))
			break;
	}
	*out = all;
	all = NULL;
	rc = 0;
out:
	json_decref(page);
	json_decref(all);
	buf_release(&p);
	return rc;
}

int
jira_createmeta_from_legacy(const json_t *ans, const char *issuetype_id,
    json_t **out, struct ferry_err *err)
{
	json_t *types, *t, *res, *f, *bean, *v;
	const char *k;
	size_t i;

	*out = NULL;
	types = json_object_get(json_array_get(json_object_get(ans,
	    "projects"), 0), "issuetypes");
	if (!json_is_array(types))
		return ferry_err_set(err, FERRY_ENOTFOUND, "read createmeta: "
		    "no such project, or no permission to create in it");
	res = json_array();
	json_array_foreach(types, i, t) {
		if (issuetype_id == NULL) {
			bean = json_deep_copy(t);
			json_object_del(bean, "fields");
			json_object_del(bean, "expand");
			json_array_append_new(res, bean);
			continue;
		}
		if (jira_jstr(t, "id") == NULL ||
		    strcmp(jira_jstr(t, "id"), issuetype_id) != 0)
			continue;
		f = json_object_get(t, "fields");
		json_object_foreach(f, k, v) {
			bean = json_deep_copy(v);
			json_object_set_new(bean, "fieldId", json_string(k));
			json_array_append_new(res, bean);
		}
		*out = res;
		return 0;
	}
	if (issuetype_id != NULL) {
		json_decref(res);
		return ferry_err_set(err, FERRY_ENOTFOUND, "read createmeta: "
		    "no issue type '%s' in the project", issuetype_id);
	}
	*out = res;
	return 0;
}

/*
 * Jira before 8.4 has only the legacy createmeta (removed in 9.0): used
 * when the new endpoint is not there on such a server.
 */
static bool
want_legacy(struct jira *j, int rc, const struct ferry_err *err)
{
	if (rc != FERRY_ENOTFOUND || err->http != 404)
		return false;
	if (!j->detected && jira_detect(j, NULL, NULL) < 0)
		return false;
	return j->flavor == JIRA_FLAVOR_SERVER &&
	    j->server.version_num[0] > 0 && (j->server.version_num[0] < 8 ||
	    (j->server.version_num[0] == 8 && j->server.version_num[1] < 4));
}

static int
createmeta_legacy(struct jira *j, const char *project, const char *type_id,
    json_t **out, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	json_t *ans = NULL;
	int rc;

	buf_addstr(&p, strspn(project, "0123456789") == strlen(project) ?
	    "/rest/api/2/issue/createmeta?projectIds=" :
	    "/rest/api/2/issue/createmeta?projectKeys=");
	jira_url_escape(&p, project);
	if (type_id != NULL) {
		buf_addstr(&p, "&issuetypeIds=");
		jira_url_escape(&p, type_id);
		buf_addstr(&p, "&expand=projects.issuetypes.fields");
	}
	if ((rc = jira_json(j, "GET", p.data, NULL, true,
	    "read createmeta (legacy)", &ans, err)) == 0)
		rc = jira_createmeta_from_legacy(ans, type_id, out, err);
	json_decref(ans);
	buf_release(&p);
	return rc;
}

int
jira_createmeta_issuetypes(struct jira *j, const char *project,
    json_t **out, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	int rc;

	buf_addstr(&p, "/rest/api/2/issue/createmeta/");
	jira_url_escape(&p, project);
	buf_addstr(&p, "/issuetypes");
	rc = createmeta_pages(j, p.data, "issueTypes",
	    "read createmeta issue types", out, err);
	if (want_legacy(j, rc, err))
		rc = createmeta_legacy(j, project, NULL, out, err);
	buf_release(&p);
	return rc;
}

int
jira_createmeta_fields(struct jira *j, const char *project,
    const char *issuetype_id, json_t **out, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	int rc;

	buf_addstr(&p, "/rest/api/2/issue/createmeta/");
	jira_url_escape(&p, project);
	buf_addstr(&p, "/issuetypes/");
	jira_url_escape(&p, issuetype_id);
	rc = createmeta_pages(j, p.data, "fields", "read createmeta fields",
	    out, err);
	if (want_legacy(j, rc, err))
		rc = createmeta_legacy(j, project, issuetype_id, out, err);
	buf_release(&p);
	return rc;
}
