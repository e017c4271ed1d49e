/* SPDX-License-Identifier: MIT */
/*
 * Turn rrset changes into byte edits of a parsed master file.
 *
 * For each change of (name, type) the existing record entries E and the
 * desired values V are matched by value: an entry whose value is in V stays
 * byte for byte (rewritten only when the change moves the TTL away from
 * old->ttl, the TTL read() reported); an
 * unmatched entry is rewritten in place with an unmatched value (keeping
 * its owner field as written, so the lines after it keep their meaning);
 * leftover entries are deleted and leftover values are inserted after the
 * last entry of the name (or at the end), with absolute owner, TTL and
 * class so no $ORIGIN/$TTL can change their meaning. A deleted entry whose
 * owner a following blank-owner record inherited hands its owner field to
 * that record. The SOA serial, if there is an SOA, is bumped once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "zf.h"

enum { ST_KEEP, ST_DELETED, ST_REWRITTEN };

struct ins {
	size_t pos;
	size_t seq;
	const char *owner; /* borrowed: the change's name */
	char *text;
};

struct ectx {
	struct sts_plugin *p; /* for the host's TXT codec */
	const struct zf_zone *z;
	unsigned char *state;
	char **rewrite;
	struct ins *ins;
	size_t n_ins;
	bool *inserted; /* per change */
	char *err;
	size_t err_size;
};

