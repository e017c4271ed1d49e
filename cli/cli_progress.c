/* SPDX-License-Identifier: MIT */
/* The progress line of the long commands on standard error (cli_progress.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_ctx.h"
#include "cli_progress.h"

#define LIVE_EVERY_MS  100L   /* at most 10 redraws a second */
#define PLAIN_EVERY_MS 10000L /* one plain line every 10 s */
#define BAR_WIDTH      20

static struct {
	pthread_mutex_t mu;
	bool on, live, drawn, plain_written;
	const char *what, *unit;
	size_t done, total, failed;
	size_t shown; /* done as last drawn or written */
	long start_ms, last_ms, every_ms;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER};

static long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int cli_opt_progress(struct cli_ctx *ctx, void *field, const char *value)
{
	static const char *const names[] = {"auto", "always", "never"};
	for (int i = 0; value && i < 3; i++)
		if (strcmp(value, names[i]) == 0) {
			*(int *)field = i;
			return EXIT_OK;
		}
	if (!value) { /* the old spelling of check and onboard: --progress */
		*(int *)field = CLI_PROGRESS_ALWAYS;
		return EXIT_OK;
	}
	return cli_usage_error(ctx->def->usage,
			       "invalid --progress '%s': expected auto, always or never", value);
}

/* The interval of the plain lines; a test build may shorten it. */
static long plain_every_ms(void)
{
#ifdef STS_TEST_HOOKS
	const char *e = getenv("STSCTL_TEST_PROGRESS_INTERVAL_MS");
	if (e && *e) {
		long v = strtol(e, NULL, 10);
		if (v > 0)
			return v;
	}
#endif
	return PLAIN_EVERY_MS;
}

void cli_progress_start(int mode, const char *what, const char *unit, size_t total)
{
	bool tty = cli_stderr_tty();
	pthread_mutex_lock(&P.mu);
	P.on = mode == CLI_PROGRESS_ALWAYS || (mode == CLI_PROGRESS_AUTO && cli_verbosity >= 1);
	P.live = mode == CLI_PROGRESS_ALWAYS || tty;
	P.drawn = P.plain_written = false;
	P.what = what;
	P.unit = unit;
	P.done = P.failed = P.shown = 0;
	P.total = total;
	P.start_ms = P.last_ms = mono_ms();
	P.every_ms = P.live ? LIVE_EVERY_MS : plain_every_ms();
	pthread_mutex_unlock(&P.mu);
}

sts_progress_fn *cli_progress_fn(void)
{
	return P.on ? cli_progress_update : NULL;
}

/* "done/total unit (pct%), rate/s, ETA" of the current state, into buf. */
static void format_counts(char *buf, size_t size, long now)
{
	double secs = (double)(now - P.start_ms) / 1000.0;
	double rate = secs > 0 ? (double)P.done / secs : 0;
	size_t n = 0;
	if (P.total)
		n = (size_t)snprintf(buf, size, "%zu/%zu %s (%zu%%), %.1f/s", P.done, P.total,
				     P.unit, P.done * 100 / P.total, rate);
	else
		n = (size_t)snprintf(buf, size, "%zu %s, %.1f/s", P.done, P.unit, rate);
	if (n < size && P.total && P.done < P.total && rate > 0) {
		long eta = (long)((double)(P.total - P.done) / rate + 0.5);
		n += (size_t)snprintf(buf + n, size - n, ", ETA %ld:%02ld", eta / 60, eta % 60);
	}
	if (n < size && P.failed)
		snprintf(buf + n, size - n, ", %zu failed", P.failed);
}

/* The live line, under P.mu. */
static void draw(long now)
{
	char counts[160];
	format_counts(counts, sizeof(counts), now);
	int fill = P.total ? (int)(P.done * BAR_WIDTH / P.total) : 0;
	if (P.total)
		fprintf(stderr, "\r%s [%.*s%*s] %s\033[K", P.what, fill,
			"====================", BAR_WIDTH - fill, "", counts);
	else
		fprintf(stderr, "\r%s: %s\033[K", P.what, counts);
	fflush(stderr);
	P.drawn = true;
	P.shown = P.done;
}

void cli_progress_update(void *ud, size_t done, size_t total, size_t failed)
{
	(void)ud;
	char line[200];
	bool plain = false;
	pthread_mutex_lock(&P.mu);
	if (!P.on) {
		pthread_mutex_unlock(&P.mu);
		return;
	}
	P.done = done;
	P.total = total;
	P.failed = failed;
	long now = mono_ms();
	bool last = total && done >= total;
	if (P.live && (now - P.last_ms >= P.every_ms || last || !P.drawn)) {
		draw(now);
		P.last_ms = now;
	} else if (!P.live && now - P.last_ms >= P.every_ms) {
		format_counts(line, sizeof(line), now);
		P.last_ms = now;
		P.shown = done;
		P.plain_written = plain = true;
	}
	pthread_mutex_unlock(&P.mu);
	if (plain) /* outside the lock: logging erases the live line */
		sts_log_info("%s: %s", P.what, line);
}

void cli_progress_erase(void)
{
	pthread_mutex_lock(&P.mu);
	if (P.drawn) {
		fputs("\r\033[K", stderr);
		P.drawn = false;
	}
	pthread_mutex_unlock(&P.mu);
}

void cli_progress_end(void)
{
	char line[200];
	bool plain = false;
	pthread_mutex_lock(&P.mu);
	if (P.on && P.live && P.drawn) {
		if (P.shown != P.done)
			draw(mono_ms()); /* the last state, then the line goes */
		fputs("\r\033[K", stderr);
		fflush(stderr);
		P.drawn = false;
	} else if (P.on && P.plain_written && P.shown != P.done) {
		format_counts(line, sizeof(line), mono_ms());
		plain = true;
	}
	P.on = false;
	pthread_mutex_unlock(&P.mu);
	if (plain)
		sts_log_info("%s: %s", P.what, line);
}
