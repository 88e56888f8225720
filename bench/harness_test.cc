#include "bench/harness.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "gtest/gtest.h"

namespace oscost {
namespace {

void BM_NonFinite(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(state.iterations());
  state.counters["finite"] = 1.5;
  state.counters["nan"] = std::numeric_limits<double>::quiet_NaN();
  state.counters["inf"] = std::numeric_limits<double>::infinity();
}

TEST(HarnessTest, JsonNeverCarriesNonFiniteValues) {
  benchmark::ClearRegisteredBenchmarks();
  benchmark::RegisterBenchmark("harness_test/non_finite", BM_NonFinite)->Iterations(10);
  std::ostringstream out, err;
  FiniteJsonReporter json;
  json.SetOutputStream(&out);
  json.SetErrorStream(&err);
  benchmark::RunSpecifiedBenchmarks(&json);
  std::string text = out.str();
  EXPECT_NE(text.find("\"finite\": 1.5"), std::string::npos) << text;
  EXPECT_EQ(text.find("nan"), std::string::npos) << text;
  EXPECT_EQ(text.find("inf\""), std::string::npos) << text;
  EXPECT_EQ(text.find("NaN"), std::string::npos) << text;
  EXPECT_EQ(text.find("Infinity"), std::string::npos) << text;
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
