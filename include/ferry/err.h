/*
 * err.h: how a ferry function reports failure.
 *
 * A function that can fail returns int: 0, or a negative FERRY_E* code,
 * and fills the struct ferry_err that is its last argument.  The code
 * tells the caller what to do next; the message tells the operator what
 * happened.  The caller owns the struct: there is nothing to free.
 * Codes are appended, never renumbered.
 */
#ifndef FERRY_ERR_H
#define FERRY_ERR_H

enum ferry_code {
	FERRY_OK = 0,
	FERRY_ERR = -1,		/* no better code; see the message */
	FERRY_EIO = -2,		/* local files; errno in err->sys */
	FERRY_ECONFIG = -3,	/* the operator must fix the config */
	FERRY_ERETRY = -4,	/* try later: timeout, 429, 5xx */
	FERRY_EREFUSED = -5,	/* Jira refused this operation: park it */
	FERRY_EWAIT = -6,	/* needs something not synced yet */
	FERRY_EREJECT = -7,	/* bad bundle: quarantine, apply nothing */
	FERRY_ELIMIT = -8,	/* input over a configured limit */
	FERRY_EAUTH = -9,	/* Jira refused the credentials: stop */
	FERRY_EUNAVAIL = -10,	/* transport unavailable: keep, retry */
	FERRY_ELOCKED = -11,	/* another run holds the state directory */
	FERRY_EINDOUBT = -12,	/* a write's outcome is unknown: look up */
	FERRY_ENOTFOUND = -13,	/* the thing asked for does not exist */
	FERRY_EFORK = -14,	/* sequence fork or restore: connection stops */
	FERRY_EVERSION = -15,	/* written by a newer ferry or format */
	FERRY_EUSAGE = -16,	/* bad command line */
};

#define FERRY_ERR_MSG_MAX 512

struct ferry_err {
	int	 code;
	int	 sys;		/* errno, or 0 */
	long	 http;		/* HTTP status, or 0 */
	char	 msg[FERRY_ERR_MSG_MAX];
};

#define FERRY_ERR_INIT { 0, 0, 0, { 0 } }

/* Clear err to "no error". */
void ferry_err_clear(struct ferry_err *err);

/* Set code and message; returns code.  err may be NULL. */
int ferry_err_set(struct ferry_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As ferry_err_set, appending ": strerror(errno)" and keeping errno. */
int ferry_err_sys(struct ferry_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* As ferry_err_set, recording an HTTP status. */
int ferry_err_http(struct ferry_err *err, int code, long http,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Put context in front of the message; keeps code; returns err->code. */
int ferry_err_prefix(struct ferry_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A short, stable name for a code ("retry", "reject", ...). */
const char *ferry_code_name(int code);

/* The sysexits(3) status for a code (0 for FERRY_OK). */
int ferry_exit_status(int code);

#endif
