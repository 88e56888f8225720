"""gbench: read Google Benchmark JSON of any version into per-benchmark samples.

Defines `load(path)`, which returns a `Results` (the context and, per benchmark
name, its per-repetition times and counters), and `COUNT_COUNTERS`, the one list
of counters that are counts rather than measurements (compared exactly by
//tools:compare, see README).

Caveats:
- Google Benchmark wrote non-finite numbers differently over the years: 1.5+
  writes bare `NaN`/`Infinity`/`-Infinity`, older versions streamed C++'s
  `nan`/`-nan`/`inf`. All of these are accepted (outside strings only) and read
  as float NaN/inf; oscost's own harness never writes them.
- When a benchmark has per-repetition rows (`run_type` "iteration"), those are
  the samples and the aggregate rows (`_mean`, `_median`, `_stddev`, `_cv`, or
  any other `aggregate_name`) are ignored. When a file holds only aggregates
  (`--benchmark_report_aggregates_only`), the `_median` (else `_mean`) row is
  the single sample. Versions before `run_type` existed are recognised by the
  aggregate suffix of a name whose stem is also present.
- Times are converted to nanoseconds from `time_unit` (ns when missing).
- Rows with `error_occurred` (a benchmark skipped here) carry no numbers; the
  benchmark is kept with its `error` message and no samples.

Example:
  results = gbench.load("results/2024.json")
  for name, bench in results.benchmarks.items():
      print(name, statistics.median(bench.real_time_ns))
"""
import collections
import hashlib
import json
import re

# Counters that count events rather than measure them. They do not vary with
# noise on a healthy machine, so //tools:compare reports any change in them as a
# changed count, whatever the times do. Add a counter here when a module
# documents it as a count (the README lists this table).
COUNT_COUNTERS = (
    "exits_per_op",     # vmexit/: VM exits per operation (our run loop's count)
    "backward_steps",   # timers/: reads smaller than the one before
)

# Fields Google Benchmark writes for every run; everything else numeric in a
# row is a user counter.
_STANDARD_FIELDS = frozenset((
    "name", "family_index", "per_family_instance_index", "run_name", "run_type",
    "repetitions", "repetition_index", "threads", "iterations", "real_time",
    "cpu_time", "time_unit", "aggregate_name", "aggregate_unit", "error_occurred",
    "error_message", "label", "big_o", "rms", "complexity_n", "skipped",
))

_AGGREGATE_SUFFIXES = ("_mean", "_median", "_stddev", "_cv", "_BigO", "_RMS")

_NS_PER_UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}

# Strings are matched first so a token inside a string is left alone; then the
# non-finite spellings of every Google Benchmark version.
_TOKEN_RE = re.compile(
    r'"(?:[^"\\]|\\.)*"'
    r'|(?<![\w.])(-?)(NaN|nan|Infinity|infinity|inf)(?![\w.])')


class ReadError(Exception):
    """A results file that cannot be read; str() names the file and the problem."""

    def __init__(self, path, problem):
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class Benchmark:
    """One benchmark's samples: one entry per repetition (or one aggregate)."""

    def __init__(self, name):
        self.name = name
        self.real_time_ns = []
        self.cpu_time_ns = []
        self.iterations = []
        self.counters = collections.OrderedDict()  # counter name -> [values]
        self.from_aggregate = False  # samples come from a _median/_mean row
        self.error = None            # error_message when the benchmark was skipped
        self.threads = 1

    def samples(self, metric):
        return self.real_time_ns if metric == "real_time" else self.cpu_time_ns


class Results:
    def __init__(self, path, context, benchmarks):
        self.path = path
        self.context = context
        self.benchmarks = benchmarks  # OrderedDict name -> Benchmark


def _fix_token(m):
    if m.group(2) is None:
        return m.group(0)
    sign, word = m.group(1), m.group(2).lower()
    if word == "nan":
        return "NaN"  # -nan is still NaN
    return sign + "Infinity"


def parse_text(text, path="<string>"):
    """Parses JSON text that may contain any version's non-finite tokens."""
    try:
        return json.loads(_TOKEN_RE.sub(_fix_token, text))
    except ValueError as e:
        raise ReadError(path, f"not valid JSON ({e})") from None


