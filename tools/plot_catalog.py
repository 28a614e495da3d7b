#!/usr/bin/env python3
"""Plot an mcdnn catalog: validation accuracy against stored bytes, effective FLOPs and, when the
catalog was measured by the executor, batch-1 latency and execution energy.

    python3 tools/plot_catalog.py CATALOG_DIR [-o OUT_PREFIX]

Writes OUT_PREFIX.png and OUT_PREFIX.svg (default: CATALOG_DIR/catalog). CATALOG_DIR may also be
the path of its catalog.json. The plots carry a mark (PNG: a tEXt chunk Software = "mcdnn catalog
plot ..."; SVG: the comment <!-- mcdnn catalog plot -->) by which mcdnn-compile recognizes
CATALOG_DIR/catalog.png and catalog.svg as the catalog's own, like its report.html: rebuilding the
catalog into the same directory (--force, or after the schema changed) is not refused because of
them, and removes them with the old catalog (plot the new one again). Any other file there, a
catalog.png without the mark included, still makes mcdnn-compile refuse the directory. One panel per resource, on a logarithmic axis in human units (KB/MB,
MFLOPs, ms, mJ); every variant is a point, the Pareto front (as mcdnn-compile marked it in
catalog.json) a red line, its knee a star, the base model a diamond. Only the knee, the base and a
few well-separated front points are labelled; the table under each panel lists every variant of
its front, cheapest first. The accuracy axis spans the Pareto fronts (an isolated front point far
below the rest is left out); variants below it are drawn as triangles on the bottom edge and
counted above the panel. In the SVG every point has a tooltip (id, accuracy, costs, transforms).
"""
import argparse
import io
import json
import math
import os
import re
import sys
from xml.sax.saxutils import escape

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib import ticker  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

plt.rcParams.update({"svg.hashsalt": "mcdnn-plot-catalog", "font.size": 9, "axes.titlesize": 10})

# The mark of a plot this tool wrote (core/catalog/report.hpp is_catalog_plot()): mcdnn-compile
# accepts CATALOG_DIR/catalog.png and catalog.svg as the catalog's own only when they carry it.
PLOT_MARK = "mcdnn catalog plot"

C_POINT, C_FRONT, C_KNEE, C_BASE, C_BELOW = "#8596ad", "#c0392b", "#f5c518", "#2c3e50", "#9aa5b4"
DPI = 130


# ---- numbers in human units -------------------------------------------------------------------

def sig(x, n=3, trim=True):
    """x with n significant digits, no exponent; trailing zeros after the point dropped if trim."""
    if x == 0 or not math.isfinite(x):
        return "0" if x == 0 else str(x)
    d = n - 1 - math.floor(math.log10(abs(x)))
    r = round(x, d)
    if r != 0 and math.floor(math.log10(abs(r))) != math.floor(math.log10(abs(x))):
        d -= 1  # 9.996 -> 10.0, not 10.00
    s = f"{r:.{max(d, 0)}f}"
    if trim and "." in s:
        s = s.rstrip("0").rstrip(".")
    return s


def scaled(x, units, trim=False):
    """x in the largest unit of units (factor, name; largest first) that keeps it >= 1."""
    for f, name in units:
        if abs(x) >= f * 0.9995 or f == units[-1][0]:
            return sig(x / f, trim=trim), name
    return sig(x, trim=trim), ""


BYTE_UNITS = [(1e9, "GB"), (1e6, "MB"), (1e3, "KB"), (1, "B")]
FLOP_UNITS = [(1e9, "GFLOPs"), (1e6, "MFLOPs"), (1e3, "kFLOPs"), (1, "FLOPs")]
MS_UNITS = [(1e3, "s"), (1, "ms"), (1e-3, "µs")]
MJ_UNITS = [(1e3, "J"), (1, "mJ"), (1e-3, "µJ")]


def human(x, units, sep=" ", trim=False):
    v, u = scaled(x, units, trim)
    return f"{v}{sep}{u}"


def axis_unit(values, units, floor):
    """One unit for a whole axis: the largest in which the largest value is >= floor."""
    top = max(values)
    for f, name in units:
        if top >= floor * f:
            return f, name
    return units[-1]


