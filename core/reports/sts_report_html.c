/* SPDX-License-Identifier: MIT */
/*
 * The HTML summary: one self-contained page (inline CSS, no script, no
 * external resource). It opens with an overview table, one row per domain
 * worst first (sessions, failure ratio, worst result type, trend), then per
 * domain the totals, an inline SVG chart of the daily successful and failed
 * sessions, and the failure breakdowns. Every table has a header row.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sts_report_int.h"

#define CHART_W	   760
#define CHART_H	   240
#define PAD_L	   64
#define PAD_R	   16
#define PAD_T	   28
#define PAD_B	   40
#define MAX_FILL   400 /* days: a longer span shows only the days with data */
#define OK_COLOR   "#2e7d32"
#define FAIL_COLOR "#c62828"

/* the characters HTML gives a meaning, and what stands for each */
static const char *const entities[256] = {
    ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&#39;",
};

static void esc(struct rpt_out *o, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (entities[c])
			rpt_out(o, "%s", entities[c]);
		else if (c < 0x20)
			rpt_out(o, "?");
		else
			rpt_out(o, "%c", *s);
	}
}

static time_t day_time(const char *date)
{
	struct tm tm = {0};
	if (!strptime(date, "%Y-%m-%d", &tm))
		return 0;
	return timegm(&tm);
}

struct point {
	char date[11];
	int64_t ok, bad;
};

/* the days to draw: every day from the first to the last (gaps are zero) */
static size_t chart_days(const struct sts_report_domain *d, struct point *pts, size_t max)
{
	if (!d->n_days)
		return 0;
	time_t first = day_time(d->days[0].date), last = day_time(d->days[d->n_days - 1].date);
	size_t n = 0;
	if (first && last >= first && (size_t)((last - first) / 86400) < max) {
		size_t j = 0;
		for (time_t t = first; t <= last && n < max; t += 86400) {
			struct tm tm;
			gmtime_r(&t, &tm);
			struct point *p = &pts[n++];
			strftime(p->date, sizeof(p->date), "%Y-%m-%d", &tm);
			p->ok = p->bad = 0;
			if (j < d->n_days && strcmp(d->days[j].date, p->date) == 0) {
				p->ok = d->days[j].successful;
				p->bad = d->days[j].failed;
				j++;
			}
		}
		return n;
	}
	for (size_t j = 0; j < d->n_days && n < max; j++) {
		memcpy(pts[n].date, d->days[j].date, sizeof(pts[n].date));
		pts[n].ok = d->days[j].successful;
		pts[n++].bad = d->days[j].failed;
	}
	return n;
}

/* a round scale for 4 grid steps: 1, 2 or 5 times a power of ten */
static int64_t scale_step(int64_t top)
{
	static const int64_t f[] = {1, 2, 5};
	for (int64_t mag = 1;; mag *= 10)
		for (int k = 0; k < 3; k++)
			if (f[k] * mag * 4 >= top || mag > INT64_MAX / 1000)
				return f[k] * mag;
}

