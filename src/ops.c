/* ops.c: operations and their msgpack wire form (see ops.h). */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/ops.h"

#include <msgpack.h>

static const char *const type_names[OP__COUNT] = {
	[OP_ISSUE_CREATE] = "issue.create",
	[OP_ISSUE_UPDATE] = "issue.update",
	[OP_COMMENT_ADD] = "comment.add",
	[OP_COMMENT_EDIT] = "comment.edit",
	[OP_COMMENT_DELETE] = "comment.delete",
	[OP_ATTACHMENT_ADD] = "attachment.add",
	[OP_ATTACHMENT_DELETE] = "attachment.delete",
	[OP_STATUS_CHANGE] = "status.change",
	[OP_LINK_ADD] = "link.add",
	[OP_LINK_DELETE] = "link.delete",
};

const char *
op_type_name(enum op_type t)
{
	return t > OP_NONE && t < OP__COUNT ? type_names[t] : NULL;
}

enum op_type
op_type_parse(const char *s, size_t n)
{
	int t;

	for (t = OP_NONE + 1; t < OP__COUNT; t++)
		if (strlen(type_names[t]) == n &&
		    memcmp(type_names[t], s, n) == 0)
			return (enum op_type)t;
	return OP_NONE;
}

static bool
reserved(enum op_type t)
{
	return t == OP_STATUS_CHANGE || t == OP_LINK_ADD ||
	    t == OP_LINK_DELETE;
}

static void
value_release(struct op_value *v)
{
	size_t i;

	free(v->s);
	for (i = 0; i < v->nlist; i++)
		free(v->list[i]);
	free(v->list);
	memset(v, 0, sizeof(*v));
}

static void
value_copy(struct op_value *dst, const struct op_value *src)
{
	size_t i;

	*dst = *src;
	dst->s = src->s != NULL ? xstrdup(src->s) : NULL;
	dst->list = NULL;
	if (src->nlist > 0) {
		dst->list = xreallocarray(NULL, src->nlist, sizeof(char *));
		for (i = 0; i < src->nlist; i++)
			dst->list[i] = xstrdup(src->list[i]);
	}
}

void
op_release(struct op *op)
{
	size_t i;

	for (i = 0; i < op->nfields; i++) {
		free(op->fields[i].name);
		value_release(&op->fields[i].value);
		value_release(&op->fields[i].base);
	}
	free(op->fields);
	free(op->issue_key);
	free(op->author);
	free(op->body);
	free(op->base_body);
	free(op->vis_type);
	free(op->vis_value);
	free(op->filename);
	free(op->mime);
	memset(op, 0, sizeof(*op));
}

struct op_value
op_val_null(void)
{
	struct op_value v = { 0 };

	v.type = OP_V_NULL;
	return v;
}

struct op_value
op_val_str(const char *s)
{
	struct op_value v = { 0 };

	v.type = OP_V_STR;
	v.s = (char *)(uintptr_t)s;	/* borrowed; op_add_field copies */
	return v;
}

struct op_value
op_val_int(int64_t i)
{
	struct op_value v = { 0 };

	v.type = OP_V_INT;
	v.i = i;
	return v;
}

void
op_add_field(struct op *op, const char *name, const struct op_value *value,
    const struct op_value *base, int64_t at_ms)
{
	struct op_field *f;

	op->fields = xreallocarray(op->fields, op->nfields + 1,
	    sizeof(*op->fields));
	f = &op->fields[op->nfields++];
	memset(f, 0, sizeof(*f));
	f->name = xstrdup(name);
	value_copy(&f->value, value);
	if (base != NULL) {
		value_copy(&f->base, base);
		f->has_base = true;
	}
	f->at_ms = at_ms;
}

