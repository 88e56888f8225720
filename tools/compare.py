#!/usr/bin/env python3
"""compare: regression verdicts between two Google Benchmark JSON files.

Usage: compare BASE.json NEW.json [--threshold=5%] [--alpha=0.05]
               [--metric=real_time|cpu_time] [--json=OUT] [--all-counters]

Prints, per benchmark (matched by name), the base and new median time, the
change in %, the two-sided Mann-Whitney U p-value over the repetitions (when
both sides have at least MIN_REPETITIONS), and a verdict: faster, slower, same,
new or removed. Counters are compared as well; the counters in
gbench.COUNT_COUNTERS are compared exactly.

Exit status: 0 nothing regressed; 1 a benchmark is `slower` with significance
(p < alpha and change > threshold) or a count counter changed; 2 an input
cannot be read (the message names the file and the problem) or bad usage.

Algorithm (the verdict for one benchmark or counter):
  change = (median(new) - median(base)) / median(base), medians being robust
  to the one-off outliers a shared runner produces.
  With >= MIN_REPETITIONS samples on both sides, p = Mann-Whitney U two-sided
  (scipy.stats.mannwhitneyu). It is rank based, so it assumes nothing about the
  (skewed, multi-modal) distribution of benchmark times. The verdict is
  slower/faster only when |change| > threshold AND p < alpha: a big change that
  the noise explains is `same`, and so is a significant change too small to
  matter.
  With fewer samples there is no test: the verdict follows the threshold alone,
  the p-value column says "-", and such a verdict never fails the run (one
  sample per side is exactly the false alarm this tool exists to avoid).
  Counts (COUNT_COUNTERS) are deterministic, so their medians are compared with
  ==, and any difference is a `changed count`.
"""
import argparse
import json
import math
import os
import statistics
import sys

from scipy import stats

from tools import gbench

# Mann-Whitney U needs this many samples per side before its smallest
# two-sided p-value (2 / C(10, 5) = 0.0079 for 5 vs 5) can go below the usual
# alpha of 0.05; with 4 vs 4 it cannot go below 0.029, with 3 vs 3 not below 0.1.
MIN_REPETITIONS = 5

FASTER, SLOWER, SAME, NEW, REMOVED = "faster", "slower", "same", "new", "removed"
HIGHER, LOWER = "higher", "lower"  # value counters: direction, no good/bad
CHANGED_COUNT, SAME_COUNT = "changed count", "same count"
UNTESTED_NOTE = (f"fewer than {MIN_REPETITIONS} repetitions on a side: no test, verdict "
                 "from the threshold only, never fails the run")


def _median(values):
    return statistics.median(values) if values else None


def _change(base, new):
    if base is None or new is None:
        return None
    if base == 0:
        return 0.0 if new == 0 else None  # no finite relative change from zero
    return (new - base) / abs(base)


def _p_value(base, new):
    if len(base) < MIN_REPETITIONS or len(new) < MIN_REPETITIONS:
        return None
    p = stats.mannwhitneyu(base, new, alternative="two-sided").pvalue
    return 1.0 if math.isnan(p) else float(p)  # NaN only when every value ties


def _same_number(a, b):
    return a == b or (a is not None and b is not None and math.isnan(a) and math.isnan(b))


def judge(base, new, threshold, alpha, up=SLOWER, down=FASTER):
    """Verdict fields for two sample lists (see the Algorithm block above)."""
    mb, mn = _median(base), _median(new)
    change = _change(mb, mn)
    p = _p_value(base, new)
    tested = p is not None
    beyond = change is not None and abs(change) > threshold
    if change is None and mb is not None and mn is not None and mb != mn:
        beyond = True  # from zero to nonzero: always beyond any threshold
    verdict = SAME
    if beyond and (not tested or p < alpha):
        verdict = up if mn > mb else down
    return {"base": mb, "new": mn, "base_n": len(base), "new_n": len(new),
            "change": change, "p_value": p, "tested": tested, "verdict": verdict}


