# mk/bundle.mk: fuzzing and benchmarks of the bundle module (issue 12).
#
#   make fuzz         build the libFuzzer targets (clang) and run each for
#                     FUZZ_TIME seconds on the corpus in tests/fuzz/corpus
#   make fuzz-build   only build them (build-fuzz/)
#   make bench        write and read 10,000 ops + 200 MB of attachments
#                     against the tar | gpg pipeline; see docs/benchmarks.md

FUZZ_CC	?= clang
FUZZ_B	 = build-fuzz
FUZZ_TIME ?= 240
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS = -std=c11 -g -O1 -MMD -MP -fno-omit-frame-pointer $(FUZZ_SAN) \
	      -fsanitize=fuzzer-no-link -Iinclude -D_GNU_SOURCE \
	      -D_FILE_OFFSET_BITS=64 $(PKG_CFLAGS)
FUZZ_LIB_SRC = src/bundle.c src/bundle_read.c src/bundle_write.c src/ops.c \
	       src/crypto.c src/crypto_sha256.c src/hex.c src/buf.c src/err.c \
	       src/xalloc.c src/file.c src/crash.c src/log.c
FUZZ_LIB_OBJ = $(FUZZ_LIB_SRC:%.c=$(FUZZ_B)/obj/%.o)
FUZZ_TARGETS = archive manifest ops
FUZZ_BIN = $(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz_%)

.PHONY: fuzz fuzz-build bench

-include $(shell find $(FUZZ_B) -name '*.d' 2>/dev/null)

$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

# The library objects depend on headers through the .d files above; the
# targets are small enough to rebuild whenever anything changes.
$(FUZZ_B)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.h $(FUZZ_LIB_OBJ) \
    $(wildcard include/ferry/*.h) src/bundle_int.h
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_LIB_OBJ) \
	    $(PKG_LIBS)

fuzz-build: $(FUZZ_BIN)

# Each target runs on a copy of its corpus; new inputs are merged back,
# minimised, into tests/fuzz/corpus so the next run starts from them.
fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
		rm -rf $(FUZZ_B)/work/$$t; mkdir -p $(FUZZ_B)/work/$$t \
		    $(FUZZ_B)/crashes/$$t; \
		echo "== fuzz_$$t for $(FUZZ_TIME)s"; \
		./$(FUZZ_B)/fuzz_$$t -max_total_time=$(FUZZ_TIME) \
		    -max_len=65536 -timeout=10 -rss_limit_mb=1024 \
		    -print_final_stats=1 \
		    -artifact_prefix=$(FUZZ_B)/crashes/$$t/ \
		    $(FUZZ_B)/work/$$t tests/fuzz/corpus/$$t \
		    2>&1 | tee $(FUZZ_B)/fuzz_$$t.log | \
		    grep -E '^#[0-9]+.*(DONE|INITED)|stat::|ERROR|SUMMARY'; \
		./$(FUZZ_B)/fuzz_$$t -merge=1 tests/fuzz/corpus/$$t \
		    $(FUZZ_B)/work/$$t >/dev/null 2>&1; \
	done

BENCH_B	 = build
bench: $(BENCH_B)/bench_bundle
	tests/bench/bench_bundle.sh $(BENCH_B)/bench_bundle

$(BENCH_B)/bench_bundle: tests/bench/bench_bundle.c $(BENCH_B)/libferry.a
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -Isrc $(LDFLAGS) -o $@ $< \
	    $(BENCH_B)/libferry.a $(LDLIBS_ALL)