static bool is_type(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

static bool in_zone(const char *name, const char *zone)
{
	size_t n = strlen(name), z = strlen(zone);
	if (n && name[n - 1] == '.')
		n--;
	if (n == z)
		return strncasecmp(name, zone, n) == 0;
	return n > z + 1 && name[n - z - 1] == '.' && strncasecmp(name + n - z, zone, z) == 0;
}

/* One record line: OWNERFIELD TAB TTL TAB IN TAB TYPE TAB RDATA NL. */
/* TXT presentation through the host's codec (255-octet strings, quoted, escaped). */
static int txt_add(struct sts_plugin *p, struct zf_str *s, const char *value)
{
	char *q = NULL;
	int r = sts_plugin_txt_quote(p, value, strlen(value), &q);
	if (r == STS_PLUGIN_OK)
		r = zf_str_puts(s, q);
	sts_plugin_free(p, q);
	return r;
}

static char *record_line(struct sts_plugin *p, const char *owner, size_t owner_len, uint32_t ttl,
			 const char *type, const char *value)
{
	struct zf_str s = {0};
	int r = zf_str_add(&s, owner, owner_len);
	if (r == STS_PLUGIN_OK)
		r = zf_str_printf(&s, "\t%u\tIN\t", ttl);
	for (const char *t = type; r == STS_PLUGIN_OK && *t; t++) {
		char c = (*t >= 'a' && *t <= 'z') ? (char)(*t - 32) : *t;
		r = zf_str_add(&s, &c, 1);
	}
	if (r == STS_PLUGIN_OK)
		r = zf_str_puts(&s, "\t");
	if (r == STS_PLUGIN_OK)
		r = is_type(type, "TXT") || is_type(type, "SPF") ? txt_add(p, &s, value)
								 : zf_str_puts(&s, value);
	if (r == STS_PLUGIN_OK)
		r = zf_str_puts(&s, "\n");
	if (r < 0) {
		zf_str_release(&s);
		return NULL;
	}
	return s.p;
}

static int rewrite(struct ectx *c, size_t i, uint32_t ttl, const char *type, const char *value)
{
	const struct zf_entry *e = &c->z->e[i];
	const char *owner = e->blank_owner ? "" : c->z->text + e->owner_off;
	char *l = record_line(c->p, owner, e->blank_owner ? 0 : e->owner_len, ttl, type, value);
	if (!l)
		return STS_PLUGIN_ENOMEM;
	free(c->rewrite[i]);
	c->rewrite[i] = l;
	c->state[i] = ST_REWRITTEN;
	return STS_PLUGIN_OK;
}

static int insert(struct ectx *c, size_t pos, const char *owner, char *text)
{
	struct ins *v = realloc(c->ins, (c->n_ins + 1) * sizeof(*v));
	if (!v) {
		free(text);
		return STS_PLUGIN_ENOMEM;
	}
	c->ins = v;
	v[c->n_ins] = (struct ins){.pos = pos, .seq = c->n_ins, .owner = owner, .text = text};
	c->n_ins++;
	return STS_PLUGIN_OK;
}

static int do_change(struct ectx *c, const char *zone, const struct sts_rrset_change *ch,
		     size_t idx)
{
	const struct zf_zone *z = c->z;
	const struct sts_rrset *rr = ch->rrset;
	size_t nv = ch->action == STS_CHANGE_DELETE ? 0 : rr->n_values;
	bool *used = calloc(nv + 1, sizeof(*used));
	size_t last = (size_t)-1, last_name = (size_t)-1;
	size_t *unmatched = calloc(z->n + 1, sizeof(*unmatched));
	size_t n_un = 0;
	int r = STS_PLUGIN_OK;
	if (!used || !unmatched) {
		r = STS_PLUGIN_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < z->n; i++) {
		const struct zf_entry *e = &z->e[i];
		if (e->kind != ZF_RECORD || !zf_name_eq(e->owner, rr->name))
			continue;
		last_name = i;
		if (!is_type(e->type, rr->type))
			continue;
		last = i;
		size_t k = 0;
		while (k < nv && (used[k] || strcmp(rr->values[k], e->value) != 0))
			k++;
		if (k < nv) {
			used[k] = true;
			/* a kept line changes only when the engine changes the TTL */
			if (ch->old && ch->old->ttl != rr->ttl && e->ttl != rr->ttl)
				r = rewrite(c, i, rr->ttl, rr->type, e->value);
		} else {
			unmatched[n_un++] = i;
		}
		if (r < 0)
			goto out;
	}
	size_t u = 0;
	for (size_t k = 0; k < nv; k++) {
		if (used[k])
			continue;
		if (u < n_un) {
			r = rewrite(c, unmatched[u++], rr->ttl, rr->type, rr->values[k]);
		} else {
			size_t at = last != (size_t)-1	      ? z->e[last].end
				    : last_name != (size_t)-1 ? z->e[last_name].end
							      : z->len;
			char *l = record_line(c->p, rr->name, strlen(rr->name), rr->ttl, rr->type,
					      rr->values[k]);
			r = l ? insert(c, at, rr->name, l) : STS_PLUGIN_ENOMEM;
			c->inserted[idx] = true;
		}
		if (r < 0)
			goto out;
	}
	for (; u < n_un; u++)
		c->state[unmatched[u]] = ST_DELETED;
	(void)zone;
out:
	free(used);
	free(unmatched);
	return r;
}

static bool sidecar_type(const char *t)
{
	return is_type(t, "RRSIG") || is_type(t, "NSEC") || is_type(t, "NSEC3") ||
	       is_type(t, "KEY");
}

/* After the edits, may name hold what it holds? (CNAME and other data: no) */
static int check_conflict(struct ectx *c, const struct sts_rrset_change *const *ch, size_t n,
			  const char *name)
{
	bool cname = false;
	const char *other = NULL;
	for (size_t i = 0; i < c->z->n; i++) {
		const struct zf_entry *e = &c->z->e[i];
		if (e->kind != ZF_RECORD || c->state[i] == ST_DELETED ||
		    !zf_name_eq(e->owner, name))
			continue;
		if (is_type(e->type, "CNAME"))
			cname = true;
		else if (!sidecar_type(e->type))
			other = e->type;
	}
	for (size_t i = 0; i < n; i++) {
		if (!c->inserted[i] || !zf_name_eq(ch[i]->rrset->name, name))
			continue;
		if (is_type(ch[i]->rrset->type, "CNAME"))
			cname = true;
		else
			other = ch[i]->rrset->type;
	}
	if (cname && other) {
		snprintf(c->err, c->err_size, "'%s' would hold a CNAME beside %s records", name,
			 other);
		return STS_PLUGIN_ECONFLICT;
	}
	return STS_PLUGIN_OK;
}

/*
 * Give a blank-owner record the owner field of the deleted record before it.
 * Directives in between ($TTL, $ORIGIN, $INCLUDE, ...) do not end the
 * inheritance (a blank owner is the previous record's owner, RFC 1035 §5.1,
 * as zf_parse reads it), so they are looked past; the owner is then written
 * absolute, since an $ORIGIN in between would change a relative one.
 */
static int fix_owners(struct ectx *c)
{
	const struct zf_zone *z = c->z;
	for (size_t i = 0; i < z->n; i++) {
		const struct zf_entry *d = &z->e[i];
		if (d->kind != ZF_RECORD || c->state[i] != ST_DELETED || d->blank_owner)
			continue;
		bool directive = false;
		for (size_t j = i + 1; j < z->n; j++) {
			const struct zf_entry *e = &z->e[j];
			if (e->kind == ZF_BLANK)
				continue;
			if (e->kind == ZF_DIRECTIVE) {
				directive = true;
				continue;
			}
			if (!e->blank_owner)
				break;
			if (c->state[j] == ST_DELETED)
				continue;
			bool covered = false; /* a record of ours with that owner comes first */
			for (size_t k = 0; k < c->n_ins; k++)
				if (c->ins[k].pos >= d->start && c->ins[k].pos <= e->start &&
				    zf_name_eq(c->ins[k].owner, d->owner))
					covered = true;
			if (covered)
				break;
			const char *own = directive ? d->owner : z->text + d->owner_off;
			int own_len = directive ? (int)strlen(d->owner) : (int)d->owner_len;
			if (c->state[j] == ST_REWRITTEN) {
				char *t = NULL;
				if (asprintf(&t, "%.*s%s", own_len, own, c->rewrite[j]) < 0)
					return STS_PLUGIN_ENOMEM;
				free(c->rewrite[j]);
				c->rewrite[j] = t;
			} else {
				char *t = strndup(own, (size_t)own_len);
				int r = t ? insert(c, e->start, d->owner, t) : STS_PLUGIN_ENOMEM;
				if (r < 0)
					return r;
			}
			break;
		}
	}
	return STS_PLUGIN_OK;
}

static int emit_ins(struct ectx *c, size_t pos, struct zf_str *out)
{
	/* insertions were appended in order, so seq order is list order */
	for (size_t k = 0; k < c->n_ins; k++) {
		if (c->ins[k].pos != pos)
			continue;
		if (pos == c->z->len && out->n && out->p[out->n - 1] != '\n' &&
		    zf_str_puts(out, "\n") < 0)
			return STS_PLUGIN_ENOMEM;
		if (zf_str_puts(out, c->ins[k].text) < 0)
			return STS_PLUGIN_ENOMEM;
	}
	return STS_PLUGIN_OK;
}

static int assemble(struct ectx *c, const char *serial, struct zf_str *out)
{
	const struct zf_zone *z = c->z;
	const struct zf_entry *soa = NULL;
	for (size_t i = 0; i < z->n && !soa; i++)
		if (z->e[i].kind == ZF_RECORD && strcmp(z->e[i].type, "SOA") == 0)
			soa = &z->e[i];
	for (size_t i = 0; i < z->n; i++) {
		const struct zf_entry *e = &z->e[i];
		int r = emit_ins(c, e->start, out);
		if (r < 0)
			return r;
		if (c->state[i] == ST_DELETED)
			continue;
		if (c->state[i] == ST_REWRITTEN) {
			r = zf_str_puts(out, c->rewrite[i]);
		} else if (e == soa && serial) {
			r = zf_str_add(out, z->text + e->start, e->serial_off - e->start);
			if (r == STS_PLUGIN_OK)
				r = zf_str_puts(out, serial);
			size_t after = e->serial_off + e->serial_len;
			if (r == STS_PLUGIN_OK)
				r = zf_str_add(out, z->text + after, e->end - after);
		} else {
			r = zf_str_add(out, z->text + e->start, e->end - e->start);
		}
		if (r < 0)
			return r;
	}
	return emit_ins(c, z->len, out);
}

static int next_serial_text(const struct zf_zone *z, enum zf_serial mode, time_t now, char *buf,
			    size_t size, bool *ret_has)
{
	*ret_has = false;
	for (size_t i = 0; i < z->n; i++) {
		const struct zf_entry *e = &z->e[i];
		if (e->kind != ZF_RECORD || strcmp(e->type, "SOA") != 0)
			continue;
		unsigned long long old = 0;
		for (size_t k = 0; k < e->serial_len; k++) {
			char d = z->text[e->serial_off + k];
			if (d < '0' || d > '9' || old > 0xffffffffULL)
				return STS_PLUGIN_EPARSE;
			old = old * 10 + (unsigned)(d - '0');
		}
		if (e->serial_len == 0 || old > 0xffffffffULL)
			return STS_PLUGIN_EPARSE;
		snprintf(buf, size, "%u", zf_next_serial((uint32_t)old, mode, now));
		*ret_has = true;
		return STS_PLUGIN_OK;
	}
	return STS_PLUGIN_OK;
}

static int validate(const char *zone, const struct sts_rrset_change *const *ch, size_t n, char *err,
		    size_t err_size)
{
	for (size_t i = 0; i < n; i++) {
		const struct sts_rrset *rr = ch[i]->rrset;
		if (!rr->name || !rr->type || !*rr->type || strchr(rr->type, ' ')) {
			snprintf(err, err_size, "change %zu has no name or type", i);
			return STS_PLUGIN_EINVAL;
		}
		if (ch[i]->action < STS_CHANGE_CREATE || ch[i]->action > STS_CHANGE_DELETE) {
			snprintf(err, err_size, "change %zu has an unknown action", i);
			return STS_PLUGIN_EINVAL;
		}
		if (!in_zone(rr->name, zone)) {
			snprintf(err, err_size, "'%s' is not in zone '%s'", rr->name, zone);
			return STS_PLUGIN_EINVAL;
		}
		if (is_type(rr->type, "SOA")) {
			snprintf(err, err_size, "the SOA record is not stsctl's to change");
			return STS_PLUGIN_EINVAL;
		}
		for (size_t v = 0; ch[i]->action != STS_CHANGE_DELETE && v < rr->n_values; v++) {
			if (strchr(rr->values[v], '\n') && !is_type(rr->type, "TXT")) {
				snprintf(err, err_size, "value of '%s' %s spans lines", rr->name,
					 rr->type);
				return STS_PLUGIN_EINVAL;
			}
		}
		for (size_t j = 0; j < i; j++) {
			if (zf_name_eq(ch[j]->rrset->name, rr->name) &&
			    is_type(ch[j]->rrset->type, rr->type)) {
				snprintf(err, err_size, "two changes for '%s' %s in one batch",
					 rr->name, rr->type);
				return STS_PLUGIN_EINVAL;
			}
		}
	}
	return STS_PLUGIN_OK;
}

int zf_edit(struct sts_plugin *p, const struct zf_zone *z, const char *zone,
	    const struct sts_rrset_change *const *changes, size_t n, enum zf_serial mode,
	    time_t now, struct zf_str *out, bool *ret_changed, char *err, size_t err_size)
{
	struct ectx c = {.p = p, .z = z, .err = err, .err_size = err_size};
	int r = validate(zone, changes, n, err, err_size);
	char serial[16];
	bool has_soa = false;
	*ret_changed = false;
	if (r < 0)
		return r;
	c.state = calloc(z->n + 1, 1);
	c.rewrite = calloc(z->n + 1, sizeof(*c.rewrite));
	c.inserted = calloc(n + 1, sizeof(*c.inserted));
	if (!c.state || !c.rewrite || !c.inserted) {
		r = STS_PLUGIN_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n && r == STS_PLUGIN_OK; i++)
		r = do_change(&c, zone, changes[i], i);
	for (size_t i = 0; i < n && r == STS_PLUGIN_OK; i++)
		r = check_conflict(&c, changes, n, changes[i]->rrset->name);
	if (r == STS_PLUGIN_OK)
		r = fix_owners(&c);
	if (r < 0)
		goto out;
	bool changed = c.n_ins > 0;
	for (size_t i = 0; i < z->n && !changed; i++)
		changed = c.state[i] != ST_KEEP;
	if (!changed)
		goto out;
	r = next_serial_text(z, mode, now, serial, sizeof(serial), &has_soa);
	if (r < 0) {
		snprintf(err, err_size, "the SOA serial is not a number");
		goto out;
	}
	r = assemble(&c, has_soa ? serial : NULL, out);
	if (r == STS_PLUGIN_OK)
		*ret_changed = true;
out:
	if (r == STS_PLUGIN_ENOMEM)
		snprintf(err, err_size, "out of memory");
	for (size_t i = 0; c.rewrite && i < z->n; i++)
		free(c.rewrite[i]);
	for (size_t k = 0; k < c.n_ins; k++)
		free(c.ins[k].text);
	free(c.ins);
	free(c.rewrite);
	free(c.state);
	free(c.inserted);
	return r;
}
