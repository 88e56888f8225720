"""Tests of //tools:dashboard: ingest into SQLite, render, and load in Chromium.

The database is checked with plain SQL (an independent reader of what ingest
wrote); the page with a real browser: headless Chromium loads index.html from
disk and its DOM must hold the summary table and one decoded chart per
benchmark.
"""
import contextlib
import io
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

from tools import dashboard
from tools import gbench
from tools import gbench_synth as synth

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync")

MACHINE_B = {"host_name": "other-host", "cpu_model": "Other CPU",
             "cpu_brand": "Other CPU", "kernel_release": "6.18.0"}


class DashboardTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
        self.db_path = os.path.join(self.dir, "history.sqlite")

    def run_file(self, name, day, times, context=None):
        ctx = {"date": f"2024-03-{day:02d}T10:00:00+00:00"}
        ctx.update(context or {})
        doc = synth.document(times, counters={n: {"backward_steps": 0} for n in times},
                             context=ctx)
        return synth.write(os.path.join(self.dir, name), doc)

    def main(self, *args):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = dashboard.main(list(args))
        return code, err.getvalue()

    def rows(self, sql, *params):
        with contextlib.closing(sqlite3.connect(self.db_path)) as db:
            return db.execute(sql, params).fetchall()

    def test_ingest_twice_is_idempotent(self):
        path = self.run_file("run.json", 1, {"a": synth.samples(10, 0.02, 5, seed=1),
                                             "b": synth.samples(20, 0.02, 5, seed=2)})
        self.assertEqual(self.main("ingest", f"--db={self.db_path}", "--commit=abc", path)[0], 0)
        first = self.rows("SELECT * FROM results ORDER BY benchmark")
        self.assertEqual(self.main("ingest", f"--db={self.db_path}", "--commit=abc", path)[0], 0)
        second = self.rows("SELECT * FROM results ORDER BY benchmark")
        self.assertEqual(len(first), 2)  # one row per benchmark, aggregates not rows
        self.assertEqual(first, second)
        (row,) = self.rows("SELECT run_time, commit_id, repetitions, real_time_ns FROM results "
                           "WHERE benchmark = 'a'")
        self.assertEqual(row[:3], ("2024-03-01T10:00:00Z", "abc", 5))
        self.assertAlmostEqual(row[3], sorted(synth.samples(10, 0.02, 5, seed=1))[2])

    def test_two_machines_stay_apart(self):
        a = self.run_file("a.json", 1, {"x": [10.0] * 5})
        b = self.run_file("b.json", 1, {"x": [99.0] * 5}, context=MACHINE_B)
        self.assertEqual(self.main("ingest", f"--db={self.db_path}", a, b)[0], 0)
        machines = self.rows("SELECT machine_id, description FROM machines ORDER BY description")
        self.assertEqual(len(machines), 2)
        self.assertEqual([d for _, d in machines],
                         ["other-host / Other CPU / 6.18.0",
                          "synthetic-host / Synthetic CPU / 6.1.0-synthetic"])
        per_machine = self.rows("SELECT machine_id, real_time_ns FROM results ORDER BY 2")
        self.assertEqual(len(per_machine), 2)
        self.assertNotEqual(per_machine[0][0], per_machine[1][0])
        # Render keeps them apart too: one chart per machine, separate sections.
        out = os.path.join(self.dir, "site")
        self.assertEqual(self.main("render", f"--db={self.db_path}", out)[0], 0)
        for machine_id, _ in machines:
            self.assertEqual(len(os.listdir(os.path.join(out, "charts", machine_id))), 1)
        with open(os.path.join(out, "index.html"), encoding="utf-8") as f:
            self.assertEqual(f.read().count('<section class="machine"'), 2)

    def test_unreadable_file_exits_2_and_writes_nothing(self):
        bad = os.path.join(self.dir, "broken.json")
        with open(bad, "w", encoding="utf-8") as f:
            f.write('{"context": {"date": "2024-03-01T10:00:00"}, "benchmarks": [')
        code, err = self.main("ingest", f"--db={self.db_path}", bad)
        self.assertEqual(code, 2)
        self.assertIn("broken.json", err)
        self.assertFalse(os.path.exists(self.db_path))

    def history(self):
        """Eight runs of two benchmarks; `slow` regresses 40% in the last run."""
        for day in range(1, 9):
            slow = synth.samples(100.0 * (1.4 if day == 8 else 1.0), 0.01, 5, seed=day)
            steady = synth.samples(50.0, 0.01, 5, seed=100 + day)
            path = self.run_file(f"run{day}.json", day, {"spawn/slow": slow,
                                                         "timers/steady": steady})
            code, err = self.main("ingest", f"--db={self.db_path}", f"--commit=c{day}", path)
            self.assertEqual(code, 0, err)
        out = os.path.join(self.dir, "site")
        code, err = self.main("render", f"--db={self.db_path}", out)
        self.assertEqual(code, 0, err)
        return out

    def test_render_one_chart_per_benchmark(self):
        out = self.history()
        (machine_dir,) = os.listdir(os.path.join(out, "charts"))
        charts = sorted(os.listdir(os.path.join(out, "charts", machine_dir)))
        self.assertEqual(len(charts), 2)
        for chart in charts:
            with open(os.path.join(out, "charts", machine_dir, chart), encoding="utf-8") as f:
                self.assertIn("<svg", f.read(2000))
        with open(os.path.join(out, "index.html"), encoding="utf-8") as f:
            page = f.read()
        self.assertEqual(page.count('<img class="chart"'), 2)
        # The regression is first in the summary and flagged.
        rows = re.findall(r'<tr class="([a-z-]+)"><td><a href="[^"]+">([^<]+)</a>', page)
        self.assertEqual(rows[0], ("regression", "spawn/slow"))
        self.assertEqual(rows[1], ("within", "timers/steady"))

    def test_band_follows_the_algorithm(self):
        centre, half = dashboard.band([10.0, 11.0, 12.0, 13.0, 100.0])
        self.assertEqual(centre, 12.0)
        self.assertAlmostEqual(half, 3 * 1.4826 * 1.0)  # MAD of |-2,-1,0,1,88| is 1
        self.assertIsNone(dashboard.band([1.0, 2.0, 3.0, 4.0]))
        self.assertAlmostEqual(dashboard.band([5.0] * 5)[1], 0.05)  # the 1% floor

    @unittest.skipUnless(os.access(CHROMIUM, os.X_OK),
                         f"{CHROMIUM} not installed (Debian package chromium)")
    def test_page_in_headless_chromium(self):
        out = self.history()
        profile = tempfile.mkdtemp(dir=self.dir)
        url = "file://" + os.path.abspath(os.path.join(out, "index.html"))
        try:
            proc = subprocess.run(
                [CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
                capture_output=True, text=True, timeout=120,
                env=dict(os.environ, HOME=profile))
        finally:
            shutil.rmtree(profile, ignore_errors=True)
        dom = proc.stdout
        self.assertEqual(proc.returncode, 0, proc.stderr[-2000:])
        self.assertIn('<table class="summary">', dom)
        self.assertEqual(len(re.findall(r'<tr class="(?:regression|within|improvement|no-band)"',
                                        dom)), 2)
        self.assertEqual(len(re.findall(r'<img class="chart"', dom)), 2)
        # Set by the page's script after load: charts the browser decoded.
        self.assertIn('data-charts-loaded="2"', dom, dom[:500])


class MachineIdTest(unittest.TestCase):
    def test_machine_id_from_host_cpu_kernel(self):
        base = {"host_name": "h", "cpu_model": "c", "kernel_release": "k", "date": "1"}
        same = dict(base, date="2", load_avg=[1])
        self.assertEqual(gbench.machine_of(base), gbench.machine_of(same))
        for key in ("host_name", "cpu_model", "kernel_release"):
            self.assertNotEqual(gbench.machine_of(base)[0],
                                gbench.machine_of(dict(base, **{key: "other"}))[0])


if __name__ == "__main__":
    unittest.main()
