#!/usr/bin/env python3
"""dashboard: a history of benchmark runs in SQLite, rendered as a static page.

Usage:
  dashboard ingest [--db=PATH] [--commit=ID] FILE.json...
  dashboard render [--db=PATH] [--window=N] OUT_DIR

`ingest` stores one row per benchmark per run, keyed by (machine, run time,
commit, benchmark): re-ingesting a file replaces its rows, so it is idempotent.
The machine id is a hash of the context's host_name, cpu_model (or cpu_brand)
and kernel_release (gbench.machine_of), so runs of different machines never
mix. The default database is results/history.sqlite under the workspace
($BUILD_WORKSPACE_DIRECTORY under `bazel run`, else the current directory).

`render` writes OUT_DIR/index.html (opens from disk, no server) and one SVG
chart per benchmark per machine under OUT_DIR/charts/, drawn with matplotlib.

Algorithm (the noise band of run i of one benchmark on one machine):
  The runs before i, at most WINDOW of them (default 10), give the band:
  centre = their median, half-width = max(BAND_SIGMAS * 1.4826 * MAD,
  BAND_FLOOR * centre). 1.4826 * MAD estimates the standard deviation of
  normal noise while one wild run cannot inflate it (a stddev would); the
  floor keeps a history of near-identical runs from flagging a 0.5% wobble.
  Run i itself is excluded so a regression cannot widen its own band. With
  fewer than MIN_BAND_RUNS earlier runs there is no band. A run above the band
  is a regression (red), below it an improvement (green). The summary table
  sorts benchmarks by the latest run's distance from its band centre in
  half-widths, |d| > 1 being outside.
"""
import argparse
import datetime
import hashlib
import html
import json
import os
import re
import sqlite3
import statistics
import sys

from tools import gbench

WINDOW = 10          # earlier runs that make a band
MIN_BAND_RUNS = 5    # fewer earlier runs: no band yet (the MAD of 3 runs is mostly luck)
BAND_SIGMAS = 3.0    # half-width in robust standard deviations
BAND_FLOOR = 0.01    # half-width is at least 1% of the centre
MAD_TO_SIGMA = 1.4826

SCHEMA = """
CREATE TABLE IF NOT EXISTS machines (
  machine_id TEXT PRIMARY KEY,
  description TEXT NOT NULL,
  host_name TEXT, cpu TEXT, kernel_release TEXT
);
CREATE TABLE IF NOT EXISTS results (
  machine_id TEXT NOT NULL REFERENCES machines(machine_id),
  run_time TEXT NOT NULL,        -- context.date, as UTC ISO 8601
  commit_id TEXT NOT NULL,       -- --commit, '' when not given
  benchmark TEXT NOT NULL,
  real_time_ns REAL,             -- median over the run's repetitions; NULL on error
  cpu_time_ns REAL,
  real_time_min_ns REAL,
  real_time_max_ns REAL,
  repetitions INTEGER NOT NULL,
  counters TEXT NOT NULL,        -- JSON object: counter -> median
  error TEXT,                    -- error_message of a skipped benchmark
  source TEXT NOT NULL,          -- the file it came from
  PRIMARY KEY (machine_id, run_time, commit_id, benchmark)
);
"""


def default_db():
    root = os.environ.get("BUILD_WORKSPACE_DIRECTORY") or "."
    return os.path.join(root, "results", "history.sqlite")


def user_path(path):
    """Resolves a path the user typed against their directory under `bazel run`."""
    base = os.environ.get("BUILD_WORKING_DIRECTORY")
    return path if os.path.isabs(path) or not base else os.path.join(base, path)


