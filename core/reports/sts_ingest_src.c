/* SPDX-License-Identifier: MIT */
/*
 * Ingestion sources on disk: a file, a directory (recursive), a Maildir;
 * and the dispatch of a SOURCE spec. Many files are prepared by a pool of
 * worker threads (parse, DKIM, compress) and stored in their sorted order
 * by the calling thread, the one writer; an in-flight byte budget keeps
 * the memory bounded whatever the files hold.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sts_err.h"
#include "sts_ingest_int.h"

#define BUDGET	      (96u << 20) /* cost of the prepared inputs waiting for the writer */
#define SLOTS_PER_JOB 16

struct slot {
	struct ing_prep p;
	int r;
	bool ready;
};

struct pool {
	struct sts_ingest *ing;
	char **paths;
	size_t n;
	enum sts_ingest_channel ch;
	struct slot *slots;
	size_t nslots;
	size_t next;	 /* next index a worker takes */
	size_t consumed; /* indexes the writer has taken */
	size_t inflight; /* cost of the prepared inputs not stored yet */
	bool stop;
	pthread_mutex_t mu;
	pthread_cond_t work;  /* workers wait for a free slot or budget */
	pthread_cond_t ready; /* the writer waits for the slot it needs */
	unsigned workers_waiting;
	bool writer_waiting;
};

static int prepare_one(struct sts_ingest *ing, const char *path, enum sts_ingest_channel ch,
		       struct ing_prep *p)
{
	int r = ing_prep_file(ing, path, ch, false, p);
	if (r == -ELOOP) {
		ing_prep_release(p);
		memset(p, 0, sizeof(*p));
		p->ch = ch;
		p->source = strdup(path);
		p->skip_reason = strdup("symbolic link: not followed");
		r = p->source && p->skip_reason ? STS_OK : STS_ENOMEM;
	}
	return r;
}

static void *worker(void *arg)
{
	struct pool *pl = arg;
	pthread_mutex_lock(&pl->mu);
	for (;;) {
		/* a new index only while the prepared inputs stay under the budget:
		 * the one the writer needs next is always ready or being prepared,
		 * so it never waits forever, and memory stays under the budget
		 * plus one input per worker */
		while (!pl->stop && pl->next < pl->n &&
		       (pl->next >= pl->consumed + pl->nslots || pl->inflight > BUDGET)) {
			pl->workers_waiting++;
			pthread_cond_wait(&pl->work, &pl->mu);
			pl->workers_waiting--;
		}
		if (pl->stop || pl->next >= pl->n)
			break;
		size_t i = pl->next++;
		pthread_mutex_unlock(&pl->mu);
		struct ing_prep p;
		memset(&p, 0, sizeof(p));
		int r = prepare_one(pl->ing, pl->paths[i], pl->ch, &p);
		pthread_mutex_lock(&pl->mu);
		struct slot *s = &pl->slots[i % pl->nslots];
		s->p = p;
		s->r = r;
		s->ready = true;
		pl->inflight += p.cost;
		if (pl->writer_waiting && i == pl->consumed)
			pthread_cond_signal(&pl->ready);
	}
	pthread_cond_broadcast(&pl->work);
	pthread_mutex_unlock(&pl->mu);
	return NULL;
}

static unsigned jobs_for(const struct sts_ingest *ing, size_t n)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned j = ing->o.jobs ? ing->o.jobs : cpus > 0 ? (unsigned)cpus : 1;
	if (j > ING_MAX_JOBS)
		j = ING_MAX_JOBS;
	if (j > n)
		j = (unsigned)n;
	return j ? j : 1;
}

/* Store one prepared file (a read error is the file's own source error). */
static int store_one(struct sts_ingest *ing, const char *path, struct ing_prep *p, int r,
		     char *done_to)
{
	if (r == STS_ENOMEM) {
		free(done_to);
		return r;
	}
	if (r < 0) {
		free(done_to);
		ing_source_error(ing, path, r, "cannot read '%s': %s", path, sts_strerror(r));
		return STS_OK;
	}
	ing->st.inputs++;
	if (done_to && !p->skip_reason) {
		p->done_to = done_to;
		if (!(p->done_from = strdup(path)))
			return STS_ENOMEM;
	} else {
		free(done_to);
	}
	enum sts_ingest_outcome oc;
	return ing_store(ing, p, &oc);
}