/* What each type needs; the message names the first thing missing. */
static const char *
op_problem(const struct op *op)
{
	size_t i;

	if (op_type_name(op->type) == NULL)
		return "unknown operation type";
	if (reserved(op->type))
		return "operation type reserved for a later format";
	if (op->issue_id <= 0)
		return "issue id missing";
	if (op->issue_key == NULL)
		return "issue key missing";
	switch (op->type) {
	case OP_ISSUE_CREATE:
	case OP_ISSUE_UPDATE:
		if (op->nfields == 0)
			return "no fields";
		for (i = 0; i < op->nfields; i++) {
			if (op->fields[i].name == NULL)
				return "field without a name";
			if (op->type == OP_ISSUE_UPDATE &&
			    !op->fields[i].has_base)
				return "updated field without a base value";
		}
		break;
	case OP_COMMENT_ADD:
	case OP_COMMENT_EDIT:
		if (op->comment_id <= 0 || op->body == NULL)
			return "comment id or body missing";
		if (op->type == OP_COMMENT_EDIT && op->base_body == NULL)
			return "comment edit without a base body";
		if ((op->vis_type == NULL) != (op->vis_value == NULL))
			return "half a comment restriction";
		break;
	case OP_COMMENT_DELETE:
		if (op->comment_id <= 0)
			return "comment id missing";
		break;
	case OP_ATTACHMENT_ADD:
		if (op->attachment_id <= 0 || op->filename == NULL)
			return "attachment id or name missing";
		break;
	case OP_ATTACHMENT_DELETE:
		if (op->attachment_id <= 0)
			return "attachment id missing";
		break;
	default:
		return "unknown operation type";
	}
	return NULL;
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void
pack_value(msgpack_packer *pk, const struct op_value *v)
{
	size_t i;

	switch (v->type) {
	case OP_V_STR:
		pack_str(pk, v->s != NULL ? v->s : "");
		break;
	case OP_V_INT:
		msgpack_pack_int64(pk, v->i);
		break;
	case OP_V_NUM:
		msgpack_pack_double(pk, v->num);
		break;
	case OP_V_LIST:
		msgpack_pack_array(pk, v->nlist);
		for (i = 0; i < v->nlist; i++)
			pack_str(pk, v->list[i]);
		break;
	default:
		msgpack_pack_nil(pk);
		break;
	}
}

int
ops_encode(const struct op *op, struct buf *out, struct ferry_err *err)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	const char *why;
	size_t n, i;
	int rc = 0;

	if ((why = op_problem(op)) != NULL)
		return ferry_err_set(err, FERRY_ERR,
		    "cannot encode %s operation on issue %" PRId64 ": %s",
		    op_type_name(op->type) ? op_type_name(op->type) : "an",
		    op->issue_id, why);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	n = 4 + (op->author != NULL);
	switch (op->type) {
	case OP_ISSUE_CREATE:
	case OP_ISSUE_UPDATE:
		n += 1;
		break;
	case OP_COMMENT_ADD:
	case OP_COMMENT_EDIT:
		n += 2 + (op->vis_type != NULL) +
		    (op->type == OP_COMMENT_EDIT);
		break;
	case OP_COMMENT_DELETE:
	case OP_ATTACHMENT_DELETE:
		n += 1;
		break;
	case OP_ATTACHMENT_ADD:
		n += 4 + (op->mime != NULL);
		break;
	default:
		break;
	}
	msgpack_pack_map(&pk, n);
	pack_str(&pk, "t");
	pack_str(&pk, op_type_name(op->type));
	pack_str(&pk, "issue");
	msgpack_pack_int64(&pk, op->issue_id);
	pack_str(&pk, "key");
	pack_str(&pk, op->issue_key);
	pack_str(&pk, "at");
	msgpack_pack_int64(&pk, op->at_ms);
	if (op->author != NULL) {
		pack_str(&pk, "by");
		pack_str(&pk, op->author);
	}
	switch (op->type) {
	case OP_ISSUE_CREATE:
	case OP_ISSUE_UPDATE:
		pack_str(&pk, "fields");
		msgpack_pack_array(&pk, op->nfields);
		for (i = 0; i < op->nfields; i++) {
			const struct op_field *f = &op->fields[i];

			msgpack_pack_map(&pk, 2 + f->has_base +
			    (f->at_ms != 0));
			pack_str(&pk, "n");
			pack_str(&pk, f->name);
			pack_str(&pk, "v");
			pack_value(&pk, &f->value);
			if (f->has_base) {
				pack_str(&pk, "b");
				pack_value(&pk, &f->base);
			}
			if (f->at_ms != 0) {
				pack_str(&pk, "at");
				msgpack_pack_int64(&pk, f->at_ms);
			}
		}
		break;
	case OP_COMMENT_ADD:
	case OP_COMMENT_EDIT:
		pack_str(&pk, "comment");
		msgpack_pack_int64(&pk, op->comment_id);
		pack_str(&pk, "body");
		pack_str(&pk, op->body);
		if (op->type == OP_COMMENT_EDIT) {
			pack_str(&pk, "base");
			pack_str(&pk, op->base_body);
		}
		if (op->vis_type != NULL) {
			pack_str(&pk, "vis");
			msgpack_pack_array(&pk, 2);
			pack_str(&pk, op->vis_type);
			pack_str(&pk, op->vis_value);
		}
		break;
	case OP_COMMENT_DELETE:
		pack_str(&pk, "comment");
		msgpack_pack_int64(&pk, op->comment_id);
		break;
	case OP_ATTACHMENT_ADD:
		pack_str(&pk, "att");
		msgpack_pack_int64(&pk, op->attachment_id);
		pack_str(&pk, "name");
		pack_str(&pk, op->filename);
		if (op->mime != NULL) {
			pack_str(&pk, "mime");
			pack_str(&pk, op->mime);
		}
		pack_str(&pk, "size");
		msgpack_pack_uint64(&pk, op->size);
		pack_str(&pk, "sha256");
		msgpack_pack_bin(&pk, 32);
		msgpack_pack_bin_body(&pk, op->sha256, 32);
		break;
	case OP_ATTACHMENT_DELETE:
		pack_str(&pk, "att");
		msgpack_pack_int64(&pk, op->attachment_id);
		break;
	default:
		break;
	}
	if (!buf_add(out, sb.data, sb.size))
		rc = ferry_err_set(err, FERRY_ELIMIT,
		    "operation on issue %" PRId64 " does not fit in %zu bytes",
		    op->issue_id, out->max);
	msgpack_sbuffer_destroy(&sb);
	return rc;
}