def connect(path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    db = sqlite3.connect(path)
    db.executescript(SCHEMA)
    return db


def run_time_of(context, path):
    """The run's time as UTC ISO 8601, from context.date of any GB version."""
    date = context.get("date")
    if not isinstance(date, str) or not date:
        raise gbench.ReadError(path, "context has no 'date' (needed as the run's key)")
    text = date.strip()
    for parse in (datetime.datetime.fromisoformat,
                  lambda s: datetime.datetime.strptime(s, "%Y/%m/%d-%H:%M:%S"),  # GB < 1.5
                  lambda s: datetime.datetime.strptime(s, "%a %b %d %H:%M:%S %Y")):
        try:
            when = parse(text)
            break
        except ValueError:
            continue
    else:
        raise gbench.ReadError(path, f"context date '{date}' is not a date")
    if when.tzinfo is not None:
        when = when.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return when.isoformat(timespec="seconds") + "Z"


def ingest(db, results, commit=""):
    """Stores one gbench.Results; returns (machine description, run time, rows)."""
    machine_id, desc = gbench.machine_of(results.context)
    run_time = run_time_of(results.context, results.path)
    ctx = results.context
    db.execute("INSERT OR REPLACE INTO machines VALUES (?, ?, ?, ?, ?)",
               (machine_id, desc, ctx.get("host_name"),
                ctx.get("cpu_model") or ctx.get("cpu_brand"), ctx.get("kernel_release")))
    rows = 0
    for name, bench in results.benchmarks.items():
        real, cpu = bench.real_time_ns, bench.cpu_time_ns
        counters = {c: statistics.median(v) for c, v in bench.counters.items()}
        db.execute(
            "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (machine_id, run_time, commit, name,
             statistics.median(real) if real else None,
             statistics.median(cpu) if cpu else None,
             min(real) if real else None, max(real) if real else None, len(real),
             json.dumps(counters, allow_nan=True), bench.error, results.path))
        rows += 1
    db.commit()
    return desc, run_time, rows


# ---- render -------------------------------------------------------------

def band(values, window=WINDOW):
    """(centre, half_width) from the earlier runs `values`, or None (see Algorithm)."""
    prior = [v for v in values[-window:] if v is not None]
    if len(prior) < MIN_BAND_RUNS:
        return None
    centre = statistics.median(prior)
    mad = statistics.median(abs(v - centre) for v in prior)
    return centre, max(BAND_SIGMAS * MAD_TO_SIGMA * mad, BAND_FLOOR * abs(centre))


def series(db, machine_id):
    """benchmark -> list of (run_time, commit, real_ns, min_ns, max_ns), oldest first."""
    out = {}
    for name, run_time, commit, real, lo, hi in db.execute(
            "SELECT benchmark, run_time, commit_id, real_time_ns, real_time_min_ns, "
            "real_time_max_ns FROM results WHERE machine_id = ? "
            "ORDER BY benchmark, run_time, commit_id", (machine_id,)):
        out.setdefault(name, []).append((run_time, commit, real, lo, hi))
    return out


def analyse(points, window=WINDOW):
    """Per point its band and status; plus the latest run's summary."""
    values = [p[2] for p in points]
    bands, status = [], []
    for i, v in enumerate(values):
        b = band(values[:i], window)
        bands.append(b)
        if b is None or v is None:
            status.append("no band" if v is not None else "error")
        elif v > b[0] + b[1]:
            status.append("regression")
        elif v < b[0] - b[1]:
            status.append("improvement")
        else:
            status.append("within")
    latest = len(values) - 1
    b = bands[latest]
    distance = None
    if b is not None and values[latest] is not None:
        distance = (values[latest] - b[0]) / b[1] if b[1] > 0 else 0.0
    return {"bands": bands, "status": status, "latest": values[latest],
            "latest_band": b, "latest_status": status[latest], "distance": distance}


