/* fuzz_common.h: limits for the fuzz targets, small enough to run fast. */
#ifndef FERRY_FUZZ_COMMON_H
#define FERRY_FUZZ_COMMON_H

#include "ferry/bundle.h"

static inline void
fuzz_limits(struct bundle_limits *lim)
{
	bundle_limits_default(lim);
	lim->max_member_size = 1 << 20;
	lim->max_total_size = 4 << 20;
	lim->max_manifest_size = 1 << 20;
	lim->max_op_size = 1 << 18;
	lim->ratio_after = 1 << 16;
	lim->max_members = 1000;
	lim->mp.max_str = 1 << 18;
	lim->mp.max_array = 1 << 14;
}

#endif