static int
mp_reject(struct ferry_err *err, enum mp_verdict *v, enum mp_verdict why,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
mp_reject(struct ferry_err *err, enum mp_verdict *v, enum mp_verdict why,
    const char *fmt, ...)
{
	char msg[FERRY_ERR_MSG_MAX];
	va_list ap;

	*v = why;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ferry_err_set(err, FERRY_EREJECT, "%s", msg);
}

static uint64_t
be(const uint8_t *p, int n)
{
	uint64_t x = 0;
	int i;

	for (i = 0; i < n; i++)
		x = x << 8 | p[i];
	return x;
}

int
ops_mp_check(const void *data, size_t len, size_t cap,
    const struct mp_limits *lim, size_t *used, enum mp_verdict *v,
    struct ferry_err *err)
{
	const uint8_t *p = data;
	uint64_t left[MP_DEPTH_MAX + 2], count, body;
	uint32_t maxdepth = lim->max_depth;
	size_t pos = 0;
	int depth, nlen;
	bool container;
	uint8_t b;

	assert(cap >= len);
	*used = 0;
	*v = MP_OK;
	if (maxdepth > MP_DEPTH_MAX)
		maxdepth = MP_DEPTH_MAX;
	/* left[d]: items still to read at depth d; depth 0 is the root. */
	depth = 0;
	left[0] = 1;
	for (;;) {
		while (depth > 0 && left[depth] == 0)
			depth--;
		if (depth == 0 && left[0] == 0)
			break;
		if (pos >= len)
			goto incomplete;
		b = p[pos++];
		container = false;
		count = 0;
		body = 0;
		nlen = 0;
		if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 ||
		    b == 0xc3) {
			/* fixint, nil, bool */
		} else if ((b & 0xe0) == 0xa0) {
			body = b & 0x1f;
		} else if ((b & 0xf0) == 0x90) {
			container = true;
			count = b & 0x0f;
		} else if ((b & 0xf0) == 0x80) {
			container = true;
			count = (uint64_t)(b & 0x0f) * 2;
		} else {
			switch (b) {
			case 0xcc: case 0xd0: body = 1; break;
			case 0xcd: case 0xd1: body = 2; break;
			case 0xca: case 0xce: case 0xd2: body = 4; break;
			case 0xcb: case 0xcf: case 0xd3: body = 8; break;
			case 0xc4: case 0xd9: nlen = 1; break;
			case 0xc5: case 0xda: nlen = 2; break;
			case 0xc6: case 0xdb: nlen = 4; break;
			case 0xdc: case 0xde: nlen = 2; container = true; break;
			case 0xdd: case 0xdf: nlen = 4; container = true; break;
			default:
				return mp_reject(err, v, MP_MALFORMED,
				    "msgpack type byte 0x%02x at offset %zu is "
				    "not allowed", b, pos - 1);
			}
			if (nlen > 0) {
				if (len - pos < (size_t)nlen)
					goto incomplete;
				count = be(p + pos, nlen);
				pos += (size_t)nlen;
				if (!container)
					body = count;
				else if (b == 0xde || b == 0xdf)
					count *= 2;
			}
		}
		if (!container && body > 0) {
			if (body > lim->max_str)
				return mp_reject(err, v, MP_TOO_LONG,
				    "msgpack string of %" PRIu64 " bytes at "
				    "offset %zu is over the limit of %" PRIu64,
				    body, pos, lim->max_str);
			if (body > cap - pos)
				return mp_reject(err, v, MP_TOO_LONG,
				    "msgpack string at offset %zu declares %"
				    PRIu64 " bytes, more than the data holds",
				    pos, body);
			if (body > len - pos)
				goto incomplete;
			pos += (size_t)body;
		}
		left[depth]--;
		if (container) {
			if (count / ((b & 0xf0) == 0x80 || b == 0xde ||
			    b == 0xdf ? 2 : 1) > lim->max_array)
				return mp_reject(err, v, MP_TOO_LONG,
				    "msgpack container of %" PRIu64 " entries "
				    "at offset %zu is over the limit of %"
				    PRIu64,
				    count, pos, lim->max_array);
			/* Every entry takes at least one byte. */
			if (count > cap - pos)
				return mp_reject(err, v, MP_TOO_LONG,
				    "msgpack container at offset %zu declares %"
				    PRIu64 " entries, more than the data holds",
				    pos, count);
			if ((uint32_t)depth + 1 > maxdepth)
				return mp_reject(err, v, MP_TOO_DEEP,
				    "msgpack nested deeper than %" PRIu32
				    " at offset %zu", maxdepth, pos);
			left[++depth] = count;
		}
	}
	*used = pos;
	return 0;
incomplete:
	if (len < cap)
		return 0;
	return mp_reject(err, v, MP_MALFORMED,
	    "msgpack data ends inside an object (%zu bytes)", len);
}

