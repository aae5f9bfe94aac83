/*
 * jira_attach.c: attachments: settings, metadata, streamed download and
 * upload, delete.  Content never sits in memory: downloads go from the
 * socket to a file, uploads are read from their files while sent.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/file.h"
#include "ferry/jira.h"
#include "ferry/log.h"
#include "jira_int.h"

#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>

int
jira_attachment_settings(struct jira *j, bool *enabled, int64_t *limit,
    struct ferry_err *err)
{
	json_t *ans = NULL;
	int rc;

	*enabled = false;
	*limit = 0;
	if ((rc = jira_json(j, "GET", "/rest/api/2/attachment/meta", NULL,
	    true, "read attachment settings", &ans, err)) < 0)
		goto out;
	*enabled = json_is_true(json_object_get(ans, "enabled"));
	*limit = json_integer_value(json_object_get(ans, "uploadLimit"));
out:
	json_decref(ans);
	return rc;
}

static void
attach_path(struct buf *p, const char *id)
{
	buf_addstr(p, "/rest/api/2/attachment/");
	jira_url_escape(p, id);
}

int
jira_attachment_meta(struct jira *j, const char *attachment_id,
    json_t **out, struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	int rc;

	*out = NULL;
	attach_path(&p, attachment_id);
	rc = jira_json(j, "GET", p.data, NULL, true, "read attachment", out,
	    err);
	buf_release(&p);
	return rc;
}

int
jira_attachment_delete(struct jira *j, const char *attachment_id,
    struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX);
	int rc;

	attach_path(&p, attachment_id);
	rc = jira_json(j, "DELETE", p.data, NULL, true, "delete attachment",
	    NULL, err);
	buf_release(&p);
	return rc;
}

/*
 * The URL to fetch content from.  Jira builds "content" from its own
 * base URL setting, which behind a proxy may differ from the URL ferry
 * was given: a DC content URL on another origin is moved onto ours (at
 * its /secure/attachment/ part), so credentials still go only to the
 * configured origin.
 */
static int
content_url(struct jira *j, const char *id, const char *given,
    struct buf *url, struct ferry_err *err)
{
	struct buf org = BUF_INIT(JIRA_URL_MAX), p = BUF_INIT(JIRA_URL_MAX);
	json_t *meta = NULL;
	const char *c = given, *mark;
	int rc;

	if (c == NULL) {
		if ((rc = jira_need_flavor(j, err)) < 0)
			goto out;
		if (j->flavor == JIRA_FLAVOR_CLOUD) {
			buf_addstr(&p, "/rest/api/3/attachment/content/");
			jira_url_escape(&p, id);
			jira_url_join(url, j->base, p.data, NULL);
			rc = 0;
			goto out;
		}
		if ((rc = jira_attachment_meta(j, id, &meta, err)) < 0)
			goto out;
		if ((c = jira_jstr(meta, "content")) == NULL) {
			rc = ferry_err_set(err, FERRY_ERR, "read attachment "
			    "'%s': no content URL", id);
			goto out;
		}
	}
	if (c[0] == '/') {
		jira_url_join(url, j->base, c, NULL);
	} else if (!jira_url_origin(c, &org)) {
		rc = ferry_err_set(err, FERRY_ERR, "attachment '%s': bad "
		    "content URL", id);
		goto out;
	} else if (strcmp(org.data, j->origin) != 0 &&
	    (mark = strstr(c, "/secure/attachment/")) != NULL) {
		jira_url_join(url, j->base, mark, NULL);
	} else
		buf_addstr(url, c);
	rc = url->over ? ferry_err_set(err, FERRY_ELIMIT, "attachment '%s': "
	    "content URL too long", id) : 0;
out:
	json_decref(meta);
	buf_release(&org);
	buf_release(&p);
	return rc;
}

int
jira_attachment_download(struct jira *j, const char *attachment_id,
    const char *url_in, int fd, int64_t *size, struct ferry_err *err)
{
	struct buf url = BUF_INIT(JIRA_URL_MAX);
	struct jira_req rq = JIRA_REQ_INIT;
	struct jira_resp rs = JIRA_RESP_INIT;
	char what[96];
	int rc;

	if (size != NULL)
		*size = 0;
	snprintf(what, sizeof(what), "download attachment '%.40s'",
	    attachment_id);
	if ((rc = content_url(j, attachment_id, url_in, &url, err)) < 0)
		goto out;
	rq.url = url.data;
	rq.sink_fd = fd;
	rq.follow = true;
	rq.idempotent = true;
	rq.what = what;
	if ((rc = jira_http(j, &rq, &rs, err)) < 0)
		goto out;
	if (size != NULL)
		*size = rs.streamed;
out:
	jira_resp_release(&rs);
	buf_release(&url);
	return rc;
}

