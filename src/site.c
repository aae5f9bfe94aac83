/*
 * site.c: open this site for a command (see site.h).
 */
#include "ferry/common.h"
#include "ferry/config.h"
#include "ferry/crypto.h"
#include "ferry/file.h"
#include "ferry/lock.h"
#include "ferry/log.h"
#include "ferry/pair.h"
#include "ferry/site.h"
#include "ferry/store.h"

#include <sys/stat.h>

int
site_check_conn(const char *path, const struct config_conn *cc,
    const char *sync_user, const struct store_conn *sc, bool *update,
    struct ferry_err *err)
{
	bool same_project = strcmp(cc->project, sc->project) == 0;
	bool same_user = strcmp(sync_user, sc->sync_user) == 0;

	*update = false;
	if (same_project && same_user)
		return 0;
	if (sc->peer_fpr == NULL) {
		/* Not paired yet: nothing on the other side depends on it. */
		*update = true;
		return 0;
	}
	if (!same_project)
		return ferry_err_set(err, FERRY_ECONFIG, "%s: connection '%s' "
		    "is paired for project '%s', but the configuration now "
		    "says project = %s; the project of a paired connection "
		    "cannot change: set project = %s again (or pair a new "
		    "connection for project '%s')", path, cc->name,
		    sc->project, cc->project, sc->project, cc->project);
	return ferry_err_set(err, FERRY_ECONFIG, "%s: connection '%s' is "
	    "paired with sync user '%s', but the configuration now says "
	    "user = %s; the sync user of a paired connection cannot change "
	    "(the other site's records name it): set user = %s again",
	    path, cc->name, sc->sync_user, sync_user, sc->sync_user);
}

/* The site row: made on first open, from the site key. */
static int
site_row(struct site *s, struct ferry_err *err)
{
	struct store_site row, mine;
	int rc;

	rc = store_site_get(s->store, &row, err);
	if (rc == 0) {
		snprintf(s->site_id, sizeof(s->site_id), "%s", row.site_id);
		if (row.key_fpr != NULL && strcasecmp(row.key_fpr, s->fpr) !=
		    0)
			log_warn("the site key %s is not the key %s the "
			    "database recorded", s->fpr, row.key_fpr);
		store_site_release(&row);
		return 0;
	}
	if (rc != FERRY_ENOTFOUND)
		return rc;
	pair_site_id(s->fpr, s->site_id);
	mine.site_id = s->site_id;
	mine.name = s->cfg->site.name;
	mine.key_fpr = s->fpr;
	if ((rc = store_begin(s->store, err)) < 0)
		return rc;
	if ((rc = store_site_set(s->store, &mine, err)) < 0 ||
	    (rc = store_commit(s->store, err)) < 0) {
		store_rollback(s->store);
		return rc;
	}
	return 0;
}

static int
check_conns(struct site *s, struct ferry_err *err)
{
	const struct config *cfg = s->cfg;
	struct store_conn sc;
	bool update;
	size_t i;
	int rc = 0;

	for (i = 0; i < cfg->nconns && rc == 0; i++) {
		rc = store_conn_get(s->store, cfg->conns[i].name, &sc, err);
		if (rc == FERRY_ENOTFOUND) {
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		rc = site_check_conn(cfg->path, &cfg->conns[i], cfg->jira.user,
		    &sc, &update, err);
		if (rc == 0 && update) {
			if ((rc = store_begin(s->store, err)) == 0 &&
			    (rc = store_conn_set_local(s->store, sc.id,
			    cfg->conns[i].project, cfg->jira.user, err)) == 0)
				rc = store_commit(s->store, err);
			if (rc < 0)
				store_rollback(s->store);
		}
		store_conn_release(&sc);
	}
	return rc;
}

int
site_check_init(const struct config *cfg, struct ferry_err *err)
{
	struct stat st;
	char *gnupg = file_join(cfg->site.state_dir, "gnupg");
	int rc = 0;

	if (stat(cfg->site.state_dir, &st) == -1 || !S_ISDIR(st.st_mode) ||
	    stat(gnupg, &st) == -1)
		rc = ferry_err_set(err, FERRY_ECONFIG, "site '%s' is not "
		    "initialised: state directory '%s' has no site key; run "
		    "'ferry init' first", cfg->site.name, cfg->site.state_dir);
	free(gnupg);
	return rc;
}

int
site_open(const char *config_path, struct site **out, struct ferry_err *err)
{
	struct site *s = xcalloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if ((rc = config_load(config_path, &s->cfg, err)) < 0)
		goto out;
	s->state_dir = s->cfg->site.state_dir;
	s->gnupg = file_join(s->state_dir, "gnupg");
	s->tmp = file_join(s->state_dir, "tmp");
	s->pairdir = file_join(s->state_dir, "pairing");
	if ((rc = site_check_init(s->cfg, err)) < 0)
		goto out;
	if ((rc = lock_acquire(s->state_dir, s->cfg->site.allow_network_fs,
	    &s->lock, NULL, err)) < 0)
		goto out;
	if ((rc = crypto_open(s->gnupg, &s->crypto, err)) < 0)
		goto out;
	rc = crypto_site_key(s->crypto, s->fpr, err);
	if (rc == FERRY_ENOTFOUND) {
		rc = ferry_err_set(err, FERRY_ECONFIG, "site '%s' is not "
		    "initialised: no site key in '%s'; run 'ferry init' first",
		    s->cfg->site.name, s->gnupg);
		goto out;
	}
	if (rc < 0)
		goto out;
	if ((rc = file_mkdirs(s->tmp, 0700, err)) < 0 ||
	    (rc = file_mkdirs(s->pairdir, 0700, err)) < 0)
		goto out;
	if ((rc = store_open(s->state_dir, &s->store, err)) < 0 ||
	    (rc = site_row(s, err)) < 0 ||
	    (rc = check_conns(s, err)) < 0)
		goto out;
	*out = s;
	s = NULL;
	rc = 0;
out:
	site_close(s);
	return rc;
}

void
site_close(struct site *s)
{
	if (s == NULL)
		return;
	store_close(s->store);
	crypto_free(s->crypto);
	lock_release(s->lock);
	config_free(s->cfg);
	free(s->gnupg);
	free(s->tmp);
	free(s->pairdir);
	free(s);
}
