/* crash.c: crash points for the crash suite (see crash.h). */
#include "ferry/common.h"
#include "ferry/crash.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

static int	 crash_state;	/* 0 unread, 1 inactive, 2 active */
static long	 crash_at;	/* kill at this point; 0: never */
static long	 crash_seen;
static const char *crash_log;

static void
crash_setup(void)
{
	const char *at = getenv("FERRY_TEST_CRASH_AT");
	char *end;

	crash_log = getenv("FERRY_TEST_CRASH_LOG");
	if (at != NULL && *at != '\0') {
		errno = 0;
		crash_at = strtol(at, &end, 10);
		if (errno != 0 || *end != '\0' || crash_at < 0)
			crash_at = 0;
	}
	crash_state = (crash_at > 0 || crash_log != NULL) ? 2 : 1;
}

void
ferry_crashpoint(const char *name)
{
	int fd;

	if (crash_state == 0)
		crash_setup();
	if (crash_state == 1)
		return;
	crash_seen++;
	if (crash_log != NULL) {
		fd = open(crash_log, O_WRONLY | O_APPEND | O_CREAT, 0600);
		if (fd != -1) {
			char line[256];
			int n = snprintf(line, sizeof(line), "%ld %s\n",
			    crash_seen, name);
			if (n > 0 && (size_t)n < sizeof(line) &&
			    write(fd, line, (size_t)n) < 0)
				n = 0;
			close(fd);
		}
	}
	if (crash_at > 0 && crash_seen == crash_at)
		raise(SIGKILL);
}
