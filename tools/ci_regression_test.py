"""Tests of ci_regression's interleaving, merging and googlecpp summary.

Building two revisions needs Bazel and git worktrees, too heavy for a unit
test (the README shows a real run). Here two fake benchmark binaries (small
Python scripts writing Google Benchmark 1.7.1 JSON, shape from gbench_synth)
are run through the real subprocess path; a shared log shows the order.
"""
import json
import os
import sys
import tempfile
import unittest

from tools import ci_regression
from tools import compare
from tools import gbench_synth as synth

FAKE = """#!{python}
import json, sys
sys.path.insert(0, {root!r})
from tools import gbench_synth
args = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
with open({log!r}, "a") as f:
    f.write({side!r} + "\\n")
reps = int(args["--benchmark_repetitions"])
seed = sum(1 for _ in open({log!r}))
doc = gbench_synth.document(
    {{"fake/work": gbench_synth.samples({mean}, 0.01, reps, seed=seed)}},
    counters={{"fake/work": {{"exits_per_op": 1.0}}}})
gbench_synth.write(args["--benchmark_out"], doc)
"""


class CiRegressionTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        self.log = os.path.join(self.dir, "order.log")
        root = os.path.dirname(os.path.dirname(os.path.abspath(synth.__file__)))
        self.commands = {}
        for side, mean in (("base", 100.0), ("new", 150.0)):
            path = os.path.join(self.dir, f"fake_{side}")
            with open(path, "w", encoding="utf-8") as f:
                f.write(FAKE.format(python=sys.executable, root=root, log=self.log,
                                    side=side, mean=mean))
            os.chmod(path, 0o755)
            self.commands[side] = [path]

    def test_interleaves_merges_and_compares(self):
        files = ci_regression.run_interleaved(self.commands, rounds=5, repetitions=2,
                                              bench_args=["--benchmark_filter=fake"],
                                              work_dir=self.dir)
        with open(self.log, encoding="utf-8") as f:
            self.assertEqual(f.read().split(), ["base", "new"] * 5)
        merged = {}
        for side in ("base", "new"):
            docs = [ci_regression.load_json(p) for p in files[side]]
            merged[side] = ci_regression.merge_rounds(docs, note=side)
            rows = merged[side]["benchmarks"]
            # 5 rounds x 2 repetitions, renumbered; each round's 4 aggregates dropped.
            self.assertEqual(len(rows), 10)
            self.assertEqual([r["repetition_index"] for r in rows], list(range(10)))
            self.assertTrue(all(r["repetitions"] == 10 for r in rows))
            self.assertEqual(merged[side]["context"]["ci_regression"], side)
            synth.write(os.path.join(self.dir, f"{side}.json"), merged[side])
        code = compare.main([os.path.join(self.dir, "base.json"),
                             os.path.join(self.dir, "new.json")])
        self.assertEqual(code, 1)  # 50% slower over 10 vs 10 samples

    def test_googlecpp_summary_one_row_per_benchmark(self):
        doc = synth.document({"a": [1.0, 5.0, 3.0], "b": [10.0, 10.0, 12.0]})
        summary = ci_regression.googlecpp_summary(doc)
        names = [r["name"] for r in summary["benchmarks"]]
        self.assertEqual(names, ["a", "b"])  # no _mean/_median rows, no repeats
        self.assertEqual(summary["benchmarks"][0]["real_time"], 3.0)
        self.assertEqual(summary["benchmarks"][1]["real_time"], 10.0)
        json.dumps(summary, allow_nan=False)  # github-action-benchmark uses JSON.parse

    def test_merge_keeps_one_error_row(self):
        err = {"name": "kvm/x", "run_name": "kvm/x", "run_type": "iteration",
               "error_occurred": True, "error_message": "no /dev/kvm"}
        merged = ci_regression.merge_rounds([{"context": {}, "benchmarks": [err]}] * 3)
        self.assertEqual(merged["benchmarks"], [err])

    def test_target_to_binary_path(self):
        self.assertEqual(ci_regression.binary_path("//bench:all", "/o/bin"), "/o/bin/bench/all")
        with self.assertRaises(ci_regression.Failure):
            ci_regression.binary_path("bench/all", "/o/bin")


if __name__ == "__main__":
    unittest.main()
