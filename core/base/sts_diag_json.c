/* SPDX-License-Identifier: MIT */
/* Diagnostics as JSON: one schema for every command that prints them (sts_diag_json.h). */
#include "sts_diag_json.h"

#include "sts_buf.h"

json_t *sts_json_string_lossy(const char *s)
{
	json_t *j = json_string(s);
	if (j)
		return j;
	struct sts_buf b;
	sts_buf_init(&b, STS_CAP_TEXT);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int r = *p < 0x80 ? sts_buf_putc(&b, (char)*p) : sts_buf_printf(&b, "\\x%02x", *p);
		if (r < 0)
			break;
	}
	j = json_string(sts_buf_str(&b));
	sts_buf_release(&b);
	return j;
}

static json_t *str_or_null(const char *s)
{
	return s ? sts_json_string_lossy(s) : json_null();
}

json_t *sts_json_strv(char *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < n; i++)
		if (json_array_append_new(a, str_or_null(v[i])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

json_t *sts_diags_json(const struct sts_diags *d, enum sts_severity sev)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < d->n; i++) {
		const struct sts_diag *x = &d->v[i];
		if (x->severity != sev)
			continue;
		json_t *o = json_pack("{s:o,s:I,s:I,s:o,s:o}", "file", str_or_null(x->file), "line",
				      (json_int_t)x->line, "column", (json_int_t)x->col, "path",
				      str_or_null(x->path), "message", str_or_null(x->message));
		if (o && x->rule && json_object_set_new(o, "rule", json_string(x->rule)) < 0) {
			json_decref(o);
			o = NULL;
		}
		if (!o || json_array_append_new(a, o) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

json_t *sts_diags_json_doc(const struct sts_diags *d, bool valid)
{
	json_t *doc =
	    json_pack("{s:b,s:o*,s:o*,s:o*}", "valid", valid, "errors",
		      sts_diags_json(d, STS_SEV_ERROR), "warnings",
		      sts_diags_json(d, STS_SEV_WARNING), "info", sts_diags_json(d, STS_SEV_INFO));
	if (!doc || json_object_size(doc) != 4 ||
	    (d->dropped &&
	     json_object_set_new(doc, "not_shown", json_integer((json_int_t)d->dropped)) < 0)) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}