/*
 * Files have no side effect to keep in step with the DB (Maildir renames,
 * IMAP flags, HTTP answers do): their batches are committed without waiting
 * for the disk (synchronous = NORMAL, still atomic and consistent), and the
 * last commit of the run, made FULL again, makes all of them durable at once
 * (one fsync of the WAL covers every frame before it). A power cut in between
 * loses only batches that the next run reads again.
 */
static void bulk_sync(struct sts_ingest *ing, bool bulk)
{
	sts_db_hold(ing->db);
	/* and fewer checkpoints: each one syncs the WAL and the DB (25000 pages:
	 * the WAL grows to about 100 MB between them) */
	ing_tune(ing, bulk ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL");
	ing_tune(ing,
		 bulk ? "PRAGMA wal_autocheckpoint = 25000" : "PRAGMA wal_autocheckpoint = 1000");
	sts_db_unhold(ing->db);
}

static int run_files(struct sts_ingest *ing, char **paths, size_t n, enum sts_ingest_channel ch,
		     const char *const *done_to);

int ing_run_files(struct sts_ingest *ing, char **paths, size_t n, enum sts_ingest_channel ch,
		  const char *const *done_to)
{
	bool bulk = !done_to && n > 1;
	if (bulk)
		bulk_sync(ing, true);
	int r = run_files(ing, paths, n, ch, done_to);
	if (bulk)
		bulk_sync(ing, false); /* the next commit is durable, and all before it */
	return r;
}

static int run_files(struct sts_ingest *ing, char **paths, size_t n, enum sts_ingest_channel ch,
		     const char *const *done_to)
{
	unsigned jobs = jobs_for(ing, n);
	int r = STS_OK;
	if (jobs <= 1) {
		for (size_t i = 0; i < n && r == STS_OK; i++) {
			struct ing_prep p;
			memset(&p, 0, sizeof(p));
			int pr = prepare_one(ing, paths[i], ch, &p);
			char *dt = done_to && done_to[i] ? strdup(done_to[i]) : NULL;
			r = store_one(ing, paths[i], &p, pr, dt);
			ing_prep_release(&p);
		}
		return r;
	}
	struct pool pl = {.ing = ing, .paths = paths, .n = n, .ch = ch};
	pl.nslots = (size_t)jobs * SLOTS_PER_JOB;
	pl.slots = calloc(pl.nslots, sizeof(*pl.slots));
	pthread_t *th = calloc(jobs, sizeof(*th));
	unsigned started = 0;
	if (!pl.slots || !th) {
		free(pl.slots);
		free(th);
		return STS_ENOMEM;
	}
	pthread_mutex_init(&pl.mu, NULL);
	pthread_cond_init(&pl.work, NULL);
	pthread_cond_init(&pl.ready, NULL);
	for (; started < jobs; started++)
		if (pthread_create(&th[started], NULL, worker, &pl) != 0)
			break;
	if (!started)
		r = STS_ENOMEM;
	for (size_t i = 0; i < n && r == STS_OK; i++) {
		struct slot *s = &pl.slots[i % pl.nslots];
		pthread_mutex_lock(&pl.mu);
		while (!s->ready) {
			pl.writer_waiting = true;
			pthread_cond_wait(&pl.ready, &pl.mu);
			pl.writer_waiting = false;
		}
		struct ing_prep p = s->p;
		int pr = s->r;
		size_t est = p.cost;
		memset(s, 0, sizeof(*s));
		pl.consumed = i + 1;
		pthread_mutex_unlock(&pl.mu);
		char *dt = done_to && done_to[i] ? strdup(done_to[i]) : NULL;
		r = store_one(ing, paths[i], &p, pr, dt);
		ing_prep_release(&p);
		pthread_mutex_lock(&pl.mu);
		pl.inflight -= est; /* a slot and its budget are free again */
		if (pl.workers_waiting)
			pthread_cond_broadcast(&pl.work);
		pthread_mutex_unlock(&pl.mu);
	}
	pthread_mutex_lock(&pl.mu);
	pl.stop = true;
	pthread_cond_broadcast(&pl.work);
	pthread_mutex_unlock(&pl.mu);
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	for (size_t i = 0; i < pl.nslots; i++)
		if (pl.slots[i].ready)
			ing_prep_release(&pl.slots[i].p);
	pthread_cond_destroy(&pl.work);
	pthread_cond_destroy(&pl.ready);
	pthread_mutex_destroy(&pl.mu);
	free(pl.slots);
	free(th);
	return r;
}

/* ---- walking directories ---- */

void ing_paths_release(struct ing_paths *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i]);
		free(l->to[i]);
	}
	free(l->v);
	free(l->to);
	memset(l, 0, sizeof(*l));
}