static void chart(struct rpt_out *o, const struct sts_report_domain *d)
{
	struct point pts[MAX_FILL];
	size_t n = chart_days(d, pts, MAX_FILL);
	int64_t top = 1;
	for (size_t i = 0; i < n; i++) {
		if (pts[i].ok > top)
			top = pts[i].ok;
		if (pts[i].bad > top)
			top = pts[i].bad;
	}
	const int64_t step = scale_step(top), max = step * 4;
	const double pw = CHART_W - PAD_L - PAD_R, ph = CHART_H - PAD_T - PAD_B;
	rpt_out(o,
		"<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
		"height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" data-domain=\"",
		CHART_W, CHART_H, CHART_W, CHART_H);
	esc(o, d->domain);
	rpt_out(o, "\" aria-label=\"daily successful and failed sessions of ");
	esc(o, d->domain);
	rpt_out(o,
		"\">\n<rect class=\"bg\" x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
		"fill=\"#ffffff\"/>\n",
		CHART_W, CHART_H);
	/* axes, grid and scale */
	for (int t = 0; t <= 4; t++) {
		double y = PAD_T + ph - ph * t / 4.0;
		rpt_out(o,
			"<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"%s\"/>"
			"<text x=\"%d\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%" PRId64
			"</text>\n",
			PAD_L, y, CHART_W - PAD_R, y, t ? "#e0e0e0" : "#424242", PAD_L - 6, y + 4,
			step * t);
	}
	rpt_out(o,
		"<g class=\"legend\" font-size=\"12\"><rect x=\"%d\" y=\"8\" width=\"12\" "
		"height=\"12\" fill=\"" OK_COLOR "\"/><text x=\"%d\" y=\"18\">successful</text>"
		"<rect x=\"%d\" y=\"8\" width=\"12\" height=\"12\" fill=\"" FAIL_COLOR "\"/>"
		"<text x=\"%d\" y=\"18\">failed</text></g>\n",
		CHART_W - PAD_R - 170, CHART_W - PAD_R - 154, CHART_W - PAD_R - 70,
		CHART_W - PAD_R - 54);
	if (!n) {
		rpt_out(o,
			"<text x=\"%d\" y=\"%d\" font-size=\"14\" text-anchor=\"middle\">no "
			"sessions reported</text>\n</svg>\n",
			CHART_W / 2, CHART_H / 2);
		return;
	}
	double gw = pw / (double)n, bw = gw * 0.4;
	if (bw > 24)
		bw = 24;
	for (size_t i = 0; i < n; i++) {
		double x = PAD_L + gw * (double)i + gw / 2 - bw;
		double hok = ph * (double)pts[i].ok / (double)max;
		double hbad = ph * (double)pts[i].bad / (double)max;
		if (pts[i].bad > 0 && hbad < 2)
			hbad = 2; /* a few failures among many successes stay visible */
		rpt_out(
		    o,
		    "<g class=\"day\" data-date=\"%s\"><rect class=\"ok\" x=\"%.1f\" y=\"%.1f\" "
		    "width=\"%.1f\" height=\"%.1f\" fill=\"" OK_COLOR "\"><title>%s: %" PRId64
		    " successful</title></rect><rect class=\"fail\" x=\"%.1f\" y=\"%.1f\" "
		    "width=\"%.1f\" height=\"%.1f\" fill=\"" FAIL_COLOR "\"><title>%s: %" PRId64
		    " failed</title></rect></g>\n",
		    pts[i].date, x, PAD_T + ph - hok, bw, hok, pts[i].date, pts[i].ok, x + bw,
		    PAD_T + ph - hbad, bw, hbad, pts[i].date, pts[i].bad);
	}
	/* at most 8 date labels */
	size_t every = n <= 8 ? 1 : (n + 7) / 8;
	for (size_t i = 0; i < n; i += every)
		rpt_out(
		    o,
		    "<text x=\"%.1f\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">%s</text>\n",
		    PAD_L + gw * (double)i + gw / 2, CHART_H - PAD_B + 16, pts[i].date);
	rpt_out(o, "</svg>\n");
}

static void table(struct rpt_out *o, const char *title, const struct sts_report_count *v, size_t n)
{
	if (!n)
		return;
	rpt_out(o,
		"<table><caption>failures by %s</caption>\n<thead><tr><th scope=\"col\">%s</th>"
		"<th scope=\"col\">failed sessions</th></tr></thead>\n<tbody>\n",
		title, title);
	for (size_t i = 0; i < n; i++) {
		rpt_out(o, "<tr><td>");
		esc(o, v[i].key);
		rpt_out(o, "</td><td class=\"n\">%" PRId64 "</td></tr>\n", v[i].sessions);
	}
	rpt_out(o, "</tbody></table>\n");
}

/*
 * The overview. The trend compares the last half of the report's span with
 * the half before it, both of equal length: the span runs from --since (or
 * the first day any domain has data) to --until (or the last such day); of
 * an odd number of days the middle one is left out. A domain's trend is
 * "worse" or "better" when its failure ratio differs by at least one
 * percentage point between the two halves, "steady" otherwise, and "-" when
 * either half has no sessions or the span is a single day.
 */
struct span {
	time_t first, last; /* days (UTC midnight); 0 = no span */
};

struct overview_row {
	const struct sts_report_domain *d;
	double fail;	      /* failure ratio, -1 without sessions */
	double before, after; /* failure ratios of the two halves, -1 without sessions */
};

static double fail_ratio(int64_t ok, int64_t bad)
{
	double r = rpt_ratio(ok, bad);
	return r < 0 ? -1.0 : 1.0 - r;
}