/* A msgpack string as a C string; an empty one has a NULL pointer. */
static char *
mpstr(const msgpack_object_str *o)
{
	return o->size > 0 ? xstrndup(o->ptr, o->size) : xstrdup("");
}

/* Typed access to a decoded map; every miss is a shape error. */
struct dec {
	const msgpack_object	*map;
	enum mp_verdict		*v;
	struct ferry_err	*err;
	int			 rc;
};

static const msgpack_object *
get(struct dec *d, const char *key, bool required)
{
	const msgpack_object_kv *kv;
	size_t klen = strlen(key);
	uint32_t i;

	for (i = 0; i < d->map->via.map.size; i++) {
		kv = &d->map->via.map.ptr[i];
		if (kv->key.type == MSGPACK_OBJECT_STR &&
		    kv->key.via.str.size == klen &&
		    memcmp(kv->key.via.str.ptr, key, klen) == 0)
			return &kv->val;
	}
	if (required && d->rc == 0)
		d->rc = mp_reject(d->err, d->v, MP_WRONG_TYPE,
		    "operation lacks '%s'", key);
	return NULL;
}

static void
wrong(struct dec *d, const char *key, const char *want)
{
	if (d->rc == 0)
		d->rc = mp_reject(d->err, d->v, MP_WRONG_TYPE,
		    "operation key '%s' is not %s", key, want);
}

static char *
get_str(struct dec *d, const char *key, bool required)
{
	const msgpack_object *o = get(d, key, required);

	if (o == NULL)
		return NULL;
	if (o->type != MSGPACK_OBJECT_STR) {
		wrong(d, key, "a string");
		return NULL;
	}
	return mpstr(&o->via.str);
}