int ing_paths_add(struct ing_paths *l, char *path, char *to)
{
	/* on a failure of the second, the first is only larger than l->cap says */
	size_t cap = l->cap, cap_to = l->cap;
	if (sts_array_grow(&l->v, l->n, &cap, sizeof(*l->v), 64) < 0 ||
	    sts_array_grow(&l->to, l->n, &cap_to, sizeof(*l->to), 64) < 0) {
		free(path);
		free(to);
		return STS_ENOMEM;
	}
	l->cap = cap;
	l->v[l->n] = path;
	l->to[l->n++] = to;
	return STS_OK;
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join(const char *dir, const char *name)
{
	char *p = NULL;
	size_t n = strlen(dir);
	if (asprintf(&p, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name) < 0)
		return NULL;
	return p;
}

static int walk(struct sts_ingest *ing, const char *dir, unsigned depth, struct ing_paths *l)
{
	DIR *d = opendir(dir);
	if (!d) {
		int e = -errno;
		if (depth == 0)
			return e;
		ing_source_error(ing, dir, e, "cannot read directory '%s': %s", dir, strerror(-e));
		return STS_OK;
	}
	int r = STS_OK;
	struct dirent *de;
	while (r == STS_OK && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue; /* ., .., hidden files, Maildir-style temporary names */
		char *p = join(dir, de->d_name);
		if (!p) {
			r = STS_ENOMEM;
			break;
		}
		unsigned char t = de->d_type;
		if (t == DT_UNKNOWN) {
			struct stat sb;
			t = lstat(p, &sb) < 0	  ? DT_UNKNOWN
			    : S_ISDIR(sb.st_mode) ? DT_DIR
			    : S_ISREG(sb.st_mode) ? DT_REG
						  : DT_LNK;
		}
		if (t == DT_DIR) {
			if (depth + 1 >= ING_DIR_DEPTH)
				ing_source_error(
				    ing, p, STS_ETOOLARGE,
				    "directory '%s' is nested more than %d deep, skipping", p,
				    ING_DIR_DEPTH);
			else
				r = walk(ing, p, depth + 1, l);
			free(p);
		} else {
			r = ing_paths_add(l, p, NULL);
		}
	}
	closedir(d);
	return r;
}

STS_API int sts_ingest_path(struct sts_ingest *ing, const char *path)
{
	struct stat sb;
	if (stat(path, &sb) < 0)
		return -errno;
	if (!S_ISDIR(sb.st_mode)) {
		struct ing_prep p;
		memset(&p, 0, sizeof(p));
		int r = ing_prep_file(ing, path, STS_CH_FILE, true, &p);
		if (r == STS_OK) {
			enum sts_ingest_outcome oc;
			ing->st.inputs++;
			r = ing_store(ing, &p, &oc);
		}
		ing_prep_release(&p);
		return r;
	}
	struct ing_paths l = {0};
	int r = walk(ing, path, 0, &l);
	if (r == STS_OK) {
		if (l.n > 1)
			qsort(l.v, l.n, sizeof(*l.v), cmp_path);
		r = ing_run_files(ing, l.v, l.n, STS_CH_FILE, NULL);
	}
	ing_paths_release(&l);
	return r;
}

/* ---- Maildir ---- */

/* "NAME:2,FLAGS" with S added (flags stay in ASCII order); NULL if already seen */
static char *seen_name(const char *name, int *err)
{
	const char *info = strstr(name, ":2,");
	char *out = NULL;
	if (!info) {
		if (asprintf(&out, "%s:2,S", name) < 0)
			*err = STS_ENOMEM;
		return out;
	}
	const char *flags = info + 3;
	if (strchr(flags, 'S'))
		return NULL;
	size_t pre = (size_t)(flags - name), nf = strlen(flags);
	if (!(out = malloc(pre + nf + 2))) {
		*err = STS_ENOMEM;
		return NULL;
	}
	memcpy(out, name, pre);
	size_t o = pre, i = 0;
	while (i < nf && (unsigned char)flags[i] < 'S')
		out[o++] = flags[i++];
	out[o++] = 'S';
	while (i < nf)
		out[o++] = flags[i++];
	out[o] = '\0';
	return out;
}

static int maildir_list(struct sts_ingest *ing, const char *root, const char *sub,
			struct ing_paths *l)
{
	char *dir = join(root, sub), *cur = join(root, "cur");
	int r = dir && cur ? STS_OK : STS_ENOMEM;
	DIR *d = r == STS_OK ? opendir(dir) : NULL;
	if (r == STS_OK && !d) {
		r = -errno;
		goto out;
	}
	struct dirent *de;
	while (r == STS_OK && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		int err = STS_OK;
		char *to_name = seen_name(de->d_name, &err);
		if (err < 0) {
			r = err;
			break;
		}
		if (!to_name)
			continue; /* seen: processed before */
		char *p = join(dir, de->d_name), *to = join(cur, to_name);
		free(to_name);
		if (!p || !to) {
			free(p);
			free(to);
			r = STS_ENOMEM;
			break;
		}
		r = ing_paths_add(l, p, to);
	}
out:
	if (d)
		closedir(d);
	free(dir);
	free(cur);
	(void)ing;
	return r;
}

/* sort paths and their targets together */
struct pair {
	char *path, *to;
};

static int cmp_pair(const void *a, const void *b)
{
	return strcmp(((const struct pair *)a)->path, ((const struct pair *)b)->path);
}

STS_API int sts_ingest_maildir(struct sts_ingest *ing, const char *dir)
{
	struct ing_paths l = {0};
	int r = maildir_list(ing, dir, "new", &l);
	if (r == STS_OK)
		r = maildir_list(ing, dir, "cur", &l);
	if (r == STS_OK && l.n) {
		struct pair *pv = malloc(l.n * sizeof(*pv));
		if (!pv) {
			r = STS_ENOMEM;
		} else {
			for (size_t i = 0; i < l.n; i++)
				pv[i] = (struct pair){l.v[i], l.to[i]};
			qsort(pv, l.n, sizeof(*pv), cmp_pair);
			for (size_t i = 0; i < l.n; i++) {
				l.v[i] = pv[i].path;
				l.to[i] = pv[i].to;
			}
			free(pv);
			r = ing_run_files(ing, l.v, l.n, STS_CH_MAILDIR, (const char *const *)l.to);
		}
	}
	if (r == STS_OK)
		r = ing_commit(ing); /* the renames happen after the commit */
	ing_paths_release(&l);
	return r;
}

/* ---- SOURCE ---- */

STS_API int sts_ingest_source(struct sts_ingest *ing, const char *spec)
{
	const struct sts_ingest_source *cs = sts_ingest_conf_source(ing->conf, spec);
	int r;
	ing->src_trusted = cs && cs->trusted;
	ing->src_name = cs && cs->trusted ? cs->name : NULL;
	if (strncmp(spec, "imap://", 7) == 0 || strncmp(spec, "imaps://", 8) == 0) {
		struct sts_ingest_source dflt = {.spec = (char *)spec};
		r = sts_ingest_imap(ing, cs ? cs : &dflt);
	} else if (strncmp(spec, "maildir:", 8) == 0) {
		r = spec[8] ? sts_ingest_maildir(ing, spec + 8) : STS_EINVAL;
	} else if (!*spec) {
		r = STS_EINVAL;
	} else {
		r = sts_ingest_path(ing, spec);
	}
	ing->src_trusted = false;
	ing->src_name = NULL;
	return r;
}
