#!/usr/bin/env python3
"""validate_results: check a Google Benchmark JSON file written by oscost.

Checks that the file parses as strict JSON (no NaN/Infinity tokens), that its
context carries every key the README documents (the list is passed with
--require-context or read from the README's context table), and that it holds
at least --min-benchmarks runs. Exit 0 when valid, 1 when not (reasons on
stderr), 2 when the file cannot be read.

Usage: validate_results.py FILE.json [--readme README.md] [--min-benchmarks N]
       [--require-prefix PREFIX ...]
"""
import argparse
import json
import re
import sys


def _reject_constant(token):
    raise ValueError(f"non-finite number {token} in JSON")


def load_strict(path):
    """Parses `path` as JSON that a strict parser accepts."""
    with open(path, encoding="utf-8") as f:
        return json.load(f, parse_constant=_reject_constant)


def documented_context_keys(readme_path):
    """The context keys from the README's table rows: | `key` | ... |."""
    keys = []
    in_section = False
    with open(readme_path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("#"):
                in_section = "context" in line.lower() and "json" in line.lower()
                continue
            m = re.match(r"^\|\s*`([a-z_0-9]+)`\s*\|", line)
            if in_section and m:
                keys.append(m.group(1))
    return keys


def validate(doc, required_keys, min_benchmarks, prefixes):
    """Returns a list of problems (empty when valid)."""
    problems = []
    if not isinstance(doc, dict):
        return ["top level is not an object"]
    context = doc.get("context")
    if not isinstance(context, dict):
        problems.append("no context object")
        context = {}
    for key in required_keys:
        if key not in context:
            problems.append(f"context lacks documented key '{key}'")
    runs = doc.get("benchmarks")
    if not isinstance(runs, list):
        return problems + ["no benchmarks list"]
    if len(runs) < min_benchmarks:
        problems.append(f"{len(runs)} benchmark runs, want at least {min_benchmarks}")
    names = [r.get("name", "") for r in runs]
    for prefix in prefixes:
        if not any(n.startswith(prefix) for n in names):
            problems.append(f"no benchmark named {prefix}...")
    for r in runs:
        if r.get("error_occurred"):
            continue  # A skipped benchmark carries its reason instead of numbers.
        if "real_time" in r and not isinstance(r["real_time"], (int, float)):
            problems.append(f"{r.get('name')}: real_time is not a number")
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file")
    parser.add_argument("--readme", help="README.md whose context table lists required keys")
    parser.add_argument("--min-benchmarks", type=int, default=1)
    parser.add_argument("--require-prefix", action="append", default=[])
    args = parser.parse_args(argv)
    try:
        doc = load_strict(args.file)
    except (OSError, ValueError) as e:
        print(f"validate_results: {args.file}: {e}", file=sys.stderr)
        return 2
    keys = documented_context_keys(args.readme) if args.readme else []
    if args.readme and not keys:
        print(f"validate_results: no context keys found in {args.readme}", file=sys.stderr)
        return 2
    problems = validate(doc, keys, args.min_benchmarks, args.require_prefix)
    for p in problems:
        print(f"validate_results: {args.file}: {p}", file=sys.stderr)
    if not problems:
        print(f"{args.file}: valid, {len(doc['benchmarks'])} runs, {len(keys)} context keys checked",
              file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