static int64_t
get_int(struct dec *d, const char *key, bool required, bool positive)
{
	const msgpack_object *o = get(d, key, required);

	if (o == NULL)
		return 0;
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
	    o->via.u64 <= INT64_MAX && (!positive || o->via.u64 > 0))
		return (int64_t)o->via.u64;
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && !positive)
		return o->via.i64;
	wrong(d, key, positive ? "a positive integer" : "an integer");
	return 0;
}

/* Map keys must be strings and unique: no two readings of one op. */
static bool
keys_ok(struct dec *d, const msgpack_object *map)
{
	const msgpack_object_kv *a, *b;
	uint32_t i, j;

	for (i = 0; i < map->via.map.size; i++) {
		a = &map->via.map.ptr[i];
		if (a->key.type != MSGPACK_OBJECT_STR) {
			d->rc = mp_reject(d->err, d->v, MP_WRONG_TYPE,
			    "operation map key is not a string");
			return false;
		}
		for (j = 0; j < i; j++) {
			b = &map->via.map.ptr[j];
			/* msgpack-c gives an empty string a NULL pointer. */
			if (a->key.via.str.size == b->key.via.str.size &&
			    (a->key.via.str.size == 0 ||
			    memcmp(a->key.via.str.ptr, b->key.via.str.ptr,
			    a->key.via.str.size) == 0)) {
				d->rc = mp_reject(d->err, d->v, MP_WRONG_TYPE,
				    "operation map repeats key '%.*s'",
				    (int)a->key.via.str.size,
				    a->key.via.str.ptr);
				return false;
			}
		}
	}
	return true;
}

static bool
decode_value(struct dec *d, const msgpack_object *o, struct op_value *v)
{
	uint32_t i;

	memset(v, 0, sizeof(*v));
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		v->type = OP_V_NULL;
		return true;
	case MSGPACK_OBJECT_STR:
		v->type = OP_V_STR;
		v->s = mpstr(&o->via.str);
		return true;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > INT64_MAX)
			break;
		v->type = OP_V_INT;
		v->i = (int64_t)o->via.u64;
		return true;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		v->type = OP_V_INT;
		v->i = o->via.i64;
		return true;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		v->type = OP_V_NUM;
		v->num = o->via.f64;
		return true;
	case MSGPACK_OBJECT_ARRAY:
		v->type = OP_V_LIST;
		for (i = 0; i < o->via.array.size; i++)
			if (o->via.array.ptr[i].type != MSGPACK_OBJECT_STR)
				goto bad;
		v->nlist = o->via.array.size;
		v->list = xcalloc(v->nlist ? v->nlist : 1, sizeof(char *));
		for (i = 0; i < o->via.array.size; i++)
			v->list[i] = mpstr(&o->via.array.ptr[i].via.str);
		return true;
	default:
		break;
	}
bad:
	wrong(d, "v", "null, a string, a number or a list of strings");
	return false;
}

static void
decode_fields(struct dec *d, const msgpack_object *arr, struct op *op)
{
	struct dec fd;
	const msgpack_object *o;
	struct op_field *f;
	uint32_t i;

	if (arr->type != MSGPACK_OBJECT_ARRAY || arr->via.array.size == 0) {
		wrong(d, "fields", "a non-empty array");
		return;
	}
	op->fields = xcalloc(arr->via.array.size, sizeof(*op->fields));
	for (i = 0; i < arr->via.array.size && d->rc == 0; i++) {
		o = &arr->via.array.ptr[i];
		if (o->type != MSGPACK_OBJECT_MAP) {
			wrong(d, "fields", "an array of maps");
			return;
		}
		fd = *d;
		fd.map = o;
		if (!keys_ok(&fd, o)) {
			d->rc = fd.rc;
			return;
		}
		f = &op->fields[op->nfields++];
		f->name = get_str(&fd, "n", true);
		if ((o = get(&fd, "v", true)) != NULL)
			decode_value(&fd, o, &f->value);
		if ((o = get(&fd, "b", false)) != NULL) {
			f->has_base = true;
			decode_value(&fd, o, &f->base);
		}
		f->at_ms = get_int(&fd, "at", false, false);
		d->rc = fd.rc;
		if (d->rc == 0 && op->type == OP_ISSUE_UPDATE && !f->has_base)
			d->rc = mp_reject(d->err, d->v, MP_WRONG_TYPE,
			    "update of field '%s' lacks its base value",
			    f->name);
	}
}

