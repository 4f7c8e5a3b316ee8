"""The dashboard's HTML: inline SVG charts and a few lines of JS (no CDN, works offline)."""

from __future__ import annotations

import json
from html import escape

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}
.neg{color:#b3261e}.pos{color:#1b7f3b}.muted{color:#777}.alert{background:#fdecea}
.sev-high{font-weight:bold;color:#b3261e}.sev-medium{color:#c15c00}
circle.pt{cursor:pointer}#items li{margin:4px 0}
"""

SSE_JS = """
const es = new EventSource('/v1/events');
es.addEventListener('update', ev => {
  const c = JSON.parse(ev.data);
  for (const k of ['items', 'scored', 'repeats', 'rejected', 'alerts']) {
    const el = document.getElementById('n-' + k); if (el) el.textContent = c[k];
  }
  document.getElementById('live').textContent = 'live: updated ' + new Date().toLocaleTimeString();
});
"""


def _page(title: str, body: str, script: str = "") -> str:
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><link rel='icon' href='data:,'><title>{escape(title)}</title>"
        f"<style>{STYLE}</style></head><body>{body}<script>{SSE_JS}{script}</script>"
        "</body></html>"
    )


def _counts(c: dict) -> str:
    parts = [
        f"<span id='n-{k}'>{c[k]}</span> {label}"
        for k, label in (
            ("items", "items"),
            ("scored", "scored"),
            ("repeats", "repeats counted once"),
            ("rejected", "rejected"),
            ("alerts", "alerts"),
        )
    ]
    return f"<p>{' · '.join(parts)} <span id='live' class='muted'></span></p>"


def _pct(x) -> str:
    return "–" if x is None else f"{x:.0%}"


def spark(points: list[dict], w: int = 160, h: int = 28) -> str:
    vals = [p["negative_share"] or 0 for p in points][-30:]
    if len(vals) < 2:
        return ""
    step = w / (len(vals) - 1)
    d = " ".join(f"{i * step:.1f},{h - v * h:.1f}" for i, v in enumerate(vals))
    return (
        f"<svg width='{w}' height='{h}' class='spark'><polyline fill='none' stroke='#b3261e' "
        f"points='{d}'/></svg>"
    )


def _alert_li(a: dict) -> str:
    ev = a["evidence"]
    return (
        f"<li class='alert sev-{escape(a['severity'])}'>{escape(a['window']['start'][:16])} "
        f"<a href='/entity/{escape(a['entity'])}'>{escape(a['entity'])}</a> "
        f"{escape(a['direction'])} {ev['count']}/{ev['n']} ({_pct(ev['share'])}) vs baseline "
        f"{_pct(ev['baseline']['share'])}, p={a['p_value']:.1e}, {escape(a['severity'])}</li>"
    )


def sectors_table(sectors: dict[str, list[dict]]) -> str:
    if not sectors:
        return ""
    trs = "".join(
        f"<tr><td>{escape(str(k))}</td><td>{pts[-1]['start'][:16]}</td><td>{pts[-1]['n']}</td>"
        f"<td class='neg'>{_pct(pts[-1]['negative_share'])}</td><td>{spark(pts)}</td></tr>"
        for k, pts in sorted(sectors.items())
    )
    return (
        "<h2>Sectors</h2><table id='sectors'><tr><th>sector</th><th>last window</th>"
        f"<th>items</th><th>negative</th><th>negative share, last 30</th></tr>{trs}</table>"
    )


def overview(
    rows: list[dict], alerts: list[dict], overall: list[dict], counts, window_s, sectors=None
) -> str:
    trs = "".join(
        f"<tr><td><a href='/entity/{escape(r['entity'])}'>{escape(r['entity'])}</a></td>"
        f"<td>{escape(r['last']['start'][:16])}</td><td>{r['last']['n']}</td>"
        f"<td class='neg'>{_pct(r['last']['negative_share'])} "
        f"<span class='muted'>[{_pct(r['last']['negative_ci'][0])}, "
        f"{_pct(r['last']['negative_ci'][1])}]</span></td>"
        f"<td class='pos'>{_pct(r['last']['positive_share'])}</td>"
        f"<td>{spark(r['points'])}</td><td>{r['total']}</td><td>{r['alerts']}</td></tr>"
        for r in rows
    )
    body = (
        "<h1>Financial sentiment monitor</h1>"
        + _counts(counts)
        + f"<p class='muted'>window {window_s // 3600 or window_s // 60}"
        + ("h" if window_s >= 3600 else "m")
        + "; shares with Wilson 95% intervals; repeats counted once</p>"
        + "<h2>Entities</h2><table id='entities'><tr><th>entity</th><th>last window</th>"
        "<th>items</th><th>negative</th><th>positive</th><th>negative share, last 30</th>"
        f"<th>total</th><th>alerts</th></tr>{trs}</table>"
        + sectors_table(sectors or {})
        + "<h2>Overall</h2>"
        + chart(overall, [])
        + "<h2>Recent alerts</h2><ul id='alerts'>"
        + ("".join(_alert_li(a) for a in alerts) or "<li class='muted'>none</li>")
        + "</ul>"
    )
    return _page("tunewise monitor", body)


def chart(points: list[dict], alerts: list[dict], w: int = 860, h: int = 240) -> str:
    """Negative and positive shares with Wilson bands, volume bars, alerts as markers."""
    if not points:
        return "<p class='muted'>no scored items yet</p>"
    n = len(points)
    left, top, ph, vh = 40, 10, h - 90, 50
    step = (w - left - 10) / max(n - 1, 1)
    x = lambda i: left + i * step  # noqa: E731
    y = lambda v: top + ph - (v or 0) * ph  # noqa: E731
    parts = [f"<svg id='chart' width='{w}' height='{h}' role='img'>"]
    for v in (0, 0.5, 1):
        parts.append(
            f"<line x1='{left}' x2='{w - 10}' y1='{y(v):.1f}' y2='{y(v):.1f}' stroke='#eee'/>"
            f"<text x='4' y='{y(v) + 4:.1f}' font-size='10'>{v:.0%}</text>"
        )
    by_start = {p["start"]: i for i, p in enumerate(points)}
    for a in alerts:
        i = by_start.get(a["window"]["start"])
        if i is None:
            continue
        color = "#b3261e" if a["direction"] == "negative" else "#1b7f3b"
        parts.append(
            f"<g class='alert-mark' data-start='{escape(a['window']['start'])}'>"
            f"<line x1='{x(i):.1f}' x2='{x(i):.1f}' y1='{top}' y2='{top + ph}' stroke='{color}' "
            f"stroke-dasharray='3,3'/><path d='M{x(i) - 6:.1f},{top} l12,0 l-6,10 z' "
            f"fill='{color}'><title>alert {escape(a['direction'])} {escape(a['severity'])} "
            f"p={a['p_value']:.1e}</title></path></g>"
        )
    for key, color in (("negative", "#b3261e"), ("positive", "#1b7f3b")):
        band = [f"{x(i):.1f},{y(p[key + '_ci'][1]):.1f}" for i, p in enumerate(points)] + [
            f"{x(i):.1f},{y(p[key + '_ci'][0]):.1f}" for i, p in reversed(list(enumerate(points)))
        ]
        parts.append(f"<polygon points='{' '.join(band)}' fill='{color}' opacity='0.12'/>")
        line = " ".join(f"{x(i):.1f},{y(p[key + '_share']):.1f}" for i, p in enumerate(points))
        parts.append(f"<polyline points='{line}' fill='none' stroke='{color}' stroke-width='1.5'/>")
    vmax = max(p["n"] for p in points) or 1
    base = top + ph + 20 + vh
    for i, p in enumerate(points):
        bh = p["n"] / vmax * vh
        parts.append(
            f"<rect class='vol' x='{x(i) - max(step * 0.35, 1):.1f}' y='{base - bh:.1f}' "
            f"width='{max(step * 0.7, 2):.1f}' height='{bh:.1f}' fill='#9aa'/>"
        )
        parts.append(
            f"<circle class='pt' cx='{x(i):.1f}' cy='{y(p['negative_share']):.1f}' r='3.5' "
            f"fill='#b3261e' data-start='{p['start']}'><title>{p['start'][:16]}: "
            f"{p['negative']}/{p['n']} negative ({_pct(p['negative_share'])}, 95% "
            f"{_pct(p['negative_ci'][0])}–{_pct(p['negative_ci'][1])})</title></circle>"
        )
    parts.append(
        f"<text x='{left}' y='{h - 2}' font-size='10'>{points[0]['start'][:10]}</text>"
        f"<text x='{w - 90}' y='{h - 2}' font-size='10'>{points[-1]['start'][:10]}</text></svg>"
    )
    return "".join(parts)


ITEMS_JS = """
document.querySelectorAll('circle.pt').forEach(c => c.addEventListener('click', async () => {
  const r = await fetch('/v1/items?entity=' + encodeURIComponent(ENTITY) + '&start=' +
                        encodeURIComponent(c.dataset.start));
  const data = await r.json();
  const ul = document.getElementById('items'); ul.innerHTML = '';
  document.getElementById('items-title').textContent = 'Items in ' + c.dataset.start;
  for (const it of data.items) {
    const li = document.createElement('li');
    li.textContent = it.time + '  p(neg)=' + it.p_negative.toFixed(2) + '  ' + it.text;
    ul.appendChild(li);
  }
}));
"""


def entity(ticker: str, points: list[dict], alerts: list[dict], window_s: int) -> str:
    rows = "".join(
        f"<tr><td>{escape(p['start'][:16])}</td><td>{p['n']}</td><td class='neg'>{p['negative']} "
        f"({_pct(p['negative_share'])} [{_pct(p['negative_ci'][0])}, "
        f"{_pct(p['negative_ci'][1])}])</td><td class='pos'>{p['positive']} "
        f"({_pct(p['positive_share'])})</td><td>{p['mean_p_negative']}</td></tr>"
        for p in reversed(points)
    )
    body = (
        f"<p><a href='/'>all entities</a></p><h1>{escape(ticker)}</h1>"
        + _counts({"items": "", "scored": "", "repeats": "", "rejected": "", "alerts": ""})
        + "<p class='muted'>negative (red) and positive (green) share per window with Wilson "
        "95% bands; bars: volume; dashed lines: alerts. Click a point for its items.</p>"
        + chart(points, alerts)
        + "<h2 id='items-title'>Items</h2><ul id='items'></ul>"
        + "<h2>Alerts</h2><ul>"
        + ("".join(_alert_li(a) for a in alerts) or "<li class='muted'>none</li>")
        + "</ul><h2>Windows</h2><table><tr><th>window</th><th>items</th><th>negative</th>"
        f"<th>positive</th><th>mean p(negative)</th></tr>{rows}</table>"
    )
    return _page(
        f"{ticker} - tunewise monitor", body, f"const ENTITY={json.dumps(ticker)};" + ITEMS_JS
    )