# ---- the resources ------------------------------------------------------------------------------

class Metric:
    def __init__(self, key, get, units, front, knee, title, what, column, floor=None, note=""):
        self.key, self.get, self.units, self.front, self.knee = key, get, units, front, knee
        self.title, self.what, self.column, self.note = title, what, column, note
        self.floor = floor  # None: every tick and value in its own unit (bytes); else one unit per axis
        self.unit = None  # that unit, (factor, name), once the range is known; None: per tick

    def choose_unit(self, values):
        """One unit for the axis, unless the metric has none or the values span over 3 decades."""
        self.unit = None
        if self.floor is not None and math.log10(max(values) / min(values)) <= 3:
            self.unit = axis_unit(values, self.units, self.floor)

    def fmt(self, x):
        if self.unit is None:
            return human(x, self.units)
        return f"{sig(x / self.unit[0], trim=False)} {self.unit[1]}"


def metrics_of(cat):
    ms = [Metric("bytes", lambda v: max(v["bytes"], 1), BYTE_UNITS, "pareto_bytes", "knee_bytes",
                 "accuracy vs stored weight bytes", "stored weight bytes", "bytes"),
          Metric("flops", lambda v: max(v["flops_effective"], 1), FLOP_UNITS, "pareto_flops", "knee_flops",
                 "accuracy vs effective FLOPs", "effective FLOPs per input", "eff. FLOPs", floor=1.0)]
    ex = cat.get("executor")
    if ex is not None:
        ms.append(Metric("latency", lambda v: max(v["measured"]["latency_ms"], 1e-9), MS_UNITS, "pareto_latency",
                         "knee_latency", "accuracy vs measured latency", "batch-1 latency",
                         "latency", floor=0.01, note=f"executor, {ex.get('isa', '?')}, {ex.get('threads', 1)} thread"))
        ms.append(Metric("energy", lambda v: max(v["measured"]["exec_mj"], 1e-12), MJ_UNITS, "pareto_energy",
                         "knee_energy", "accuracy vs execution energy", "execution energy per input", "energy",
                         floor=0.01, note=f"model {ex.get('energy_model', '?')}, {ex.get('device_profile', '?')}"))
    return ms


def acc(v):
    return 100 * v["accuracy"]


# ---- axes ---------------------------------------------------------------------------------------

