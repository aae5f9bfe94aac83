# ferry: GNU make build.  `make` builds build/ferry; `make check` runs every
# test (unit tests plain and under ASan+UBSan, valgrind, then the pytest
# suites: emulator, model, end to end).  See README.md.

PREFIX	?= /usr/local
BINDIR	?= $(PREFIX)/bin
MANDIR	?= $(PREFIX)/share/man
DESTDIR	?=

CC	?= cc
PKG_CONFIG ?= pkg-config
PYTEST	?= pytest-3
PYTHON	?= /usr/bin/python3
WERROR	?= 1

PKGS	 = libcurl libarchive msgpack gpgme libgcrypt sqlite3 jansson inih
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS := $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

WARN	 = -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Wold-style-definition -Wformat=2 \
	   -Wundef -Wvla -Wpointer-arith -Wwrite-strings -Wcast-align \
	   -Wmissing-declarations -Wredundant-decls -Wnested-externs
ifeq ($(WERROR),1)
WARN	+= -Werror
endif

CPPFLAGS_ALL = -Iinclude -I$(B)/gen -Itests/unit/lib -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
	   -DFERRY_VERSION='"$(VERSION)"' $(PKG_CFLAGS) $(CPPFLAGS)
CFLAGS	?= -O2 -g
CFLAGS_ALL = -std=c11 $(WARN) -MMD -MP $(CFLAGS) $(VARIANT_CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) $(LDLIBS)

VERSION	:= $(shell cat VERSION 2>/dev/null || echo 0.1.0)

# Build variants: plain in build/, sanitizers in build-asan/.
B	?= build
SAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=all \
	    -fno-omit-frame-pointer -O1 -g

LIB_SRC	 := $(filter-out src/main.c,$(sort $(wildcard src/*.c)))
CMD_SRC	 := $(sort $(wildcard src/cmd_*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_LIB_SRC := $(sort $(wildcard tests/unit/lib/*.c))
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))

LIB_OBJ	 = $(LIB_SRC:%.c=$(B)/obj/%.o)
UNIT_LIB_OBJ = $(UNIT_LIB_SRC:%.c=$(B)/obj/%.o)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
TOOL_BIN = $(TOOL_SRC:tests/tools/%.c=$(B)/tools/%)

.PHONY: all check unit asan asan-unit valgrind pytest install clean help
.DEFAULT_GOAL := all
.SECONDARY:

all: $(B)/ferry $(TOOL_BIN)

$(B)/gen/cmdlist.h: $(CMD_SRC) Makefile
	@mkdir -p $(dir $@)
	@{ for f in $(CMD_SRC); do \
		sed -n 's/^FERRY_COMMAND(\([a-z_]*\),.*/FERRY_CMD(\1)/p' $$f; \
	done; } > $@.tmp && \
	if cmp -s $@.tmp $@; then rm -f $@.tmp; else mv $@.tmp $@; fi

$(B)/obj/src/main.o: $(B)/gen/cmdlist.h

$(B)/obj/%.o: %.c | $(B)/gen/cmdlist.h
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c -o $@ $<

$(B)/libferry.a: $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/ferry: $(B)/obj/src/main.o $(B)/libferry.a
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $(B)/obj/src/main.o \
	    -Wl,--whole-archive $(B)/libferry.a -Wl,--no-whole-archive \
	    $(LDLIBS_ALL)

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(UNIT_LIB_OBJ) $(B)/libferry.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $< $(UNIT_LIB_OBJ) \
	    $(B)/libferry.a $(CMOCKA_LIBS) $(LDLIBS_ALL)

$(B)/tools/%: $(B)/obj/tests/tools/%.o $(B)/libferry.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) $(LDFLAGS) -o $@ $< $(B)/libferry.a $(LDLIBS_ALL)

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do \
		echo "== $$t"; FERRY_SRCDIR=$(CURDIR) ./$$t; done

asan:
	$(MAKE) B=build-asan VARIANT_CFLAGS="$(SAN_FLAGS)" \
	    LDFLAGS="$(SAN_FLAGS)" all

asan-unit:
	$(MAKE) B=build-asan VARIANT_CFLAGS="$(SAN_FLAGS)" \
	    LDFLAGS="$(SAN_FLAGS)" unit

valgrind: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do \
		echo "== valgrind $$t"; \
		FERRY_SRCDIR=$(CURDIR) FERRY_UNDER_VALGRIND=1 \
		valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
		    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		    --trace-children=no ./$$t; done

PYTEST_DIRS = $(wildcard tests/emu tests/model tests/e2e)

pytest: all
	FERRY_BIN=$(CURDIR)/$(B)/ferry FERRY_TOOLS=$(CURDIR)/$(B)/tools \
	FERRY_SRCDIR=$(CURDIR) $(PYTEST) -q -p no:cacheprovider $(PYTEST_DIRS)

# The phases run one after another (each builds in parallel under -j), so
# that timing-sensitive end-to-end tests never share the CPUs with valgrind.
check:
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) asan-unit
	$(MAKE) valgrind
	$(MAKE) pytest
	@echo "check: all suites passed"

install: $(B)/ferry
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 $(B)/ferry $(DESTDIR)$(BINDIR)/ferry
	@set -e; for m in $(wildcard docs/man/*.[1-8]); do \
		s=$${m##*.}; install -d $(DESTDIR)$(MANDIR)/man$$s; \
		install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done

clean:
	rm -rf build build-asan build-fuzz

help:
	@echo "targets: all check unit asan asan-unit valgrind pytest install clean"

# Further targets (fuzz, bench, soak) live in mk/*.mk, one file per area.
-include $(sort $(wildcard mk/*.mk))

-include $(shell find build build-asan -name '*.d' 2>/dev/null)
