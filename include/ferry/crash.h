/*
 * crash.h: named crash points for the crash suite.
 *
 * CRASHPOINT("apply.comment.after-post") marks an instant where a kill
 * must be survivable.  With FERRY_TEST_CRASH_AT=N in the environment the
 * Nth crash point reached kills the process with SIGKILL (no atexit, no
 * flush: as a power cut would).  With FERRY_TEST_CRASH_LOG=FILE each
 * point reached appends its name to FILE, so a test can count them.
 * Without either variable a crash point costs one branch.
 */
#ifndef FERRY_CRASH_H
#define FERRY_CRASH_H

void ferry_crashpoint(const char *name);

#define CRASHPOINT(name) ferry_crashpoint(name)

#endif