def accuracy_range(points, front, base):
    """(bottom, top) of the accuracy axis: the front's span (and the base's), without an isolated
    tail: the last front points (at most 10% of them, at least one, never the top two) when they lie
    below a gap wider than 2 points and than 1.5x the span of the front above it."""
    accs = sorted((acc(v) for v in front), reverse=True) or sorted((acc(v) for v, _ in points), reverse=True)
    top = max(acc(v) for v, _ in points)
    bottom = accs[-1]
    for i in range(max(2, len(accs) - max(1, len(accs) // 10)), len(accs)):  # the tail: 10% of it, at least 1
        gap, span = accs[i - 1] - accs[i], accs[0] - accs[i - 1]
        if gap > max(2.0, 1.5 * span):
            bottom = accs[i - 1]
            break
    if base is not None:
        bottom = min(bottom, acc(base))
    if top - bottom < 1.0:
        bottom = top - 1.0
    pad = 0.05 * (top - bottom)
    return bottom - pad, top + 2.4 * pad  # room above the most accurate points for their labels


def log_limits(xs):
    lo, hi = math.log10(min(xs)), math.log10(max(xs))
    if hi - lo < math.log10(1.6):  # a single point or a narrow range: at least 1.6x
        mid = (lo + hi) / 2
        lo, hi = mid - math.log10(1.6) / 2, mid + math.log10(1.6) / 2
    pad = 0.05 * (hi - lo)
    return 10 ** (lo - pad), 10 ** (hi + pad)


def set_log_ticks(ax, lo, hi, fmt):
    """Log axis with enough labelled ticks: the densest of 1..9, 1-2-3-4-5-6-8, 1-2-3-5, 1-2-5, 1-3
    and 1 per decade whose labels keep clear of each other (at most 10 of them), so ranges under a
    decade or two get their minor ticks labelled; plain steps when even that gives under three."""
    renderer = ax.figure.canvas.get_renderer()
    fp = FontProperties(size=plt.rcParams["xtick.labelsize"])
    width = ax.get_window_extent(renderer).width
    em = renderer.get_text_width_height_descent("M", fp, ismath=False)[0]

    def px(t):
        return width * math.log10(t / lo) / math.log10(hi / lo)

    def fits(ticks):
        if len(ticks) > 10:
            return False
        ws = [renderer.get_text_width_height_descent(fmt(t), fp, ismath=False)[0] for t in ticks]
        return all(px(ticks[k + 1]) - px(ticks[k]) >= (ws[k] + ws[k + 1]) / 2 + 1.2 * em for k in range(len(ticks) - 1))

    ticks = []
    for subs in [tuple(range(1, 10)), (1, 2, 3, 4, 5, 6, 8), (1, 2, 3, 5), (1, 2, 5), (1, 3), (1,)]:
        ticks = [t for t in ticker.LogLocator(base=10, subs=[float(x) for x in subs], numticks=1000).tick_values(lo, hi)
                 if lo <= t <= hi]
        if fits(ticks):
            break
    while not fits(ticks) and len(ticks) > 2:  # many decades: every other one, until they fit
        ticks = ticks[::2]
    if len(ticks) < 3:
        ticks = [t for t in ticker.MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
                 if lo <= t <= hi and t > 0]
    ax.xaxis.set_major_locator(ticker.FixedLocator(ticks))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda x, _: fmt(x)))
    ax.xaxis.set_minor_locator(ticker.LogLocator(base=10, subs=tuple(float(i) for i in range(1, 10)), numticks=1000))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())


# ---- labels placed clear of each other, of markers and of the front line --------------------------

def overlap(a, b):
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def place_labels(ax, renderer, wanted, markers, polyline, fontsize):
    """wanted: (x, y, text, essential, style) in data coordinates, in order of importance.
    markers: display (x, y, radius px). Each label is tried at growing offsets in 8 directions; the
    first position that overlaps nothing is kept, else (essential labels only) the least bad one."""
    px = ax.figure.dpi / 72
    frame = ax.get_window_extent(renderer)
    inner = (frame.x0 + 3, frame.y0 + 3, frame.x1 - 3, frame.y1 - 3)
    placed = []
    dirs = [(1, 1), (-1, 1), (1, -1), (-1, -1), (1, 0), (-1, 0), (0, 1), (0, -1)]
    dists = [9, 16, 26, 38, 52, 70, 92, 120]
    for x, y, text, essential, style in wanted:
        ann = ax.annotate(text, (x, y), xytext=(0, 0), textcoords="offset points", fontsize=fontsize,
                          color="#1d2733", zorder=8, linespacing=1.15, multialignment="left", **style)
        ax_xy = ax.transData.transform((x, y))
        best = None
        for d in dists:
            for ux, uy in dirs:
                n = math.hypot(ux, uy)
                dx, dy = d * ux / n, d * uy / n
                ann.xyann = (dx, dy)
                ann.set_ha("left" if ux > 0 else "right" if ux < 0 else "center")
                ann.set_va("bottom" if uy > 0 else "top" if uy < 0 else "center")
                e = ann.get_window_extent(renderer)
                b = (e.x0 - 3, e.y0 - 3, e.x1 + 3, e.y1 + 3)
                w, h = b[2] - b[0], b[3] - b[1]
                cost = 0.0
                inside = overlap(b, inner)
                cost += 50 * (w * h - inside)
                for p in placed:
                    cost += 30 * overlap(b, p)
                for mx, my, r in markers:
                    if abs(mx - ax_xy[0]) < 0.5 and abs(my - ax_xy[1]) < 0.5:
                        r = r + 2  # its own marker: keep the text off it
                    cost += 4 * overlap(b, (mx - r, my - r, mx + r, my + r))
                for sx, sy in polyline:
                    if b[0] <= sx <= b[2] and b[1] <= sy <= b[3]:
                        cost += 6
                # The leader line (drawn when the label is away from its point) should cross nothing.
                if d > 12:
                    lx = min(max(ax_xy[0], b[0]), b[2])
                    ly = min(max(ax_xy[1], b[1]), b[3])
                    steps = max(1, int(math.hypot(lx - ax_xy[0], ly - ax_xy[1]) / 3))
                    seg = [(ax_xy[0] + (lx - ax_xy[0]) * k / steps, ax_xy[1] + (ly - ax_xy[1]) * k / steps)
                           for k in range(steps + 1)]
                    for mx, my, r in markers:
                        if math.hypot(mx - ax_xy[0], my - ax_xy[1]) > r + 1 and any(
                                math.hypot(mx - qx, my - qy) < r + 1.5 for qx, qy in seg):
                            cost += 25
                    for p in placed:
                        if any(p[0] <= qx <= p[2] and p[1] <= qy <= p[3] for qx, qy in seg):
                            cost += 200
                cost += 0.02 * d * px
                if best is None or cost < best[0]:
                    best = (cost, dx, dy, ann.get_ha(), ann.get_va(), b)
            if best[0] < 0.02 * d * px + 1e-9:
                break
        clean = best[0] < 0.02 * dists[-1] * px + 1
        if not clean and not essential:
            ann.remove()
            continue
        cost, dx, dy, ha, va, b = best
        ann.xyann = (dx, dy)
        ann.set_ha(ha)
        ann.set_va(va)
        if math.hypot(dx, dy) > 12:
            ann.remove()
            ann = ax.annotate(text, (x, y), xytext=(dx, dy), textcoords="offset points", fontsize=fontsize,
                              color="#1d2733", zorder=8, ha=ha, va=va, linespacing=1.15, multialignment="left",
                              arrowprops=dict(arrowstyle="-", color="#5d6d7e", lw=0.7, shrinkA=1, shrinkB=4,
                                              relpos=(0.0 if ha == "left" else 1.0 if ha == "right" else 0.5,
                                                      0.0 if va == "bottom" else 1.0 if va == "top" else 0.5)),
                              **style)
        placed.append(b)


