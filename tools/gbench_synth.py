"""gbench_synth: synthetic results in the shape Google Benchmark 1.7.1 writes.

For tests only. The shape (field order, run_type/aggregate rows, the cv row
dropping a counter that came out NaN) is copied from a real
`//bench:timers_benchmark --benchmark_repetitions=3` JSON of this repo; the
numbers are drawn from a seeded random generator, so every test is repeatable.

Example:
  doc = gbench_synth.document({"a/b": gbench_synth.samples(100.0, 0.02, 10, seed=1)},
                              counters={"a/b": {"exits_per_op": 1.0}})
"""
import json
import random
import statistics

CONTEXT = {
    "date": "2024-03-01T10:00:00+00:00",
    "host_name": "synthetic-host",
    "executable": "/synthetic/bench/all",
    "num_cpus": 2,
    "mhz_per_cpu": 2596,
    "cpu_scaling_enabled": False,
    "caches": [{"type": "Data", "level": 1, "size": 49152, "num_sharing": 1}],
    "load_avg": [0.5, 0.4, 0.3],
    "library_build_type": "release",
    "cpu_brand": "Synthetic CPU",
    "cpu_model": "Synthetic CPU",
    "kernel_release": "6.1.0-synthetic",
}


def samples(mean, rel_sd, n, seed):
    """n times around `mean` with relative Gaussian noise rel_sd, never <= 0."""
    rng = random.Random(seed)
    return [max(mean * (1 + rng.gauss(0, rel_sd)), mean * 0.01) for _ in range(n)]


def document(times, counters=None, context=None, time_unit="ns"):
    """A GB 1.7.1 document: per benchmark its iteration rows, then 4 aggregates.

    times: name -> list of real times (one per repetition); cpu_time is 0.9x.
    counters: name -> {counter: value or list of per-repetition values}.
    """
    counters = counters or {}
    ctx = dict(CONTEXT)
    ctx.update(context or {})
    rows = []
    for family, (name, reps) in enumerate(times.items()):
        ctr = counters.get(name, {})

        def counter_values(i):
            return {k: float(v[i] if isinstance(v, list) else v) for k, v in ctr.items()}

        common = {"name": name, "family_index": family, "per_family_instance_index": 0,
                  "run_name": name}
        for i, t in enumerate(reps):
            row = dict(common)
            row.update({"run_type": "iteration", "repetitions": len(reps),
                        "repetition_index": i, "threads": 1, "iterations": 1000000,
                        "real_time": t, "cpu_time": t * 0.9, "time_unit": time_unit})
            row.update(counter_values(i))
            rows.append(row)
        if len(reps) < 2:
            continue  # GB writes aggregates only with repetitions
        per_counter = {k: [counter_values(i)[k] for i in range(len(reps))] for k in ctr}
        for agg, fn in (("mean", statistics.mean), ("median", statistics.median),
                        ("stddev", statistics.stdev), ("cv", None)):
            row = dict(common)
            row["name"] = f"{name}_{agg}"
            row.update({"run_type": "aggregate", "repetitions": len(reps), "threads": 1,
                        "aggregate_name": agg,
                        "aggregate_unit": "percentage" if agg == "cv" else "time",
                        "iterations": len(reps)})
            if fn is None:
                m = statistics.mean(reps)
                row.update({"real_time": statistics.stdev(reps) / m,
                            "cpu_time": statistics.stdev(reps) / m, "time_unit": time_unit})
                for k, v in per_counter.items():
                    mk = statistics.mean(v)
                    if mk != 0:  # 0/0 is NaN, which oscost's reporter drops
                        row[k] = statistics.stdev(v) / mk
            else:
                row.update({"real_time": fn(reps), "cpu_time": fn(reps) * 0.9,
                            "time_unit": time_unit})
                for k, v in per_counter.items():
                    row[k] = fn(v)
            rows.append(row)
    return {"context": ctx, "benchmarks": rows}


def write(path, doc):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=2)
    return path
