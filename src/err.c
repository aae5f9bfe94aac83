/* err.c: filling struct ferry_err, and the code -> exit status table. */
#include "ferry/common.h"

#include <sysexits.h>

void
ferry_err_clear(struct ferry_err *err)
{
	if (err == NULL)
		return;
	err->code = 0;
	err->sys = 0;
	err->http = 0;
	err->msg[0] = '\0';
}

static void err_vset(struct ferry_err *, int, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
err_vset(struct ferry_err *err, int code, const char *fmt, va_list ap)
{
	int n;

	err->code = code;
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (n < 0)
		err->msg[0] = '\0';
	/* A longer message is cut; the start says what failed first. */
}

int
ferry_err_set(struct ferry_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->sys = 0;
	err->http = 0;
	va_start(ap, fmt);
	err_vset(err, code, fmt, ap);
	va_end(ap);
	return code;
}

int
ferry_err_sys(struct ferry_err *err, int code, const char *fmt, ...)
{
	int saved = errno;
	size_t len;
	va_list ap;

	if (err == NULL)
		return code;
	err->http = 0;
	va_start(ap, fmt);
	err_vset(err, code, fmt, ap);
	va_end(ap);
	err->sys = saved;
	len = strlen(err->msg);
	if (len < sizeof(err->msg))
		snprintf(err->msg + len, sizeof(err->msg) - len, ": %s",
		    strerror(saved));
	errno = saved;
	return code;
}

int
ferry_err_http(struct ferry_err *err, int code, long http,
    const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return code;
	err->sys = 0;
	va_start(ap, fmt);
	err_vset(err, code, fmt, ap);
	va_end(ap);
	err->http = http;
	return code;
}

int
ferry_err_prefix(struct ferry_err *err, const char *fmt, ...)
{
	char old[FERRY_ERR_MSG_MAX];
	size_t len;
	va_list ap;
	int n;

	if (err == NULL)
		return FERRY_ERR;
	memcpy(old, err->msg, sizeof(old));
	va_start(ap, fmt);
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	len = (size_t)n < sizeof(err->msg) ? (size_t)n : sizeof(err->msg) - 1;
	snprintf(err->msg + len, sizeof(err->msg) - len, "%s", old);
	return err->code;
}

static const struct {
	int		 code;
	const char	*name;
	int		 status;
} codes[] = {
	{ FERRY_OK, "ok", EX_OK },
	{ FERRY_ERR, "error", 1 },
	{ FERRY_EIO, "io", EX_IOERR },
	{ FERRY_ECONFIG, "config", EX_CONFIG },
	{ FERRY_ERETRY, "retry", EX_TEMPFAIL },
	{ FERRY_EREFUSED, "refused", 1 },
	{ FERRY_EWAIT, "wait", EX_TEMPFAIL },
	{ FERRY_EREJECT, "reject", EX_DATAERR },
	{ FERRY_ELIMIT, "limit", EX_DATAERR },
	{ FERRY_EAUTH, "auth", EX_NOPERM },
	{ FERRY_EUNAVAIL, "unavailable", EX_TEMPFAIL },
	{ FERRY_ELOCKED, "locked", EX_TEMPFAIL },
	{ FERRY_EINDOUBT, "in-doubt", EX_TEMPFAIL },
	{ FERRY_ENOTFOUND, "not-found", EX_NOINPUT },
	{ FERRY_EFORK, "fork", EX_DATAERR },
	{ FERRY_EVERSION, "version", EX_DATAERR },
	{ FERRY_EUSAGE, "usage", EX_USAGE },
};

const char *
ferry_code_name(int code)
{
	size_t i;

	for (i = 0; i < FERRY_ARRAY_SIZE(codes); i++)
		if (codes[i].code == code)
			return codes[i].name;
	return "error";
}

int
ferry_exit_status(int code)
{
	size_t i;

	for (i = 0; i < FERRY_ARRAY_SIZE(codes); i++)
		if (codes[i].code == code)
			return codes[i].status;
	return 1;
}