def wrap_id(s, width=30):
    """A long variant id broken after its '+' into lines of about width characters."""
    parts = s.split("+")
    lines, cur = [], parts[0]
    for p in parts[1:]:
        if len(cur) + 1 + len(p) > width:
            lines.append(cur)
            cur = "+" + p
        else:
            cur += "+" + p
    return lines + [cur]


# ---- one panel ------------------------------------------------------------------------------------

def draw_panel(ax, m, variants, base, ylabel, tips, tip_of, used):
    pts = [(v, m.get(v)) for v in variants]
    front = sorted((v for v, _ in pts if v.get(m.front)), key=m.get)
    knee = next((v for v, _ in pts if v.get(m.knee)), None)
    y0, y1 = accuracy_range(pts, front, base)
    x0, x1 = log_limits([x for _, x in pts])
    ax.set_xscale("log")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    note = f"; {m.note}" if m.note else ""
    if m.unit is None:
        set_log_ticks(ax, x0, x1, lambda x: human(x, m.units, trim=True))
        ax.set_xlabel(f"{m.what} (log scale{note})")
    else:
        f, u = m.unit
        set_log_ticks(ax, x0, x1, lambda x: sig(x / f))
        ax.set_xlabel(f"{m.what}, {u} (log scale{note})")
    ax.yaxis.set_major_locator(ticker.MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda y, _: sig(y, 4) if abs(y) >= 1 else sig(y)))
    ax.yaxis.set_minor_locator(ticker.AutoMinorLocator())
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", color="#c8ced6", lw=0.6, alpha=0.8)
    ax.grid(True, which="minor", axis="x", color="#dfe3e8", lw=0.4, alpha=0.8)
    ax.set_axisbelow(True)
    for s in ("top", "right"):
        ax.spines[s].set_visible(False)

    if base is not None and acc(base) - 1 > y0:
        ax.axhline(acc(base) - 1, color="#7f8c8d", linestyle=(0, (2, 2)), linewidth=0.8, zorder=1)
        used.add("base-1")
    if front:
        ax.plot([m.get(v) for v in front], [acc(v) for v in front], "-", color=C_FRONT, lw=1.4, zorder=3,
                solid_joinstyle="round")

    # Every variant is its own artist (with an SVG id, for its tooltip).
    markers, below, below_front = [], 0, 0
    to_px = ax.transData.transform
    order = sorted(range(len(pts)), key=lambda i: (pts[i][0].get(m.front, False), pts[i][0] is knee))
    for i in order:
        v, x = pts[i]
        y, on_front, is_base, is_knee = acc(v), bool(v.get(m.front)), v is base, v is knee
        used.add("below" if y < y0 else "knee" if is_knee else "base" if is_base else "front" if on_front else "variant")
        if y < y0:
            below += 1
            below_front += on_front
            kw = dict(marker="v", ms=6.5, mfc=C_FRONT if on_front else C_BELOW, mec="white", mew=0.5, zorder=5)
            y = y0
        elif is_knee:
            kw = dict(marker="*", ms=17, mfc=C_KNEE, mec="#5b4a00", mew=0.9, zorder=7)
        elif is_base:
            kw = dict(marker="D", ms=7, mfc=C_BASE, mec="white", mew=0.8, zorder=6)
        elif on_front:
            kw = dict(marker="o", ms=5.5, mfc=C_FRONT, mec="white", mew=0.6, zorder=5)
        else:
            kw = dict(marker="o", ms=5, mfc=C_POINT, mec="white", mew=0.4, alpha=0.9, zorder=4)
        (ln,) = ax.plot([x], [y], ls="none", clip_on=False, **kw)
        gid = f"mcdnn-{m.key}-{i}"
        ln.set_gid(gid)
        tips[gid] = tip_of(v)
        r = kw["ms"] * ax.figure.dpi / 72 / 2 * (0.75 if kw["marker"] == "*" else 1.0)
        px = to_px((x, y))
        markers.append((px[0], px[1], r))
    if below:
        ax.set_title(f"▼ {below} variant{'s' if below > 1 else ''} below {y0:.1f} %"
                     + (f" ({below_front} on the front)" if below_front else "") + ", on the bottom edge",
                     loc="right", fontsize=8, color="#4a5663")
    ax.set_title(m.title, loc="left", fontweight="bold")

    # The front line, sampled, so that labels keep clear of it.
    poly = []
    fp = [to_px((m.get(v), acc(v))) for v in front]
    for (ax0, ay0), (ax1, ay1) in zip(fp, fp[1:]):
        n = max(1, int(math.hypot(ax1 - ax0, ay1 - ay0) / 4))
        poly += [(ax0 + (ax1 - ax0) * k / n, ay0 + (ay1 - ay0) * k / n) for k in range(n + 1)]

    # Label the knee, the base and a few well-separated front points.
    wanted, anchors = [], []
    box = dict(boxstyle="round,pad=0.25", fc="white", ec="#b9c2cc", lw=0.6, alpha=0.92)

    def line_of(v, tag=""):
        return f"{tag}{sig(acc(v), 4)} %, {m.fmt(m.get(v))}"

    visible = lambda v: acc(v) >= y0  # noqa: E731
    if knee is not None and visible(knee):
        wanted.append((m.get(knee), acc(knee), "\n".join(wrap_id(knee["id"]) + [line_of(knee, "knee: ")]), True,
                       dict(bbox=dict(box, ec="#b8860b", lw=1.0))))
        anchors.append(to_px((m.get(knee), acc(knee))))
    if base is not None and visible(base) and base is not knee:
        wanted.append((m.get(base), acc(base), f"base: {line_of(base)}", True,
                       dict(bbox=dict(box, ec=C_BASE, lw=0.8))))
        anchors.append(to_px((m.get(base), acc(base))))
    vis_front = [v for v in front if visible(v) and v is not knee and v is not base]
    if vis_front:
        frame = ax.get_window_extent()
        sep = 0.16 * math.hypot(frame.width, frame.height)
        cand = [vis_front[0], vis_front[-1]] + sorted(
            vis_front[1:-1], key=lambda v: -min([math.dist(to_px((m.get(v), acc(v))), a) for a in anchors] or [1e9]))
        extras = []
        for v in cand:
            p = to_px((m.get(v), acc(v)))
            if len(extras) < 3 and v not in extras and all(math.dist(p, a) >= sep for a in anchors):
                extras.append(v)
                anchors.append(p)
        for v in extras:
            wanted.append((m.get(v), acc(v), "\n".join(wrap_id(v["id"]) + [line_of(v)]), False, dict(bbox=box)))
    place_labels(ax, ax.figure.canvas.get_renderer(), wanted, markers, poly, 7)
    return front, knee, y0