def compare_counter(name, base, new, threshold, alpha):
    out = {"name": name, "kind": "count" if name in gbench.COUNT_COUNTERS else "value"}
    if base is None or new is None:
        out.update({"base": _median(base or []), "new": _median(new or []),
                    "change": None, "p_value": None, "verdict": NEW if base is None else REMOVED})
        return out
    if out["kind"] == "count":
        mb, mn = _median(base), _median(new)
        out.update({"base": mb, "new": mn, "change": _change(mb, mn), "p_value": None,
                    "verdict": SAME_COUNT if _same_number(mb, mn) else CHANGED_COUNT})
        return out
    out.update(judge(base, new, threshold, alpha, up=HIGHER, down=LOWER))
    return out


def compare(base, new, threshold=0.05, alpha=0.05, metric="real_time"):
    """Compares two gbench.Results; returns the report as a JSON-able dict."""
    rows = []
    names = list(base.benchmarks) + [n for n in new.benchmarks if n not in base.benchmarks]
    for name in names:
        b, n = base.benchmarks.get(name), new.benchmarks.get(name)
        bs = b.samples(metric) if b else []
        ns = n.samples(metric) if n else []
        notes = []
        for side, bench in (("base", b), ("new", n)):
            if bench is not None and bench.error:
                notes.append(f"{side}: error: {bench.error}")
            if bench is not None and bench.from_aggregate:
                notes.append(f"{side}: only aggregates, 1 sample")
        if bs and ns:
            row = judge(bs, ns, threshold, alpha)
            if not row["tested"]:
                notes.append(UNTESTED_NOTE)
        else:
            row = {"base": _median(bs), "new": _median(ns), "base_n": len(bs), "new_n": len(ns),
                   "change": None, "p_value": None, "tested": False,
                   "verdict": SAME if not bs and not ns else (NEW if ns else REMOVED)}
        counters = []
        if bs and ns:
            cnames = list(b.counters) + [c for c in n.counters if c not in b.counters]
            for c in cnames:
                counters.append(compare_counter(c, b.counters.get(c), n.counters.get(c),
                                                threshold, alpha))
        row.update({"name": name, "counters": counters, "notes": notes})
        rows.append(row)
    regressions = [r["name"] for r in rows if r["verdict"] == SLOWER and r["tested"]]
    changed_counts = [f"{r['name']}:{c['name']}" for r in rows for c in r["counters"]
                      if c["verdict"] == CHANGED_COUNT]
    return {
        "base_file": base.path, "new_file": new.path, "metric": metric,
        "threshold": threshold, "alpha": alpha, "min_repetitions": MIN_REPETITIONS,
        "count_counters": list(gbench.COUNT_COUNTERS),
        "benchmarks": rows, "regressions": regressions, "changed_counts": changed_counts,
        "exit_status": 1 if regressions or changed_counts else 0,
    }


def format_ns(ns):
    if ns is None:
        return "-"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if abs(ns) >= scale:
            return f"{ns / scale:.4g} {unit}"
    return f"{ns:.4g} ns"


def _format_value(v):
    return "-" if v is None else f"{v:.6g}"


def _format_change(change):
    return "-" if change is None else f"{change * 100:+.1f}%"


def _format_p(p):
    return "-" if p is None else f"{p:.4f}"


