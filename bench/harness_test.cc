#include "bench/harness.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace oscost {
namespace {

void BM_NonFinite(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(state.iterations());
  state.counters["finite"] = 1.5;
  state.counters["nan"] = std::numeric_limits<double>::quiet_NaN();
  state.counters["inf"] = std::numeric_limits<double>::infinity();
}

// Runs `fn` alone for `iterations` and returns what FiniteJsonReporter wrote.
std::string RunToJson(const char* name, void (*fn)(benchmark::State&), int iterations) {
  benchmark::ClearRegisteredBenchmarks();
  benchmark::RegisterBenchmark(name, fn)->Iterations(iterations);
  std::ostringstream out, err;
  FiniteJsonReporter json;
  json.SetOutputStream(&out);
  json.SetErrorStream(&err);
  benchmark::RunSpecifiedBenchmarks(&json);
  return out.str();
}

TEST(HarnessTest, JsonNeverCarriesNonFiniteValues) {
  std::string text = RunToJson("harness_test/non_finite", BM_NonFinite, 10);
  EXPECT_NE(text.find("\"finite\": 1.5"), std::string::npos) << text;
  EXPECT_EQ(text.find("nan"), std::string::npos) << text;
  EXPECT_EQ(text.find("inf\""), std::string::npos) << text;
  EXPECT_EQ(text.find("NaN"), std::string::npos) << text;
  EXPECT_EQ(text.find("Infinity"), std::string::npos) << text;
}

void BM_TouchPages(benchmark::State& state) {
  oscost::BenchmarkPerf perf({{"page_faults", "faults"}});
  std::vector<std::vector<char>> keep;
  perf.Start();
  for (auto _ : state) keep.emplace_back(64 * 4096, 1);  // Fresh pages each time.
  perf.Stop();
  perf.Report(state);
}

// BenchmarkPerf reports per-iteration counts under the counter's name: 64
// fresh pages per iteration fault at least ~64 times (malloc may reuse a
// little, never all).
TEST(HarnessTest, PerfCountersBecomePerIterationCounters) {
  if (!ProbePerfEvent("page_faults").ok()) GTEST_SKIP() << ProbePerfEvent("page_faults");
  std::string text = RunToJson("harness_test/touch", BM_TouchPages, 20);
  size_t at = text.find("\"faults\": ");
  ASSERT_NE(at, std::string::npos) << text;
  double faults = std::stod(text.substr(at + 10));
  EXPECT_GE(faults, 32) << text;
  EXPECT_LT(faults, 200) << text;
}

TEST(HarnessTest, DefaultResultsPathIsUnderWorkspaceResults) {
  setenv("BUILD_WORKSPACE_DIRECTORY", "/some/workspace", 1);
  std::string path = DefaultResultsPath();
  EXPECT_EQ(path.rfind("/some/workspace/results/", 0), 0u) << path;
  EXPECT_EQ(path.substr(path.size() - 6), "Z.json") << path;
  unsetenv("BUILD_WORKSPACE_DIRECTORY");
}

}  // namespace
}  // namespace oscost
