"""Tests of //tools:compare on synthetic Google Benchmark 1.7.1 documents.

The independent source for the statistics is scipy itself for p-values, and
statistics.median over the generated samples for the base/new columns.
"""
import contextlib
import io
import json
import os
import statistics
import tempfile
import unittest

from tools import compare
from tools import gbench
from tools import gbench_synth as synth

REPS = 10


class CompareTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))

    def path(self, name, doc=None, text=None):
        p = os.path.join(self.dir, name)
        if doc is not None:
            synth.write(p, doc)
        else:
            with open(p, "w", encoding="utf-8") as f:
                f.write(text)
        return p

    def run_compare(self, *args):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = compare.main([str(a) for a in args])
        return code, out.getvalue(), err.getvalue()

    def report(self, base, new, *flags):
        out_json = os.path.join(self.dir, "report.json")
        code, out, err = self.run_compare(base, new, f"--json={out_json}", *flags)
        with open(out_json, encoding="utf-8") as f:
            report = json.load(f)  # strict: must parse without NaN tokens
        self.assertEqual(report["exit_status"], code)
        return code, {r["name"]: r for r in report["benchmarks"]}, out

    def test_identical_inputs_are_all_same_and_exit_0(self):
        doc = synth.document({
            "timers/rdtsc": synth.samples(10.0, 0.02, REPS, seed=1),
            "timers/clock_gettime/monotonic": synth.samples(25.0, 0.05, REPS, seed=2),
            "vmexit/pio": synth.samples(5000.0, 0.1, REPS, seed=3),
        }, counters={"vmexit/pio": {"exits_per_op": 1.0, "bytes_per_exit": 4.0},
                     "timers/rdtsc": {"backward_steps": 0.0}})
        base = self.path("base.json", doc)
        new = self.path("new.json", doc)
        code, rows, out = self.report(base, new)
        self.assertEqual(code, 0, out)
        self.assertEqual(set(rows), {"timers/rdtsc", "timers/clock_gettime/monotonic",
                                     "vmexit/pio"})  # aggregates are not benchmarks
        for r in rows.values():
            self.assertEqual(r["verdict"], "same")
            self.assertEqual(r["change"], 0.0)
            self.assertEqual(r["base_n"], REPS)
            self.assertEqual(r["p_value"], 1.0)
            for c in r["counters"]:
                self.assertIn(c["verdict"], ("same", "same count"))

    def test_30_percent_slowdown_is_slower_and_exit_1(self):
        before = synth.samples(100.0, 0.02, REPS, seed=4)
        after = synth.samples(130.0, 0.02, REPS, seed=5)
        base = self.path("base.json", synth.document({"spawn/fork_exec": before}))
        new = self.path("new.json", synth.document({"spawn/fork_exec": after}))
        code, rows, out = self.report(base, new)
        self.assertEqual(code, 1, out)
        r = rows["spawn/fork_exec"]
        self.assertEqual(r["verdict"], "slower")
        self.assertAlmostEqual(r["base"], statistics.median(before))
        self.assertAlmostEqual(r["new"], statistics.median(after))
        # 10 vs 10 fully separated samples: the smallest two-sided p there is.
        self.assertLess(r["p_value"], 0.001)
        self.assertIn("REGRESSED: spawn/fork_exec", out)
        # The same data the other way round is an improvement, not a failure.
        code, rows, _ = self.report(new, base)
        self.assertEqual((code, rows["spawn/fork_exec"]["verdict"]), (0, "faster"))

    def test_2_percent_change_within_noise_is_same(self):
        before = synth.samples(100.0, 0.03, REPS, seed=6)
        after = synth.samples(102.0, 0.03, REPS, seed=7)
        base = self.path("base.json", synth.document({"maps/mincore": before}))
        new = self.path("new.json", synth.document({"maps/mincore": after}))
        code, rows, out = self.report(base, new)
        self.assertEqual(code, 0, out)
        self.assertEqual(rows["maps/mincore"]["verdict"], "same")
        self.assertLess(abs(rows["maps/mincore"]["change"]), 0.05)

    def test_big_change_in_big_noise_is_same(self):
        # A 15% shift under 40% noise: beyond the threshold, but the test does
        # not separate it from the noise, which is the false alarm to avoid.
        before = synth.samples(100.0, 0.4, 6, seed=8)
        after = synth.samples(115.0, 0.4, 6, seed=9)
        base = self.path("base.json", synth.document({"x": before}))
        new = self.path("new.json", synth.document({"x": after}))
        code, rows, out = self.report(base, new)
        r = rows["x"]
        self.assertGreater(abs(r["change"]), 0.05, out)
        self.assertGreaterEqual(r["p_value"], 0.05, out)
        self.assertEqual((code, r["verdict"]), (0, "same"))

    def test_changed_exit_count_reported_with_equal_times(self):
        times = synth.samples(5000.0, 0.05, REPS, seed=10)
        base = self.path("base.json", synth.document(
            {"vmexit/pio": times}, counters={"vmexit/pio": {"exits_per_op": 1.0}}))
        new = self.path("new.json", synth.document(
            {"vmexit/pio": times}, counters={"vmexit/pio": {"exits_per_op": 2.0}}))
        code, rows, out = self.report(base, new)
        r = rows["vmexit/pio"]
        self.assertEqual(r["verdict"], "same")
        (counter,) = r["counters"]
        self.assertEqual((counter["name"], counter["kind"]), ("exits_per_op", "count"))
        self.assertEqual((counter["base"], counter["new"]), (1.0, 2.0))
        self.assertEqual(counter["verdict"], "changed count")
        self.assertEqual(code, 1)
        self.assertIn("CHANGED COUNTS: vmexit/pio:exits_per_op", out)
        self.assertIn("exits_per_op (count)", out)

    def test_count_change_is_exact_but_value_counter_is_noisy(self):
        # backward_steps moves by one in one repetition out of ten: the median
        # is unchanged, so no change; a value counter drifting 0.1% is `same`.
        steps = [0.0] * REPS
        base = self.path("base.json", synth.document(
            {"timers/realtime": [20.0] * REPS},
            counters={"timers/realtime": {"backward_steps": steps, "resolution_ns": 20.0}}))
        new = self.path("new.json", synth.document(
            {"timers/realtime": [20.0] * REPS},
            counters={"timers/realtime": {"backward_steps": [1.0] * REPS,
                                          "resolution_ns": 20.02}}))
        code, rows, _ = self.report(base, new)
        verdicts = {c["name"]: c["verdict"] for c in rows["timers/realtime"]["counters"]}
        self.assertEqual(verdicts, {"backward_steps": "changed count", "resolution_ns": "same"})
        self.assertEqual(code, 1)

    def test_truncated_file_exits_2_naming_the_file(self):
        good = self.path("good.json", synth.document({"x": [1.0] * 5}))
        with open(good, encoding="utf-8") as f:
            text = f.read()
        bad = self.path("truncated.json", text=text[: len(text) // 2])
        code, out, err = self.run_compare(good, bad)
        self.assertEqual(code, 2)
        self.assertIn("truncated.json", err)
        self.assertIn("not valid JSON", err)
        self.assertEqual(out, "")
        code, _, err = self.run_compare(os.path.join(self.dir, "missing.json"), good)
        self.assertEqual(code, 2)
        self.assertIn("missing.json: cannot read", err)

    def test_new_removed_and_too_few_repetitions(self):
        base = self.path("base.json", synth.document({"old": [1.0, 1.0], "kept": [10.0, 10.0]}))
        new = self.path("new.json", synth.document({"new": [1.0, 1.0], "kept": [20.0, 20.0]}))
        code, rows, _ = self.report(base, new)
        self.assertEqual(rows["old"]["verdict"], "removed")
        self.assertEqual(rows["new"]["verdict"], "new")
        # Doubled, but 2 repetitions allow no test: shown as slower, not failing.
        self.assertEqual(rows["kept"]["verdict"], "slower")
        self.assertIsNone(rows["kept"]["p_value"])
        self.assertEqual(code, 0)


class ReadTest(unittest.TestCase):
    def test_reads_every_versions_non_finite_tokens(self):
        text = ('{"context": {"date": "x", "note": "NaN inside a string, inf too"},'
                ' "benchmarks": [{"name": "a", "real_time": 1, "cpu_time": 1,'
                ' "time_unit": "us", "c1": NaN, "c2": -nan, "c3": Infinity, "c4": -inf,'
                ' "c5": nan}]}')
        results = gbench.from_document(gbench.parse_text(text))
        bench = results.benchmarks["a"]
        self.assertEqual(bench.real_time_ns, [1000.0])
        self.assertEqual(results.context["note"], "NaN inside a string, inf too")
        c = {k: v[0] for k, v in bench.counters.items()}
        self.assertNotEqual(c["c1"], c["c1"])
        self.assertNotEqual(c["c2"], c["c2"])
        self.assertEqual((c["c3"], c["c4"]), (float("inf"), float("-inf")))

    def test_pre_run_type_versions_and_aggregates_only(self):
        # Google Benchmark before 1.5: no run_type/run_name, suffixes only.
        doc = {"context": {}, "benchmarks": [
            {"name": "a", "iterations": 1, "real_time": 2, "cpu_time": 2, "time_unit": "ns"},
            {"name": "a", "iterations": 1, "real_time": 4, "cpu_time": 4, "time_unit": "ns"},
            {"name": "a_mean", "iterations": 2, "real_time": 3, "cpu_time": 3,
             "time_unit": "ns"},
            {"name": "b_median", "run_name": "b", "run_type": "aggregate",
             "aggregate_name": "median", "real_time": 7, "cpu_time": 7, "time_unit": "ms"},
            {"name": "skipped", "run_name": "skipped", "run_type": "iteration",
             "error_occurred": True, "error_message": "no /dev/kvm"},
        ]}
        results = gbench.from_document(doc)
        self.assertEqual(list(results.benchmarks), ["a", "skipped", "b"])
        self.assertEqual(results.benchmarks["a"].real_time_ns, [2.0, 4.0])
        self.assertEqual(results.benchmarks["b"].real_time_ns, [7e6])
        self.assertTrue(results.benchmarks["b"].from_aggregate)
        self.assertEqual(results.benchmarks["skipped"].error, "no /dev/kvm")

    def test_real_file_shape(self):
        # The synthetic writer's aggregates are recognised the way real ones are.
        doc = synth.document({"x": [1.0, 2.0, 3.0]}, counters={"x": {"backward_steps": 0}})
        results = gbench.from_document(json.loads(json.dumps(doc)))
        self.assertEqual(results.benchmarks["x"].real_time_ns, [1.0, 2.0, 3.0])
        self.assertEqual(results.benchmarks["x"].counters["backward_steps"], [0.0] * 3)


if __name__ == "__main__":
    unittest.main()