static void
decode_op(struct dec *d, struct op *op)
{
	const msgpack_object *o;
	char *t;

	if (!keys_ok(d, d->map))
		return;
	if ((t = get_str(d, "t", true)) == NULL)
		return;
	op->type = op_type_parse(t, strlen(t));
	if (op->type == OP_NONE || reserved(op->type)) {
		d->rc = mp_reject(d->err, d->v, MP_UNSUPPORTED,
		    "operation type '%.40s' is not part of format 1", t);
		free(t);
		return;
	}
	free(t);
	op->issue_id = get_int(d, "issue", true, true);
	op->issue_key = get_str(d, "key", true);
	op->at_ms = get_int(d, "at", true, false);
	op->author = get_str(d, "by", false);
	if (d->rc != 0)
		return;
	switch (op->type) {
	case OP_ISSUE_CREATE:
	case OP_ISSUE_UPDATE:
		if ((o = get(d, "fields", true)) != NULL)
			decode_fields(d, o, op);
		break;
	case OP_COMMENT_ADD:
	case OP_COMMENT_EDIT:
		op->comment_id = get_int(d, "comment", true, true);
		op->body = get_str(d, "body", true);
		if (op->type == OP_COMMENT_EDIT)
			op->base_body = get_str(d, "base", true);
		if ((o = get(d, "vis", false)) != NULL) {
			if (o->type != MSGPACK_OBJECT_ARRAY ||
			    o->via.array.size != 2 ||
			    o->via.array.ptr[0].type != MSGPACK_OBJECT_STR ||
			    o->via.array.ptr[1].type != MSGPACK_OBJECT_STR) {
				wrong(d, "vis", "a pair of strings");
				break;
			}
			op->vis_type = mpstr(&o->via.array.ptr[0].via.str);
			op->vis_value = mpstr(&o->via.array.ptr[1].via.str);
		}
		break;
	case OP_COMMENT_DELETE:
		op->comment_id = get_int(d, "comment", true, true);
		break;
	case OP_ATTACHMENT_ADD:
		op->attachment_id = get_int(d, "att", true, true);
		op->filename = get_str(d, "name", true);
		op->mime = get_str(d, "mime", false);
		if ((o = get(d, "size", true)) != NULL) {
			if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
				wrong(d, "size", "an unsigned integer");
			else
				op->size = o->via.u64;
		}
		if ((o = get(d, "sha256", true)) != NULL) {
			if (o->type != MSGPACK_OBJECT_BIN ||
			    o->via.bin.size != 32)
				wrong(d, "sha256", "32 bytes");
			else
				memcpy(op->sha256, o->via.bin.ptr, 32);
		}
		break;
	case OP_ATTACHMENT_DELETE:
		op->attachment_id = get_int(d, "att", true, true);
		break;
	default:
		break;
	}
}

int
ops_decode(const void *data, size_t len, const struct mp_limits *lim,
    struct op *op, enum mp_verdict *v, struct ferry_err *err)
{
	msgpack_unpacked up;
	struct dec d;
	size_t used, off = 0;
	int rc;

	*v = MP_OK;
	if ((rc = ops_mp_check(data, len, len, lim, &used, v, err)) < 0)
		return rc;
	if (used != len)
		return mp_reject(err, v, MP_MALFORMED,
		    "%zu bytes after the operation", len - used);
	msgpack_unpacked_init(&up);
	if (msgpack_unpack_next(&up, data, len, &off) !=
	    MSGPACK_UNPACK_SUCCESS || off != len) {
		rc = mp_reject(err, v, MP_MALFORMED,
		    "msgpack-c cannot read the operation");
		goto out;
	}
	if (up.data.type != MSGPACK_OBJECT_MAP) {
		rc = mp_reject(err, v, MP_WRONG_TYPE,
		    "an operation is not a map");
		goto out;
	}
	d.map = &up.data;
	d.v = v;
	d.err = err;
	d.rc = 0;
	decode_op(&d, op);
	rc = d.rc;
out:
	if (rc < 0)
		op_release(op);
	msgpack_unpacked_destroy(&up);
	return rc;
}
