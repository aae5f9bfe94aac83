/*
 * fuzz_ops.c: the operations stream, fed in uneven pieces as the archive
 * walk feeds it, and the single-operation decoder with re-encoding: what
 * decodes must encode again.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/bundle.h"
#include "ferry/ops.h"
#include "../../src/bundle_int.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct bundle_limits lim;
	struct ferry_err err = FERRY_ERR_INIT;
	struct opstream s;
	enum bundle_reason why;
	enum mp_verdict v;
	struct op op = OP_INIT;
	size_t off = 0, step;
	int rc = 0;

	fuzz_limits(&lim);
	opstream_init(&s, &lim);
	while (off < len && rc == 0) {
		step = 1 + (data[off] % 97);
		if (step > len - off)
			step = len - off;
		rc = opstream_feed(&s, data + off, step, &why, &err);
		off += step;
	}
	if (rc == 0)
		(void)opstream_end(&s, s.count, &why, &err);
	opstream_release(&s);

	if (ops_decode(data, len, &lim.mp, &op, &v, &err) == 0) {
		struct buf b = BUF_INIT(0);
		struct op again = OP_INIT;

		if (ops_encode(&op, &b, &err) == 0) {
			assert(ops_decode(b.data, b.len, &lim.mp, &again, &v,
			    &err) == 0);
			assert(again.type == op.type &&
			    again.issue_id == op.issue_id &&
			    again.nfields == op.nfields);
			op_release(&again);
		}
		buf_release(&b);
		op_release(&op);
	}
	return 0;
}