def _unit(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if ns is not None and abs(ns) >= scale:
            return unit, scale
    return "ns", 1.0


def _label(point):
    run_time, commit = point[0], point[1]
    text = run_time[5:16].replace("T", "\n")  # MM-DD, HH:MM
    return text + ("\n" + commit[:8] if commit else "")


def draw_chart(name, points, info, path):
    """One SVG: the run series, its rolling band, regressions and the latest run."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot

    matplotlib.rcParams["svg.hashsalt"] = "oscost"  # same input -> same file
    values = [p[2] for p in points]
    unit, scale = _unit(statistics.median([v for v in values if v is not None] or [0]))
    xs = list(range(len(points)))
    fig, ax = pyplot.subplots(figsize=(7.5, 2.8), dpi=100)
    bx = [i for i, b in enumerate(info["bands"]) if b is not None]
    if bx:
        lo = [(info["bands"][i][0] - info["bands"][i][1]) / scale for i in bx]
        hi = [(info["bands"][i][0] + info["bands"][i][1]) / scale for i in bx]
        mid = [info["bands"][i][0] / scale for i in bx]
        ax.fill_between(bx, lo, hi, step="mid", color="tab:blue", alpha=0.15,
                        label=f"noise band (last {WINDOW} runs)")
        ax.plot(bx, mid, color="tab:blue", linestyle="--", linewidth=0.8, label="band median")
    good = [(i, v / scale) for i, v in enumerate(values) if v is not None]
    if good:
        ax.plot([g[0] for g in good], [g[1] for g in good], color="black", linewidth=1,
                marker="o", markersize=3, label="run (median of repetitions)")
    spread = [(i, p[3] / scale, p[4] / scale) for i, p in enumerate(points)
              if p[3] is not None and p[4] is not None and p[3] != p[4]]
    if spread:
        ax.vlines([s[0] for s in spread], [s[1] for s in spread], [s[2] for s in spread],
                  color="grey", linewidth=0.8, label="min-max of repetitions")
    for status, color in (("regression", "red"), ("improvement", "green")):
        pts = [(i, values[i] / scale) for i, s in enumerate(info["status"]) if s == status]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], color=color, zorder=5, s=30,
                       label=status)
    if info["latest"] is not None:
        ax.scatter([xs[-1]], [info["latest"] / scale], marker="*", s=180, zorder=6,
                   facecolor={"regression": "red", "improvement": "green"}.get(
                       info["latest_status"], "orange"), edgecolor="black", label="latest")
    # At most ~7 labelled runs, always including the latest.
    ticks = sorted(set(xs[::max(1, -(-len(xs) // 7))]) | {xs[-1]})
    if len(ticks) > 1 and ticks[-1] - ticks[-2] < max(1, -(-len(xs) // 7)):
        ticks.pop(-2)
    ax.set_xticks(ticks)
    ax.set_xticklabels([_label(points[i]) for i in ticks], fontsize=6)
    ax.set_xlabel("run (UTC date, time, commit)", fontsize=7)
    ax.set_ylabel(f"time ({unit})")
    ax.set_title(name, fontsize=9)
    ax.grid(True, linewidth=0.3)
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    fig.savefig(path, format="svg", metadata={"Date": None})
    pyplot.close(fig)


def _slug(name):
    return re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_")[:80] + "-" + \
        hashlib.sha256(name.encode()).hexdigest()[:8]


def _fmt_ns(ns):
    if ns is None:
        return "-"
    unit, scale = _unit(ns)
    return f"{ns / scale:.4g} {unit}"


_STYLE = """
body { font-family: sans-serif; margin: 1.5em; }
table.summary { border-collapse: collapse; font-size: 0.9em; margin-bottom: 1.5em; }
table.summary th, table.summary td { border: 1px solid #ccc; padding: 0.2em 0.6em; }
table.summary td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.regression { background: #fdd; } tr.improvement { background: #dfd; }
figure.chart { margin: 0 0 1.5em 0; } figure.chart img { max-width: 100%; }
"""

# Counts the charts the browser could decode, for the headless-Chromium test
# and for anyone wondering why a chart is blank.
_SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.querySelectorAll('img.chart'));
  document.body.setAttribute('data-charts-loaded',
      String(imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length));
});
"""


def render(db, out_dir, window=WINDOW):
    """Writes out_dir/index.html and its charts; returns the number of charts."""
    os.makedirs(out_dir, exist_ok=True)
    machines = db.execute("SELECT machine_id, description FROM machines "
                          "ORDER BY description").fetchall()
    body, charts = [], 0
    for machine_id, desc in machines:
        data = series(db, machine_id)
        if not data:
            continue
        rows = []
        for name, points in data.items():
            info = analyse(points, window)
            rel = os.path.join("charts", machine_id, _slug(name) + ".svg")
            os.makedirs(os.path.join(out_dir, "charts", machine_id), exist_ok=True)
            draw_chart(name, points, info, os.path.join(out_dir, rel))
            charts += 1
            rows.append((name, points, info, rel))
        # Furthest from its band first; benchmarks without a band last.
        rows.sort(key=lambda r: (r[2]["distance"] is None,
                                 -abs(r[2]["distance"] or 0.0), r[0]))
        body.append(f'<section class="machine" id="m-{machine_id}">')
        body.append(f"<h2>{html.escape(desc)}</h2>")
        body.append(f"<p>machine id <code>{machine_id}</code>, "
                    f"{len(rows)} benchmarks, band from the last {window} runs</p>")
        body.append('<table class="summary"><thead><tr><th>benchmark</th><th>latest</th>'
                    "<th>band median</th><th>band &plusmn;</th><th>vs median</th>"
                    "<th>distance (half-widths)</th><th>status</th><th>runs</th>"
                    "</tr></thead><tbody>")
        for name, points, info, rel in rows:
            b = info["latest_band"]
            vs = (f"{(info['latest'] - b[0]) / b[0] * 100:+.1f}%"
                  if b and info["latest"] is not None and b[0] else "-")
            dist = "-" if info["distance"] is None else f"{info['distance']:+.2f}"
            body.append(
                f'<tr class="{info["latest_status"].replace(" ", "-")}">'
                f'<td><a href="#{_slug(name)}-{machine_id}">{html.escape(name)}</a></td>'
                f'<td class="num">{_fmt_ns(info["latest"])}</td>'
                f'<td class="num">{_fmt_ns(b[0] if b else None)}</td>'
                f'<td class="num">{_fmt_ns(b[1] if b else None)}</td>'
                f'<td class="num">{vs}</td><td class="num">{dist}</td>'
                f'<td>{info["latest_status"]}</td><td class="num">{len(points)}</td></tr>')
        body.append("</tbody></table>")
        for name, points, info, rel in rows:
            body.append(f'<figure class="chart" id="{_slug(name)}-{machine_id}">'
                        f'<img class="chart" src="{html.escape(rel)}" '
                        f'alt="trend of {html.escape(name)}">'
                        f"<figcaption>{html.escape(name)}: {info['latest_status']}"
                        "</figcaption></figure>")
        body.append("</section>")
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    page = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            "<title>oscost benchmark history</title>"
            f"<style>{_STYLE}</style></head><body>"
            f"<h1>oscost benchmark history</h1><p>rendered {now}; "
            f"{len(machines)} machine(s), {charts} chart(s). Red: above the noise band "
            "(slower); green: below it (faster).</p>\n"
            + "\n".join(body) + f"\n<script>{_SCRIPT}</script></body></html>\n")
    with open(os.path.join(out_dir, "index.html"), "w", encoding="utf-8") as f:
        f.write(page)
    return charts


def main(argv=None):
    parser = argparse.ArgumentParser(prog="dashboard", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_ingest = sub.add_parser("ingest", help="store result files in the history database")
    p_ingest.add_argument("--db", help=f"SQLite file (default {default_db()})")
    p_ingest.add_argument("--commit", default="", help="commit id of these runs")
    p_ingest.add_argument("files", nargs="+", metavar="FILE.json")
    p_render = sub.add_parser("render", help="write OUT_DIR/index.html and charts")
    p_render.add_argument("--db", help=f"SQLite file (default {default_db()})")
    p_render.add_argument("--window", type=int, default=WINDOW,
                          help=f"earlier runs forming the noise band (default {WINDOW})")
    p_render.add_argument("out_dir", metavar="OUT_DIR")
    args = parser.parse_args(argv)
    db_path = user_path(args.db) if args.db else default_db()
    if args.command == "ingest":
        loaded, failed = [], False
        for path in args.files:
            try:
                results = gbench.load(user_path(path))
                run_time_of(results.context, path)  # fail before writing anything
                results.path = path
                loaded.append(results)
            except gbench.ReadError as e:
                print(f"dashboard: {path}: {e.problem}", file=sys.stderr)
                failed = True
        if failed:
            return 2
        db = connect(db_path)
        for results in loaded:
            desc, run_time, rows = ingest(db, results, args.commit)
            print(f"dashboard: {results.path}: {rows} benchmarks, run {run_time}, "
                  f"machine {desc}", file=sys.stderr)
        print(f"dashboard: database {db_path}", file=sys.stderr)
        return 0
    if not os.path.exists(db_path):
        print(f"dashboard: {db_path}: no such database (run ingest first)", file=sys.stderr)
        return 2
    if args.window < MIN_BAND_RUNS:
        print(f"dashboard: --window must be at least {MIN_BAND_RUNS}", file=sys.stderr)
        return 2
    out_dir = user_path(args.out_dir)
    charts = render(connect(db_path), out_dir, args.window)
    print(f"dashboard: wrote {os.path.join(out_dir, 'index.html')} with {charts} charts",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
