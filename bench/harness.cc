#include "bench/harness.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/context.h"

namespace oscost {
namespace {

constexpr char kUsage[] =
    "oscost benchmarks: what operating-system primitives cost on this machine.\n"
    "\n"
    "Usage: bazel run //bench:all -- [Google Benchmark flags]\n"
    "\n"
    "Prints Google Benchmark's console table on stdout and writes the full JSON\n"
    "to results/<UTC timestamp>.json under the workspace (path on stderr), unless\n"
    "--benchmark_out=FILE is given. The JSON context carries the environment\n"
    "(kernel, clocksource, TSC, hypervisor, mitigations, THP, perf); see README.md.\n"
    "\n"
    "Common flags:\n"
    "  --benchmark_filter=REGEX       run only matching benchmarks (e.g. '^timers/')\n"
    "  --benchmark_repetitions=N      repeat each benchmark N times (for tools/compare)\n"
    "  --benchmark_min_time=SECONDS   minimum time per benchmark (default 0.5)\n"
    "  --benchmark_out=FILE --benchmark_out_format=json|console|csv\n"
    "  --benchmark_list_tests         list the benchmark names and exit\n"
    "\n"
    "Google Benchmark's own flags:\n";

void PrintHelp() {
  std::fputs(kUsage, stdout);
  benchmark::PrintDefaultHelp();
}

bool MakeDirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      std::string prefix = path.substr(0, i);
      if (mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) return false;
    }
  }
  return true;
}

}  // namespace

std::string DefaultResultsPath() {
  const char* root = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  std::string dir = absl::StrCat(root != nullptr && *root != '\0' ? root : ".", "/results");
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  tm utc;
  gmtime_r(&now.tv_sec, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H-%M-%SZ", &utc);
  return absl::StrCat(dir, "/", stamp, ".json");
}

void FiniteJsonReporter::ReportRuns(const std::vector<Run>& runs) {
  std::vector<Run> clean = runs;
  for (Run& run : clean) {
    for (auto it = run.counters.begin(); it != run.counters.end();) {
      if (std::isfinite(it->second.value)) {
        ++it;
      } else {
        it = run.counters.erase(it);
      }
    }
    if (!std::isfinite(run.real_accumulated_time) || !std::isfinite(run.cpu_accumulated_time)) {
      run.real_accumulated_time = 0;
      run.cpu_accumulated_time = 0;
      run.error_occurred = true;
      run.error_message = "non-finite time measured";
    }
  }
  JSONReporter::ReportRuns(clean);
}

int RunBenchmarkMain(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  bool has_out = false;
  bool json_out = true;
  for (const std::string& a : args) {
    if (a == "--help" || a == "-h") {
      PrintHelp();
      return 0;
    }
    if (absl::StartsWith(a, "--benchmark_out=")) has_out = true;
    if (absl::StartsWith(a, "--benchmark_out_format=")) {
      json_out = a == "--benchmark_out_format=json";
    }
  }
  std::string out_path;
  bool list_only = false;
  for (const std::string& a : args) {
    if (a == "--benchmark_list_tests" || a == "--benchmark_list_tests=true") list_only = true;
  }
  if (!has_out && !list_only) {
    out_path = DefaultResultsPath();
    std::string dir = out_path.substr(0, out_path.rfind('/'));
    if (!MakeDirs(dir)) {
      std::fprintf(stderr, "oscost: cannot create %s: %s\n", dir.c_str(), std::strerror(errno));
      return 1;
    }
    args.push_back("--benchmark_out=" + out_path);
    args.push_back("--benchmark_out_format=json");
    json_out = true;
  }
  std::vector<char*> ptrs;
  for (std::string& a : args) ptrs.push_back(a.data());
  ptrs.push_back(nullptr);
  int n = static_cast<int>(args.size());
  benchmark::Initialize(&n, ptrs.data(), PrintHelp);
  if (benchmark::ReportUnrecognizedArguments(n, ptrs.data())) return 1;

  if (!list_only) {
    for (const auto& [key, value] : CollectContext()) benchmark::AddCustomContext(key, value);
  }
  FiniteJsonReporter json;
  size_t ran = json_out && !list_only ? benchmark::RunSpecifiedBenchmarks(nullptr, &json)
                                      : benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (ran == 0 && !list_only) {
    // Google Benchmark has said that the filter matched nothing; an empty
    // results file would only confuse the dashboard.
    if (!out_path.empty()) unlink(out_path.c_str());
    return 1;
  }
  if (!out_path.empty()) std::fprintf(stderr, "oscost: JSON results written to %s\n", out_path.c_str());
  return 0;
}

BenchmarkPerf::BenchmarkPerf(const std::vector<std::pair<std::string, std::string>>& events,
                             PerfTarget target)
    : names_(events) {
  std::vector<std::string> perf_names;
  for (const auto& e : events) perf_names.push_back(e.first);
  counters_ = PerfCounters::Open(perf_names, target);
}

void BenchmarkPerf::Report(benchmark::State& state) {
  for (const auto& [event, count] : counters_.Read()) {
    for (const auto& [perf_name, counter_name] : names_) {
      if (perf_name == event) {
        state.counters[counter_name] =
            benchmark::Counter(static_cast<double>(count), benchmark::Counter::kAvgIterations);
      }
    }
  }
}

}  // namespace oscost
