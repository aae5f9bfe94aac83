/* fuzz_manifest.c: the manifest decoder on arbitrary msgpack. */
#include "ferry/common.h"
#include "ferry/bundle.h"
#include "../../src/bundle_int.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct bundle_limits lim;
	struct bundle_manifest m;
	struct ferry_err err = FERRY_ERR_INIT;
	enum bundle_reason why = BUNDLE_R_NONE;

	fuzz_limits(&lim);
	memset(&m, 0, sizeof(m));
	if (bundle_manifest_decode(data, len, &lim, &m, &why, &err) == 0) {
		/* What decodes must name only members a bundle may hold. */
		size_t i;

		for (i = 0; i < m.nmembers; i++)
			assert(bundle_member_name_ok(m.members[i].name));
		bundle_manifest_release(&m);
	} else {
		assert(err.code == FERRY_EREJECT && why != BUNDLE_R_NONE);
	}
	return 0;
}