def format_table(report, all_counters=False):
    """The human-readable table (benchmarks, then counters that differ)."""
    header = ("benchmark", "base", "new", "change", "p-value", "verdict")
    lines = []
    for r in report["benchmarks"]:
        lines.append((r["name"], format_ns(r["base"]), format_ns(r["new"]),
                      _format_change(r["change"]), _format_p(r["p_value"]), r["verdict"]))
        for c in r["counters"]:
            if all_counters or c["verdict"] not in (SAME, SAME_COUNT):
                lines.append(("  " + c["name"] + (" (count)" if c["kind"] == "count" else ""),
                              _format_value(c["base"]), _format_value(c["new"]),
                              _format_change(c["change"]), _format_p(c.get("p_value")),
                              c["verdict"]))
    widths = [max(len(str(row[i])) for row in [header] + lines) for i in range(len(header))]
    out = []
    for row in [header] + lines:
        cells = [str(row[0]).ljust(widths[0])] + [str(v).rjust(w) for v, w in
                                                   zip(row[1:-1], widths[1:-1])]
        out.append("  ".join(cells + [str(row[-1])]).rstrip())
    out.insert(1, "-" * len(out[0]))
    notes = [f"{r['name']}: {n}" for r in report["benchmarks"] for n in r["notes"]
             if n != UNTESTED_NOTE]
    untested = sum(1 for r in report["benchmarks"] if UNTESTED_NOTE in r["notes"])
    if untested:
        notes.append(f"{untested} benchmark(s) with {UNTESTED_NOTE}")
    ncounters = sum(len(r["counters"]) for r in report["benchmarks"])
    ndiff = sum(1 for r in report["benchmarks"] for c in r["counters"]
                if c["verdict"] not in (SAME, SAME_COUNT))
    out.append("")
    out.append(f"{report['metric']}, threshold {report['threshold'] * 100:g}%, alpha "
               f"{report['alpha']:g}; {ncounters} counters compared, {ndiff} differ"
               + ("" if all_counters else " (only those are listed; --all-counters for all)"))
    out.extend("note: " + n for n in notes)
    if report["regressions"]:
        out.append("REGRESSED: " + ", ".join(report["regressions"]))
    if report["changed_counts"]:
        out.append("CHANGED COUNTS: " + ", ".join(report["changed_counts"]))
    return "\n".join(out)


def _percent(text):
    """'5%', '5' -> 0.05: the threshold is always a percentage."""
    try:
        value = float(text.strip().rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("threshold must be >= 0")
    return value / 100.0


def _alpha(text):
    value = float(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError("alpha must be in (0, 1)")
    return value


def user_path(path):
    """Resolves a path the user typed against their directory under `bazel run`."""
    base = os.environ.get("BUILD_WORKING_DIRECTORY")
    return path if os.path.isabs(path) or not base else os.path.join(base, path)


def _strict_json(value):
    # JSON for other tools must be strict: NaN/inf become null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _strict_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strict_json(v) for v in value]
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(prog="compare", description=__doc__.splitlines()[0])
    parser.add_argument("base")
    parser.add_argument("new")
    parser.add_argument("--threshold", type=_percent, default=0.05,
                        help="smallest change that counts, in percent (default 5%%)")
    parser.add_argument("--alpha", type=_alpha, default=0.05,
                        help="significance level of the Mann-Whitney U test (default 0.05)")
    parser.add_argument("--metric", choices=("real_time", "cpu_time"), default="real_time")
    parser.add_argument("--json", metavar="OUT", help="also write the comparison as JSON")
    parser.add_argument("--all-counters", action="store_true",
                        help="list every counter, not only those that differ")
    args = parser.parse_args(argv)
    loaded, failed = [], False
    for path in (args.base, args.new):
        try:
            loaded.append(gbench.load(user_path(path)))
        except gbench.ReadError as e:
            print(f"compare: {path}: {e.problem}", file=sys.stderr)
            failed = True
    if failed:
        return 2
    loaded[0].path, loaded[1].path = args.base, args.new
    report = compare(loaded[0], loaded[1], args.threshold, args.alpha, args.metric)
    print(format_table(report, args.all_counters))
    if args.json:
        try:
            with open(user_path(args.json), "w", encoding="utf-8") as f:
                json.dump(_strict_json(report), f, indent=2, allow_nan=False)
                f.write("\n")
        except OSError as e:
            print(f"compare: {args.json}: cannot write ({e.strerror})", file=sys.stderr)
            return 2
    return report["exit_status"]


if __name__ == "__main__":
    sys.exit(main())