int
jira_attachment_download_path(struct jira *j, const char *attachment_id,
    const char *url_in, const char *path, int64_t *size,
    struct ferry_err *err)
{
	struct file_atomic fa = FILE_ATOMIC_INIT;
	char *d = xstrdup(path), *b = xstrdup(path);
	int rc;

	if ((rc = file_atomic_open(&fa, dirname(d), basename(b), 0600,
	    err)) < 0)
		goto out;
	if ((rc = jira_attachment_download(j, attachment_id, url_in, fa.fd,
	    size, err)) < 0)
		goto out;
	rc = file_atomic_commit(&fa, err);
out:
	if (rc < 0)
		file_atomic_abort(&fa);
	free(d);
	free(b);
	return rc;
}

static const char *
base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s != NULL ? s + 1 : path;
}

int
jira_attachment_upload(struct jira *j, const char *id_or_key,
    const struct jira_upload *files, size_t n, json_t **out,
    struct ferry_err *err)
{
	struct buf p = BUF_INIT(JIRA_URL_MAX), cd = BUF_INIT(4096);
	struct jira_req rq = JIRA_REQ_INIT;
	struct jira_resp rs = JIRA_RESP_INIT;
	struct curl_slist *h;
	curl_mime *mime = NULL;
	curl_mimepart *part;
	struct stat st;
	size_t i;
	int rc;

	*out = NULL;
	if (n == 0 || n > JIRA_UPLOAD_MAX_FILES) {
		rc = ferry_err_set(err, FERRY_ELIMIT, "upload: %zu files (1 "
		    "to %d in one request)", n, JIRA_UPLOAD_MAX_FILES);
		goto out;
	}
	mime = curl_mime_init(j->curl);
	for (i = 0; i < n; i++) {
		/* curl would only notice a missing file while sending. */
		if (stat(files[i].path, &st) == -1 || !S_ISREG(st.st_mode) ||
		    access(files[i].path, R_OK) == -1) {
			rc = ferry_err_sys(err, FERRY_EIO, "upload: cannot "
			    "read '%s'", files[i].path);
			goto out;
		}
		part = curl_mime_addpart(mime);
		buf_reset(&cd);
		buf_addstr(&cd, "Content-Disposition: ");
		/* Every part is named "file" [DC addAttachment]. */
		jira_disposition(&cd, "file", files[i].name != NULL ?
		    files[i].name : base_name(files[i].path));
		if (cd.over) {
			rc = ferry_err_set(err, FERRY_ELIMIT, "upload: file "
			    "name too long");
			goto out;
		}
		h = curl_slist_append(NULL, cd.data);
		if (h == NULL || curl_mime_filedata(part, files[i].path) !=
		    CURLE_OK || curl_mime_type(part, files[i].mime_type ?
		    files[i].mime_type : "application/octet-stream") !=
		    CURLE_OK || curl_mime_headers(part, h, 1) != CURLE_OK) {
			curl_slist_free_all(h);
			rc = ferry_err_set(err, FERRY_ERR, "upload: cannot "
			    "build the request for '%s'", files[i].path);
			goto out;
		}
	}
	buf_addstr(&p, "/rest/api/2/issue/");
	jira_url_escape(&p, id_or_key);
	buf_addstr(&p, "/attachments");
	rq.method = "POST";
	rq.path = p.data;
	rq.mime = mime;
	rq.idempotent = false;
	rq.what = "upload attachments";
	if ((rc = jira_http(j, &rq, &rs, err)) < 0)
		goto out;
	if (!json_is_array(rs.json)) {
		rc = ferry_err_set(err, FERRY_EINDOUBT, "upload attachments: "
		    "the answer is not a list");
		goto out;
	}
	*out = rs.json;
	rs.json = NULL;
	rc = 0;
out:
	jira_resp_release(&rs);
	curl_mime_free(mime);
	buf_release(&p);
	buf_release(&cd);
	return rc;
}
