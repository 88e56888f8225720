#!/usr/bin/python3
"""ci_regression: build two git revisions, run their benchmarks interleaved, compare.

Usage (from a checkout; tools/ci_regression is the entry point):
  tools/ci_regression BASE_REV NEW_REV [--filter=REGEX] [--target=//bench:all]
      [--repetitions=10] [--rounds=N] [--min-time=SECONDS] [--out-dir=DIR]
      [--threshold=5%] [--alpha=0.05] [--keep]

Each revision is checked out with `git worktree add --detach` into a temporary
directory and built there with its own Bazel output base (so the caller's
workspace, its bazel-* links and its server are untouched). The benchmark
binaries then run alternately, base, new, base, new, ... for --rounds rounds
of --repetitions/--rounds repetitions each, so that whatever the machine does
meanwhile (a neighbour's build, thermal drift, a noisy CI runner) lands on
both sides alike instead of on whichever ran second. The per-round JSON files
are merged into OUT_DIR/base.json and OUT_DIR/new.json (every repetition kept
as a sample, Google Benchmark's per-round aggregates dropped), and
//tools:compare judges them: its table goes to stdout, OUT_DIR/compare.json
holds the report, and the exit status is compare's (0 fine, 1 regressed or a
count changed, 2 unreadable results). OUT_DIR/new.googlecpp.json and
OUT_DIR/base.googlecpp.json hold one row per benchmark (median of the
repetitions) for github-action-benchmark's `googlecpp` tool, which would
otherwise chart each repetition as its own point under the same name.
Exit 3: a revision could not be checked out, built or run.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

if __package__ in (None, ""):
    # Run as a script: make `tools.` importable from this checkout.
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tools import compare  # noqa: E402  (after the path fix above)

SIDES = ("base", "new")


class Failure(Exception):
    """A step that cannot go on; the message says which and why."""


def log(message):
    print(f"ci_regression: {message}", file=sys.stderr, flush=True)


def _run(argv, cwd=None, capture=False):
    proc = subprocess.run(argv, cwd=cwd, text=True,
                          stdout=subprocess.PIPE if capture else sys.stderr,
                          stderr=subprocess.PIPE if capture else None)
    if proc.returncode != 0:
        detail = (proc.stderr or "").strip().splitlines()[-5:] if capture else []
        raise Failure(f"{' '.join(argv)} exited {proc.returncode}"
                      + ("".join("\n  " + d for d in detail)))
    return proc.stdout if capture else None


def binary_path(target, bazel_bin):
    """//pkg:name -> bazel-bin/pkg/name (what a cc_binary target builds)."""
    if not target.startswith("//") or ":" not in target:
        raise Failure(f"--target must be //package:name, got {target!r}")
    package, name = target[2:].split(":", 1)
    return os.path.join(bazel_bin, package, name)


def build(worktree, output_base, target):
    """Builds `target` in `worktree`; returns the binary's path."""
    bazel = ["bazel", f"--output_base={output_base}"]
    _run(bazel + ["build", "--symlink_prefix=/", target], cwd=worktree)
    bazel_bin = _run(bazel + ["info", "bazel-bin"], cwd=worktree, capture=True).strip()
    path = binary_path(target, bazel_bin)
    if not os.access(path, os.X_OK):
        raise Failure(f"{target} built, but {path} is not an executable")
    return path


def run_interleaved(commands, rounds, repetitions, bench_args, work_dir, runner=None):
    """Runs commands['base'] and commands['new'] alternately; returns per-side file lists.

    commands: side -> argv of the benchmark binary. Each run gets
    --benchmark_repetitions=repetitions, bench_args, and its own --benchmark_out.
    `runner(argv, cwd)` runs one (default: subprocess, stdout discarded).
    """
    def default_runner(argv, cwd):
        # Each run prints its whole context on stderr; show it only on failure.
        proc = subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            tail = "".join("\n  " + line for line in proc.stderr.splitlines()[-10:])
            raise Failure(f"{argv[0]} exited {proc.returncode}{tail}")

    runner = runner or default_runner
    files = {side: [] for side in SIDES}
    for r in range(rounds):
        for side in SIDES:
            out = os.path.join(work_dir, f"{side}.round{r}.json")
            argv = list(commands[side]) + [f"--benchmark_repetitions={repetitions}",
                                           f"--benchmark_out={out}",
                                           "--benchmark_out_format=json"] + list(bench_args)
            log(f"round {r + 1}/{rounds}: {side}")
            runner(argv, work_dir)
            files[side].append(out)
    return files


def merge_rounds(docs, note=None):
    """One Google Benchmark document from several runs of the same binary.

    Every per-repetition row is kept and renumbered (repetition_index 0..n-1,
    repetitions n); aggregate rows are dropped, since each summarised only its
    own round. A benchmark that errored keeps one error row. The context is the
    first round's, with `note` added as `ci_regression`.
    """
    if not docs:
        raise Failure("no rounds to merge")
    order, rows, errors = [], {}, {}
    for doc in docs:
        for row in doc.get("benchmarks", []):
            if row.get("run_type") == "aggregate":
                continue
            key = row.get("run_name") or row["name"]
            if key not in rows:
                order.append(key)
                rows[key] = []
            if row.get("error_occurred"):
                errors.setdefault(key, row)
            else:
                rows[key].append(dict(row))
    merged = []
    for key in order:
        if not rows[key]:
            merged.append(errors[key])
            continue
        for i, row in enumerate(rows[key]):
            row["repetition_index"] = i
            row["repetitions"] = len(rows[key])
            merged.append(row)
    context = dict(docs[0].get("context", {}))
    if note:
        context["ci_regression"] = note
    return {"context": context, "benchmarks": merged}