def _is_aggregate(row, names):
    run_type = row.get("run_type")
    if run_type is not None:
        return run_type == "aggregate"
    if "aggregate_name" in row:
        return True
    name = row.get("name", "")
    return any(name.endswith(s) and name[:-len(s)] in names for s in _AGGREGATE_SUFFIXES)


def _base_name(row):
    # run_name (1.5+) is the name without the aggregate suffix.
    return row.get("run_name") or row.get("name")


def _number(row, key, path):
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ReadError(path, f"benchmark '{row.get('name')}': '{key}' is not a number")
    return float(value)


def from_document(doc, path="<string>"):
    """Builds Results from a parsed Google Benchmark document."""
    if not isinstance(doc, dict):
        raise ReadError(path, "top level is not a JSON object")
    rows = doc.get("benchmarks")
    if not isinstance(rows, list):
        raise ReadError(path, "no 'benchmarks' list")
    context = doc.get("context") if isinstance(doc.get("context"), dict) else {}
    names = {r.get("name") for r in rows if isinstance(r, dict)}
    iterations = collections.OrderedDict()
    aggregates = collections.OrderedDict()
    for row in rows:
        if not isinstance(row, dict) or not isinstance(row.get("name"), str):
            raise ReadError(path, "a benchmark entry has no name")
        if _is_aggregate(row, names):
            agg = row.get("aggregate_name") or row["name"].rsplit("_", 1)[-1]
            aggregates.setdefault(_base_name(row) if "run_name" in row else
                                  row["name"][:-len(agg) - 1], {})[agg] = row
        else:
            iterations.setdefault(_base_name(row), []).append(row)
    benchmarks = collections.OrderedDict()
    for name, group in iterations.items():
        benchmarks[name] = _collect(name, group, path)
    for name, aggs in aggregates.items():
        if name in benchmarks:
            continue  # per-repetition rows win over their summaries
        row = aggs.get("median") or aggs.get("mean")
        if row is None:
            continue  # only a stddev/cv/BigO: no central value to compare
        bench = _collect(name, [row], path)
        bench.from_aggregate = True
        benchmarks[name] = bench
    return Results(path, context, benchmarks)


def _collect(name, rows, path):
    bench = Benchmark(name)
    for row in rows:
        if row.get("error_occurred") or row.get("skipped"):
            bench.error = row.get("error_message") or "skipped"
            continue
        unit = row.get("time_unit", "ns")
        if unit not in _NS_PER_UNIT:
            raise ReadError(path, f"benchmark '{name}': unknown time_unit '{unit}'")
        scale = _NS_PER_UNIT[unit]
        bench.real_time_ns.append(_number(row, "real_time", path) * scale)
        bench.cpu_time_ns.append(_number(row, "cpu_time", path) * scale)
        bench.iterations.append(row.get("iterations", 0))
        bench.threads = row.get("threads", 1)
        for key, value in row.items():
            if key in _STANDARD_FIELDS or isinstance(value, bool):
                continue
            if isinstance(value, (int, float)):
                bench.counters.setdefault(key, []).append(float(value))
    if bench.real_time_ns:
        bench.error = None  # some repetitions ran: use them
    return bench


def load(path):
    """Reads a Google Benchmark JSON file; raises ReadError naming the problem."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ReadError(path, f"cannot read ({e.strerror if isinstance(e, OSError) else e})") \
            from None
    if not text.strip():
        raise ReadError(path, "file is empty")
    return from_document(parse_text(text, path), path)


def machine_of(context):
    """(machine_id, description) from a run's context: host, CPU, kernel.

    The id is a short hash so it is safe in file names; the description is what
    a person reads. CPU is `cpu_model` (oscost's context) or `cpu_brand`, and
    `unknown` when a foreign file has neither.
    """
    host = str(context.get("host_name", "unknown"))
    cpu = str(context.get("cpu_model") or context.get("cpu_brand") or "unknown")
    kernel = str(context.get("kernel_release", "unknown"))
    desc = f"{host} / {cpu} / {kernel}"
    return hashlib.sha256(desc.encode("utf-8")).hexdigest()[:12], desc