static struct span report_span(const struct sts_report *r)
{
	struct span s = {r->since[0] ? day_time(r->since) : 0,
			 r->until[0] ? day_time(r->until) : 0};
	for (size_t i = 0; i < r->n_domains; i++) {
		const struct sts_report_domain *d = &r->domains[i];
		if (!d->n_days)
			continue;
		time_t a = day_time(d->days[0].date), b = day_time(d->days[d->n_days - 1].date);
		if (!r->since[0] && a && (!s.first || a < s.first))
			s.first = a;
		if (!r->until[0] && b > s.last)
			s.last = b;
	}
	if (!s.first || s.last < s.first)
		s.first = s.last = 0;
	return s;
}

/* the failure ratios of d over the first and the last half of the span */
static void halves(const struct sts_report_domain *d, struct span s, struct overview_row *row)
{
	int64_t half = (int64_t)(s.last - s.first) / 86400 + 1;
	int64_t ok[2] = {0, 0}, bad[2] = {0, 0};
	half /= 2;
	row->before = row->after = -1.0;
	if (!s.first || half < 1)
		return;
	for (size_t j = 0; j < d->n_days; j++) {
		time_t t = day_time(d->days[j].date);
		int k = t >= s.first && t < s.first + half * 86400 ? 0
			: t > s.last - half * 86400 && t <= s.last ? 1
								   : -1;
		if (k >= 0) {
			ok[k] += d->days[j].successful;
			bad[k] += d->days[j].failed;
		}
	}
	row->before = fail_ratio(ok[0], bad[0]);
	row->after = fail_ratio(ok[1], bad[1]);
}

/* worst first: failure ratio, then failed sessions, then name; no sessions last */
static int worst_first(const void *a, const void *b)
{
	const struct overview_row *x = a, *y = b;
	if (x->fail != y->fail)
		return x->fail > y->fail ? -1 : 1;
	if (x->d->failed != y->d->failed)
		return x->d->failed > y->d->failed ? -1 : 1;
	return strcmp(x->d->domain, y->d->domain);
}

static const char *trend(const struct overview_row *row)
{
	if (row->before < 0 || row->after < 0)
		return "-";
	if (row->after >= row->before + 0.01)
		return "worse";
	if (row->after <= row->before - 0.01)
		return "better";
	return "steady";
}

static void overview(struct rpt_out *o, const struct sts_report *r)
{
	struct overview_row *rows = calloc(r->n_domains ? r->n_domains : 1, sizeof(*rows));
	struct span s = report_span(r);
	if (!rows) {
		rpt_out(o, "<p class=\"fail\">overview: out of memory</p>\n");
		return;
	}
	for (size_t i = 0; i < r->n_domains; i++) {
		rows[i].d = &r->domains[i];
		rows[i].fail = fail_ratio(r->domains[i].successful, r->domains[i].failed);
		halves(&r->domains[i], s, &rows[i]);
	}
	qsort(rows, r->n_domains, sizeof(*rows), worst_first);
	rpt_out(o, "<table id=\"overview\" class=\"overview\"><caption>overview, worst "
		   "first (trend: the last half of the period against the half before "
		   "it)</caption>\n<thead><tr><th scope=\"col\">domain</th><th "
		   "scope=\"col\">sessions</th><th scope=\"col\">failure ratio</th><th "
		   "scope=\"col\">worst result type</th><th "
		   "scope=\"col\">trend</th></tr></thead>\n<tbody>\n");
	for (size_t i = 0; i < r->n_domains; i++) {
		const struct sts_report_domain *d = rows[i].d;
		rpt_out(o, "<tr data-domain=\"");
		esc(o, d->domain);
		rpt_out(o, "\"><td>");
		esc(o, d->domain[0] ? d->domain : "(no policy domain)");
		rpt_out(o, "</td><td class=\"n\">%" PRId64 "</td>", d->successful + d->failed);
		if (rows[i].fail >= 0)
			rpt_out(o, "<td class=\"n%s\">%.2f%%</td>", d->failed ? " fail" : "",
				rows[i].fail * 100.0);
		else
			rpt_out(o, "<td class=\"n\">-</td>");
		rpt_out(o, "<td>");
		esc(o, d->n_by_result_type ? d->by_result_type[0].key : "-");
		rpt_out(o, "</td><td class=\"trend\">%s", trend(&rows[i]));
		if (rows[i].before >= 0 && rows[i].after >= 0)
			rpt_out(o, " (%.2f%% &rarr; %.2f%%)", rows[i].before * 100.0,
				rows[i].after * 100.0);
		rpt_out(o, "</td></tr>\n");
	}
	rpt_out(o, "</tbody></table>\n");
	free(rows);
}

