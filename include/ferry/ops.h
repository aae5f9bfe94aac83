/*
 * ops.h: the operations a bundle carries, and their msgpack wire form.
 *
 * An operation names the issue by the sender's numeric Jira id (keys
 * change when issues move) and carries the key for display, the change
 * time at origin (Jira's clock, milliseconds since the epoch) and, for
 * updates and edits, the base value the change was made from: the
 * receiver's three-way merge needs it.  Issue types, statuses and
 * priorities travel as neutral wire names (by default the sender's own
 * names; each site maps wire names to its own configuration), in the
 * fields "issuetype", "status" and "priority".
 *
 * On the wire (docs/bundle-format.md) each operation is one msgpack map
 * with short string keys; ops.msgpack is op_count such maps back to back.
 * Readers ignore keys they do not know, so a format can grow optional
 * keys; a new operation type or a changed meaning needs a new format
 * version.  Status changes and links are reserved: their wire names are
 * fixed, but format 1 neither writes nor accepts them.
 *
 * Everything read from a bundle goes through ops_mp_check() first: the
 * limits on nesting, string and array lengths hold before msgpack-c
 * allocates anything.
 */
#ifndef FERRY_OPS_H
#define FERRY_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;
struct ferry_err;

enum op_type {
	OP_NONE = 0,
	OP_ISSUE_CREATE,	/* "issue.create": fields, no base */
	OP_ISSUE_UPDATE,	/* "issue.update": fields with base */
	OP_COMMENT_ADD,		/* "comment.add" */
	OP_COMMENT_EDIT,	/* "comment.edit": body with base */
	OP_COMMENT_DELETE,	/* "comment.delete" */
	OP_ATTACHMENT_ADD,	/* "attachment.add": content as a blob */
	OP_ATTACHMENT_DELETE,	/* "attachment.delete" */
	OP_STATUS_CHANGE,	/* "status.change": reserved */
	OP_LINK_ADD,		/* "link.add": reserved */
	OP_LINK_DELETE,		/* "link.delete": reserved */
	OP__COUNT
};

/* The wire name of t ("issue.create"), or NULL. */
const char *op_type_name(enum op_type t);
/* The type named s (n bytes), or OP_NONE. */
enum op_type op_type_parse(const char *s, size_t n);

enum op_vtype { OP_V_NULL, OP_V_STR, OP_V_INT, OP_V_NUM, OP_V_LIST };

/* A field value: null, text, integer, number, or a list of strings. */
struct op_value {
	enum op_vtype	 type;
	int64_t		 i;
	double		 num;
	char		*s;
	char		**list;
	size_t		 nlist;
};

struct op_field {
	char		*name;		/* Jira field id: "summary" */
	struct op_value	 value;
	struct op_value	 base;		/* issue.update only */
	bool		 has_base;
	int64_t		 at_ms;		/* change time of this field; 0: op's */
};

struct op {
	enum op_type	 type;
	int64_t		 issue_id;	/* sender's numeric id, > 0 */
	char		*issue_key;	/* for display: "DEMO-12" */
	int64_t		 at_ms;		/* change time at origin */
	char		*author;	/* display name at origin, or NULL */

	struct op_field	*fields;	/* issue.create/update */
	size_t		 nfields;

	int64_t		 comment_id;	/* comment.* */
	char		*body;		/* comment.add/edit */
	char		*base_body;	/* comment.edit: the body it replaces */
	char		*vis_type;	/* restriction: "role"/"group", NULL */
	char		*vis_value;

	int64_t		 attachment_id;	/* attachment.* */
	char		*filename;	/* attachment.add */
	char		*mime;		/* or NULL */
	uint64_t	 size;
	uint8_t		 sha256[32];	/* names the blob */
};

#define OP_INIT { 0 }

/* Free what op owns; op is OP_INIT again. */
void op_release(struct op *op);

/* Values for op_add_field(); strings are borrowed until the call. */
struct op_value op_val_null(void);
struct op_value op_val_str(const char *s);
struct op_value op_val_int(int64_t i);
/* Append a field, copying name, value and base (NULL: no base). */
void op_add_field(struct op *op, const char *name,
    const struct op_value *value, const struct op_value *base,
    int64_t at_ms);

/*
 * Append op's msgpack encoding to out.  FERRY_ERR if op is not valid for
 * its type (op_check), FERRY_ELIMIT if out would pass its max.
 */
int ops_encode(const struct op *op, struct buf *out, struct ferry_err *err);

/* Structural limits for msgpack read from outside. */
struct mp_limits {
	uint32_t	 max_depth;	/* nesting; at most MP_DEPTH_MAX */
	uint64_t	 max_str;	/* bytes in one str or bin */
	uint64_t	 max_array;	/* entries in one array or map */
};
#define MP_DEPTH_MAX		32	/* msgpack-c's own stack */
#define MP_LIMITS_DEFAULT	{ 16, 8u << 20, 1u << 20 }

enum mp_verdict {
	MP_OK = 0,
	MP_TOO_DEEP,		/* nesting over max_depth */
	MP_TOO_LONG,		/* a declared length over a limit or the data */
	MP_MALFORMED,		/* bad or truncated msgpack, trailing bytes */
	MP_WRONG_TYPE,		/* well-formed, but not the expected shape */
	MP_UNSUPPORTED,		/* an op type this format does not carry */
};

/*
 * Check that data starts with one well-formed msgpack object within lim.
 * cap is the most bytes the object may take (>= len): a declared length
 * that cannot fit in cap is MP_TOO_LONG at once.  On success *used is the
 * object's length, or 0 if len < cap and the object continues past len
 * (read more and call again).  Ext types are refused.  Failures return
 * FERRY_EREJECT with *v set and err saying what and where.
 */
int ops_mp_check(const void *data, size_t len, size_t cap,
    const struct mp_limits *lim, size_t *used, enum mp_verdict *v,
    struct ferry_err *err);

/*
 * Decode exactly one operation from data (len bytes, nothing after it)
 * into op (which must be OP_INIT).  FERRY_EREJECT with *v on anything
 * wrong: structure, limits, types, missing keys, reserved types.
 */
int ops_decode(const void *data, size_t len, const struct mp_limits *lim,
    struct op *op, enum mp_verdict *v, struct ferry_err *err);

#endif
