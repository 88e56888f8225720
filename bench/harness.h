// harness.h: what every oscost benchmark binary shares: the main() that adds
// the environment context and writes sanitized JSON, and perf counters as
// benchmark counters.
//
// Example (a module's benchmark binary):
//   int main(int argc, char** argv) { return oscost::RunBenchmarkMain(argc, argv); }
//
// Example (perf counters in a benchmark):
//   oscost::BenchmarkPerf perf({{"page_faults", "parent_page_faults"}});
//   perf.Start();
//   for (auto _ : state) { ... }
//   perf.Stop();
//   perf.Report(state);  // counters per iteration; unavailable events left out

#ifndef OSCOST_BENCH_HARNESS_H_
#define OSCOST_BENCH_HARNESS_H_

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "bench/perf.h"

namespace oscost {

// Parses Google Benchmark's flags (all of them pass through), adds the
// CollectContext() keys to the context, and runs the registered benchmarks.
// Unless --benchmark_out is given, the JSON goes to
// results/<UTC timestamp>.json under $BUILD_WORKSPACE_DIRECTORY (bazel run)
// or the current directory, and its path is printed on stderr. Non-finite
// counter values are dropped from the JSON (Google Benchmark would write bare
// NaN/Infinity, which JSON parsers reject). Returns the process exit code:
// 0, or 1 when the filter matched no benchmark (no results file is left).
int RunBenchmarkMain(int argc, char** argv);

// The default results path for a run starting now.
std::string DefaultResultsPath();

// A JSON reporter that never writes NaN or infinity: non-finite counters are
// dropped, non-finite times become 0 and mark the run as an error.
class FiniteJsonReporter : public benchmark::JSONReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override;
};

// Perf events reported as per-iteration benchmark counters.
class BenchmarkPerf {
 public:
  // Pairs of {perf event name (see perf.h), counter name}.
  explicit BenchmarkPerf(const std::vector<std::pair<std::string, std::string>>& events,
                         PerfTarget target = {});
  // So that BenchmarkPerf perf({{"page_faults", "faults"}}) picks this, not a copy.
  BenchmarkPerf(std::initializer_list<std::pair<std::string, std::string>> events,
                PerfTarget target = {})
      : BenchmarkPerf(std::vector<std::pair<std::string, std::string>>(events), target) {}
  BenchmarkPerf(const BenchmarkPerf&) = delete;
  BenchmarkPerf& operator=(const BenchmarkPerf&) = delete;
  void Start() { counters_.Start(); }
  void Stop() { counters_.Stop(); }
  // Sets state.counters[counter name] = count / iterations for each available
  // event; unavailable ones are left out (the run's context lists why).
  void Report(benchmark::State& state);

 private:
  std::vector<std::pair<std::string, std::string>> names_;
  PerfCounters counters_;
};

}  // namespace oscost

#endif  // OSCOST_BENCH_HARNESS_H_