def factor(r):
    return f"{r:.1f}×" if r < 100 else f"{r:,.0f}×"


# ---- the table of a front -------------------------------------------------------------------------

def draw_table(tax, m, front, knee, base, y0, width_in, height_in, fontsize):
    """The front's variants, cheapest first: id, accuracy, change against the base, resource and the
    factor saved against the base. Drawn as text in an axes whose data units are inches (y down)."""
    tax.set_xlim(0, width_in)
    tax.set_ylim(height_in, 0)
    tax.axis("off")
    renderer = tax.figure.canvas.get_renderer()
    fp = FontProperties(size=fontsize)
    fpb = FontProperties(size=fontsize, weight="bold")

    def w_in(s, bold=False):
        w, _, _ = renderer.get_text_width_height_descent(s, fpb if bold else fp, ismath=False)
        return w / tax.figure.dpi

    rb = m.get(base) if base is not None else None
    head = ["", "variant", "accuracy", "vs base" if base is not None else "", m.column, "saving" if base else ""]
    rows = []
    for v in front:
        mark = "★" if v is knee else "▼" if acc(v) < y0 else "◆" if v is base else ""
        d = acc(v) - acc(base) if base is not None else None
        rows.append([mark, v["id"], f"{acc(v):.2f} %",
                     "" if d is None else ("±0.00" if abs(d) < 0.005 else f"{d:+.2f}").replace("-", "−"),
                     m.fmt(m.get(v)), "" if rb is None else factor(rb / m.get(v))])
    gap = 0.16
    num_w = [max([w_in(r[c]) for r in rows] + [w_in(head[c], True)]) for c in range(6)]
    fixed = num_w[0] + sum(num_w[2:]) + gap * 5
    id_w = min(num_w[1], width_in - fixed - 0.05)
    for r in rows:  # ids too long for the space left: cut in the middle
        s = r[1]
        while w_in(r[1]) > id_w and len(s) > 8:
            s = s[: len(s) // 2 - 1] + s[len(s) // 2 + 1:]
            r[1] = s[: len(s) // 2] + "…" + s[len(s) // 2:]
    xs, x = [], 0.05
    for c, w in enumerate([num_w[0], id_w] + num_w[2:]):
        xs.append((x, x + w))
        x += w + gap
    right_align = {2, 3, 4, 5}
    row_h = fontsize * 1.75 / 72
    title = f"Pareto front, {m.what}: {len(front)} variant{'s' if len(front) != 1 else ''}, cheapest first"
    tax.text(0.05, row_h * 0.5, title, fontsize=fontsize + 0.5, fontweight="bold", va="center", color="#1d2733")
    y = row_h * 1.5
    for c, s in enumerate(head):
        tax.text(xs[c][1] if c in right_align else xs[c][0], y, s, fontsize=fontsize, fontweight="bold",
                 ha="right" if c in right_align else "left", va="center", color="#4a5663")
    tax.plot([0.0, x - gap + 0.05], [y + row_h / 2] * 2, color="#4a5663", lw=0.7)
    for k, r in enumerate(rows):
        y = row_h * (2.5 + k)
        v = front[k]
        if v is knee:
            tax.add_patch(Rectangle((0.0, y - row_h / 2), x - gap + 0.05, row_h, fc="#fdf3c4", ec="none", zorder=0))
        elif k % 2:
            tax.add_patch(Rectangle((0.0, y - row_h / 2), x - gap + 0.05, row_h, fc="#f2f4f7", ec="none", zorder=0))
        for c, s in enumerate(r):
            tax.text(xs[c][1] if c in right_align else xs[c][0], y, s, fontsize=fontsize,
                     ha="right" if c in right_align else "left", va="center",
                     color={"★": "#b8860b", "▼": C_FRONT, "◆": C_BASE}.get(s, "#1d2733") if c == 0 else "#1d2733")
    if not rows:
        tax.text(0.05, row_h * 2.5, "(no variant marked on this front)", fontsize=fontsize, va="center",
                 color="#4a5663")


# ---- tooltips -------------------------------------------------------------------------------------

def tooltip(v, base, metrics):
    lines = [v["id"]]
    a = f"accuracy {acc(v):.2f} %"
    if base is not None and v is not base:
        a += f" ({acc(v) - acc(base):+.2f} vs base)".replace("-", "−")
    lines.append(a)
    for m in metrics:
        s = f"{m.what}: {m.fmt(m.get(v))}"
        if base is not None and v is not base and m.get(v) > 0 and m.get(base) > 0:
            r = m.get(base) / m.get(v)
            s += (f" ({r:.2f}× less than base)" if r >= 1.005 else f" ({1 / r:.2f}× more than base)" if r <= 0.995
                  else " (as base)")
        lines.append(s)
    if v.get("transforms"):
        lines.append("transforms: " + " → ".join(v["transforms"]))
    on = [m.key for m in metrics if v.get(m.front)]
    kn = [m.key for m in metrics if v.get(m.knee)]
    if on:
        lines.append("Pareto front: " + ", ".join(on) + ("; knee: " + ", ".join(kn) if kn else ""))
    return "\n".join(lines)


def add_tooltips(svg, tips):
    """A <title> (the browser's hover tooltip) as the first child of each point's group."""
    def sub(mo):
        t = tips.get(mo.group(1))
        return mo.group(0) if t is None else f"{mo.group(0)}\n   <title>{escape(t)}</title>"
    svg = re.sub(r'<g id="(mcdnn-[a-z]+-\d+)">', sub, svg)
    style = (f"<!-- {PLOT_MARK} -->\n"
             '<style type="text/css">g[id^="mcdnn-"] { cursor: help; } '
             'g[id^="mcdnn-"]:hover use { stroke: #000 !important; stroke-width: 1.5 !important; }</style>\n')
    return re.sub(r"(<svg [^>]*>\n?)", lambda mo: mo.group(1) + style, svg, count=1)


# ---- the figure -----------------------------------------------------------------------------------

def main(argv):
    ap = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("catalog", help="catalog directory (or its catalog.json)")
    ap.add_argument("-o", "--out", help="output prefix: writes OUT.png and OUT.svg (default CATALOG_DIR/catalog)")
    a = ap.parse_args(argv)
    cat_dir = a.catalog
    path = f"{cat_dir}/catalog.json"
    if os.path.isfile(cat_dir) and not os.path.isdir(cat_dir):
        path, cat_dir = cat_dir, os.path.dirname(cat_dir) or "."
    try:
        with open(path) as f:
            cat = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"{path}: cannot read ({e})")
    if not isinstance(cat, dict) or cat.get("format") != "mcdnn-catalog":
        sys.exit(f"{path}: not an mcdnn catalog")
    variants = cat.get("variants") or []
    if not variants:
        sys.exit(f"{path}: the catalog has no variants")
    base = next((v for v in variants if v["id"] == "base"), None)
    metrics = metrics_of(cat)
    if not any(v.get("measured") for v in variants):
        metrics = metrics[:2]  # an executor named but nothing measured: bytes and FLOPs only

    def shown(m):  # the variants a panel can place
        return variants if m.key in ("bytes", "flops") else [v for v in variants if v.get("measured")]

    for m in metrics:  # one unit per axis, shared by its ticks, labels, table and tooltips
        m.choose_unit([m.get(v) for v in shown(m)])
    ylabel = f"{cat.get('accuracy_data', 'validation')} accuracy (%)"

    # Layout in inches: panels two by two, each with its front's table under it.
    fs_table = 7.5
    row_h = fs_table * 1.75 / 72
    pw, ph, left, mid, right = 7.6, 4.6, 0.75, 0.95, 0.3
    top, title_h, xlab_h, gap_h, bottom = 1.05, 0.32, 0.72, 0.45, 0.15
    fronts = [sum(1 for v in shown(m) if v.get(m.front)) for m in metrics]
    grid_rows = (len(metrics) + 1) // 2
    table_h = [(max(fronts[2 * r: 2 * r + 2]) + 2.5) * row_h + 0.08 for r in range(grid_rows)]
    width = left + 2 * pw + mid + right
    height = top + sum(title_h + ph + xlab_h + t for t in table_h) + gap_h * (grid_rows - 1) + bottom
    fig = plt.figure(figsize=(width, height), dpi=DPI)
    tips, used = {}, set()
    y = height - top
    for r in range(grid_rows):
        for c in range(2):
            k = 2 * r + c
            if k >= len(metrics):
                continue
            m = metrics[k]
            vs = shown(m)
            x = left + c * (pw + mid)
            ax = fig.add_axes([x / width, (y - title_h - ph) / height, pw / width, ph / height])
            b = base if base in vs else None
            front, knee, y0 = draw_panel(ax, m, vs, b, ylabel, tips,
                                         lambda v: tooltip(v, base, metrics if v.get("measured") else metrics[:2]), used)
            tax = fig.add_axes([x / width, (y - title_h - ph - xlab_h - table_h[r]) / height, pw / width,
                                table_h[r] / height])
            draw_table(tax, m, front, knee, b, y0, pw, table_h[r], fs_table)
        y -= title_h + ph + xlab_h + table_h[r] + gap_h

    head = f"{cat.get('schema', '?')}: "
    if base is not None:
        head += (f"base model ({acc(base):.2f} %, {human(base['bytes'], BYTE_UNITS)}, "
                 f"{human(base['flops'], FLOP_UNITS)}) and ")
    n = len(variants) - (base is not None)
    head += f"{n} variant{'s' if n != 1 else ''} ({cat.get('compiler', 'mcdnn-compile')})"
    fig.text(0.5, 1 - 0.22 / height, head, ha="center", va="top", fontsize=13, fontweight="bold")
    handles = [("variant", Line2D([], [], ls="none", marker="o", ms=5, mfc=C_POINT, mec="white", label="variant")),
               ("front", Line2D([], [], color=C_FRONT, lw=1.4, marker="o", ms=5.5, mfc=C_FRONT, mec="white",
                                label="Pareto front (listed under each panel)")),
               ("knee", Line2D([], [], ls="none", marker="*", ms=14, mfc=C_KNEE, mec="#5b4a00",
                               label="knee of the front")),
               ("base", Line2D([], [], ls="none", marker="D", ms=6.5, mfc=C_BASE, mec="white", label="base model")),
               ("base-1", Line2D([], [], color="#7f8c8d", ls=(0, (2, 2)), lw=0.8, label="base − 1 point")),
               ("below", Line2D([], [], ls="none", marker="v", ms=6.5, mfc=C_BELOW, mec="white",
                                label="below the accuracy axis (at its bottom edge)"))]
    used.add("front" if any(v.get(m.front) for m in metrics for v in variants) else "variant")
    handles = [h for k, h in handles if k in used]
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 1 - 0.55 / height), ncol=len(handles),
               frameon=False, fontsize=9, handletextpad=0.4, columnspacing=1.6)

    out = a.out or f"{cat_dir}/catalog"
    fig.savefig(out + ".png", dpi=DPI, metadata={"Software": f"{PLOT_MARK} (tools/plot_catalog.py, matplotlib "
                                                             f"{matplotlib.__version__})"})
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None})
    with open(out + ".svg", "w", encoding="utf-8") as f:
        f.write(add_tooltips(buf.getvalue(), tips))
    plt.close(fig)
    print(f"wrote {out}.png and {out}.svg")


if __name__ == "__main__":
    main(sys.argv[1:])
