/*
 * common.h: included first by every ferry source file.
 *
 * It pulls in the standard headers nearly every module needs, names the
 * project-wide constants, and bans the C library calls that overflow or
 * hide errors (the list follows git's banned.h).
 */
#ifndef FERRY_COMMON_H
#define FERRY_COMMON_H

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#ifndef FERRY_VERSION
#define FERRY_VERSION "0.1.0"
#endif

#define FERRY_ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define FERRY_PRINTF(f, a)	__attribute__((format(printf, f, a)))
#define FERRY_NORETURN		__attribute__((noreturn))
#define FERRY_UNUSED		__attribute__((unused))
#else
#define FERRY_PRINTF(f, a)
#define FERRY_NORETURN
#define FERRY_UNUSED
#endif

#include "ferry/err.h"
#include "ferry/xalloc.h"

/*
 * Banned functions: each has a bounded or checked replacement (buf_addf,
 * snprintf with a checked result, strtol with end and errno checks).
 */
#undef strcpy
#define strcpy(a, b)		ferry_banned_strcpy
#undef strcat
#define strcat(a, b)		ferry_banned_strcat
#undef strncpy
#define strncpy(a, b, c)	ferry_banned_strncpy
#undef strncat
#define strncat(a, b, c)	ferry_banned_strncat
#undef sprintf
#define sprintf(...)		ferry_banned_sprintf
#undef vsprintf
#define vsprintf(...)		ferry_banned_vsprintf
#undef strtok
#define strtok(a, b)		ferry_banned_strtok
#undef atoi
#define atoi(a)			ferry_banned_atoi
#undef atol
#define atol(a)			ferry_banned_atol
#undef gets
#define gets(a)			ferry_banned_gets

#endif
