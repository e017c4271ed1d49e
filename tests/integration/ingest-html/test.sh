#!/bin/bash
# stsctl report --format html rendered by a real browser: Debian's Chromium,
# headless, inside the testbed's client network namespace (no route anywhere,
# so nothing can be fetched). The page is self-contained; the screenshot must
# not be blank (and show the green and red bars); the DOM Chromium builds must
# hold exactly one chart per domain of the JSON report, each for its domain.
. "$STS_SOURCE_ROOT/tests/integration/harness/tb.sh"
. "$STS_SOURCE_ROOT/tests/integration/ingest-lib/lib.sh"
W=$STS_TB_RUN/ingest-html
rm -rf "$W"
mkdir -p "$W"
chmod 755 "$W"
command -v chromium >/dev/null && tb_ok "chromium installed" || tb_fail "chromium installed" "apt-get install chromium"

"$STSCTL" -q ingest --state "$W/s.db" --trusted lab-archive "$ING_SAMPLES"/0[1-5]*.json
"$STSCTL" -q ingest --state "$W/s.db" "$ING_SAMPLES"
"$STSCTL" report --state "$W/s.db" --format html >"$W/report.html" && tb_ok "report --format html" ||
	tb_fail "report --format html"
"$STSCTL" report --state "$W/s.db" --format json >"$W/report.json"
domains=$(python3 -c 'import json,sys; print("\n".join(sorted(d["domain"] for d in json.load(open(sys.argv[1]))["domains"])))' "$W/report.json")
n=$(printf '%s\n' "$domains" | wc -l)
tb_expect_eq "10 domains in the report" "10" "$n"
tb_expect_eq "self-contained: no src, href or url()" "0" "$(grep -c -E ' src=| href=|url\(' "$W/report.html")"

chrome() { # chrome ARGS...: headless Chromium in the client namespace, fresh profile
	local prof
	prof=$(mktemp -d "$W/profile.XXXXXX")
	tb_ns_cli timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
		--disable-component-update --disable-sync --no-first-run --disable-default-apps \
		--disable-extensions --user-data-dir="$prof" "$@" 2>>"$W/chromium.log"
}
chrome --window-size=1000,1600 --screenshot="$W/shot.png" "file://$W/report.html" >/dev/null
[ -s "$W/shot.png" ] && tb_ok "chromium wrote a screenshot" || tb_fail "chromium wrote a screenshot" "$(tail -5 "$W/chromium.log")"
# decode the PNG (stdlib only) and look at its pixels
verdict=$(python3 - "$W/shot.png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, hdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        hdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
w, h, depth, ctype = hdr[:4]
assert depth == 8 and ctype in (2, 6), f"unexpected PNG format {depth}/{ctype}"
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colors, nonwhite, green, red = set(), 0, 0, 0
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        r, g, b_ = line[x], line[x + 1], line[x + 2]
        colors.add((r, g, b_))
        if (r, g, b_) != (255, 255, 255): nonwhite += 1
        if (r, g, b_) == (0x2e, 0x7d, 0x32): green += 1
        if (r, g, b_) == (0xc6, 0x28, 0x28): red += 1
    prev = line
print(f"{w}x{h} colors={len(colors)} nonwhite={nonwhite} green={green} red={red}")
PY
)
tb_expect "screenshot decoded" "1000x1600" "$verdict"
read -r _ colors nonwhite green red <<<"$(tr '=' ' ' <<<"$verdict" | awk '{print $1, $3, $5, $7, $9}')"
[ "${colors:-0}" -gt 20 ] && [ "${nonwhite:-0}" -gt 20000 ] && tb_ok "screenshot is not blank ($verdict)" ||
	tb_fail "screenshot is not blank" "$verdict"
[ "${green:-0}" -gt 100 ] && [ "${red:-0}" -gt 100 ] && tb_ok "green and red bars drawn" ||
	tb_fail "green and red bars drawn" "$verdict"

chrome --dump-dom "file://$W/report.html" >"$W/dom.html"
tb_expect "chromium dumped the DOM" "</html>" "$(tail -c 200 "$W/dom.html")"
charts=$(python3 - "$W/dom.html" <<'PY'
import html.parser, sys
class P(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.charts, self.section = [], None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and "domain" in (a.get("class") or "").split():
            self.section = a.get("data-domain")
        if tag == "svg" and "chart" in (a.get("class") or "").split():
            self.charts.append((self.section, a.get("data-domain")))
p = P()
p.feed(open(sys.argv[1], encoding="utf-8").read())
for sec, dom in p.charts:
    print(dom if sec == dom else f"MISPLACED {dom} in {sec}")
PY
)
tb_expect_eq "one chart per domain, in its section" "$domains" "$(printf '%s\n' "$charts" | LC_ALL=C sort)"
bars=$(grep -o '<rect class="fail"' "$W/dom.html" | wc -l)
[ "$bars" -gt 0 ] && tb_ok "daily failure bars in the DOM ($bars)" || tb_fail "daily failure bars in the DOM"

tb_done