void rpt_write_html(struct rpt_out *o, const struct sts_report *r)
{
	rpt_out(o, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		   "<title>TLS-RPT summary</title>\n<style>\n"
		   "body{font-family:sans-serif;margin:2em;color:#212121;background:#fafafa}\n"
		   "section.domain{background:#fff;border:1px solid #ddd;padding:1em;"
		   "margin:1em 0}\n"
		   "table{border-collapse:collapse;margin:.5em 2em .5em 0;display:inline-table;"
		   "vertical-align:top}\n"
		   "caption{text-align:left;font-weight:bold}\n"
		   "td,th{border-bottom:1px solid #eee;padding:2px 8px}td.n{text-align:right}\n"
		   "th{text-align:left;border-bottom:1px solid #999}\n"
		   ".ok{color:" OK_COLOR "}.fail{color:" FAIL_COLOR "}\n"
		   "</style></head>\n<body>\n<h1>TLS-RPT summary</h1>\n<p class=\"scope\">");
	if (r->since[0] || r->until[0]) {
		rpt_out(o, "reports from %s to %s", r->since[0] ? r->since : "the start",
			r->until[0] ? r->until : "now");
	} else {
		rpt_out(o, "all reports stored");
	}
	rpt_out(o, "%s; %zu domain%s", r->authenticated_only ? ", authenticated only" : "",
		r->n_domains, r->n_domains == 1 ? "" : "s");
	if (r->quarantined)
		rpt_out(o, "; <span class=\"fail\">%" PRId64 " input%s in the quarantine</span>",
			r->quarantined, r->quarantined == 1 ? "" : "s");
	rpt_out(o, "</p>\n");
	overview(o, r);
	for (size_t i = 0; i < r->n_domains; i++) {
		const struct sts_report_domain *d = &r->domains[i];
		double ratio = rpt_ratio(d->successful, d->failed);
		rpt_out(o, "<section class=\"domain\" data-domain=\"");
		esc(o, d->domain);
		rpt_out(o, "\">\n<h2>");
		esc(o, d->domain[0] ? d->domain : "(no policy domain)");
		rpt_out(o,
			"</h2>\n<p class=\"totals\"><span class=\"ok\">%" PRId64
			" successful</span>, <span class=\"fail\">%" PRId64 " failed</span>",
			d->successful, d->failed);
		if (ratio >= 0)
			rpt_out(o, ", success ratio %.2f%%", ratio * 100.0);
		rpt_out(o, "; %" PRId64 " report%s, %" PRId64 " authenticated</p>\n", d->reports,
			d->reports == 1 ? "" : "s", d->auth_reports);
		chart(o, d);
		table(o, "result type", d->by_result_type, d->n_by_result_type);
		if (d->n_by_org) {
			rpt_out(o, "<table><caption>by organization</caption>\n<thead><tr><th "
				   "scope=\"col\">organization</th><th "
				   "scope=\"col\">successful</th><th scope=\"col\">failed</th></tr>"
				   "</thead>\n<tbody>\n");
			for (size_t j = 0; j < d->n_by_org; j++) {
				rpt_out(o, "<tr><td>");
				esc(o, d->by_org[j].name[0] ? d->by_org[j].name : "(unnamed)");
				rpt_out(o,
					"</td><td class=\"n ok\">%" PRId64
					"</td><td class=\"n fail\">%" PRId64 "</td></tr>\n",
					d->by_org[j].successful, d->by_org[j].failed);
			}
			rpt_out(o, "</tbody></table>\n");
		}
		table(o, "receiving MX", d->by_mx, d->n_by_mx);
		table(o, "sending MTA IP", d->by_ip, d->n_by_ip);
		rpt_out(o, "</section>\n");
	}
	rpt_out(o, "</body></html>\n");
}