def googlecpp_summary(doc):
    """One row per benchmark (medians) in the shape github-action-benchmark reads."""
    groups, order = {}, []
    for row in doc["benchmarks"]:
        if row.get("error_occurred") or row.get("run_type") == "aggregate":
            continue
        key = row.get("run_name") or row["name"]
        if key not in groups:
            order.append(key)
        groups.setdefault(key, []).append(row)
    out = []
    for key in order:
        group = groups[key]
        first = group[0]
        out.append({
            "name": key, "run_name": key, "run_type": "iteration",
            "repetitions": len(group), "repetition_index": 0,
            "threads": first.get("threads", 1),
            "iterations": int(statistics.median(r.get("iterations", 0) for r in group)),
            "real_time": statistics.median(r["real_time"] for r in group),
            "cpu_time": statistics.median(r["cpu_time"] for r in group),
            "time_unit": first.get("time_unit", "ns"),
        })
    return {"context": doc["context"], "benchmarks": out}


def load_json(path):
    from tools import gbench
    with open(path, encoding="utf-8") as f:
        return gbench.parse_text(f.read(), path)


def _write_json(path, doc):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2, allow_nan=False)
        f.write("\n")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="ci_regression", description=__doc__.splitlines()[0])
    parser.add_argument("base_rev")
    parser.add_argument("new_rev")
    parser.add_argument("--filter", default=".", help="--benchmark_filter regex (default all)")
    parser.add_argument("--target", default="//bench:all", help="benchmark binary target")
    parser.add_argument("--repetitions", type=int, default=10,
                        help="repetitions per side in total (default 10)")
    parser.add_argument("--rounds", type=int,
                        help="alternations; default = --repetitions (one repetition per round)")
    parser.add_argument("--min-time", help="--benchmark_min_time for every run (seconds)")
    parser.add_argument("--out-dir", default="ci_regression_out",
                        help="where base.json, new.json, compare.json go (default ./ci_regression_out)")
    parser.add_argument("--threshold", default="5%")
    parser.add_argument("--alpha", default="0.05")
    parser.add_argument("--keep", action="store_true",
                        help="keep the worktrees and output bases (their paths are printed)")
    args = parser.parse_args(argv)
    rounds = args.rounds or args.repetitions
    if rounds < 1 or args.repetitions < rounds or args.repetitions % rounds:
        parser.error("--repetitions must be a positive multiple of --rounds")
    bench_args = [f"--benchmark_filter={args.filter}"]
    if args.min_time:
        bench_args.append(f"--benchmark_min_time={args.min_time}")

    # Under `bazel run //tools:ci_regression` the working directory is the
    # runfiles tree; the user's checkout is where they called it from.
    if os.environ.get("BUILD_WORKING_DIRECTORY"):
        os.chdir(os.environ["BUILD_WORKING_DIRECTORY"])
    repo = _run(["git", "rev-parse", "--show-toplevel"], capture=True).strip()
    out_dir = os.path.abspath(args.out_dir)
    os.makedirs(out_dir, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="ci_regression.")
    worktrees, commands, shas = [], {}, {}
    try:
        for side, rev in zip(SIDES, (args.base_rev, args.new_rev)):
            shas[side] = _run(["git", "-C", repo, "rev-parse", "--verify", rev + "^{commit}"],
                              capture=True).strip()
            tree = os.path.join(tmp, side)
            _run(["git", "-C", repo, "worktree", "add", "--detach", tree, shas[side]],
                 capture=True)
            worktrees.append(tree)
            log(f"{side}: {rev} = {shas[side][:12]}, building {args.target} in {tree}")
            commands[side] = [build(tree, os.path.join(tmp, f"output_base.{side}"),
                                    args.target)]
        files = run_interleaved(commands, rounds, args.repetitions // rounds, bench_args, tmp)
        for side in SIDES:
            note = (f"{side} {getattr(args, side + '_rev')} {shas[side]}; {rounds} interleaved "
                    f"rounds x {args.repetitions // rounds} repetitions; filter {args.filter}")
            merged = merge_rounds([load_json(f) for f in files[side]], note)
            _write_json(os.path.join(out_dir, f"{side}.json"), merged)
            _write_json(os.path.join(out_dir, f"{side}.googlecpp.json"), googlecpp_summary(merged))
    except Failure as e:
        log(str(e))
        return 3
    finally:
        for side in SIDES:
            ob = os.path.join(tmp, f"output_base.{side}")
            if os.path.isdir(ob):
                subprocess.run(["bazel", f"--output_base={ob}", "shutdown"],
                               cwd=os.path.join(tmp, side), stderr=subprocess.DEVNULL)
        if args.keep:
            log(f"kept {tmp}")
        else:
            for tree in worktrees:
                subprocess.run(["git", "-C", repo, "worktree", "remove", "--force", tree],
                               stderr=subprocess.DEVNULL)
            # Bazel makes its output base read-only in places.
            subprocess.run(["chmod", "-R", "u+w", tmp], stderr=subprocess.DEVNULL)
            shutil.rmtree(tmp, ignore_errors=True)
    log(f"results in {out_dir}")
    return compare.main([os.path.join(out_dir, "base.json"), os.path.join(out_dir, "new.json"),
                         f"--threshold={args.threshold}", f"--alpha={args.alpha}",
                         f"--json={os.path.join(out_dir, 'compare.json')}"])


if __name__ == "__main__":
    sys.exit(main())
