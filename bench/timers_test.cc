#include "bench/timers.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace oscost {
namespace {

// The names the timer issue fixed; dashboards key on them.
TEST(TimersTest, TableHasEveryPublicName) {
  std::set<std::string> names;
  for (const TimerSource& s : TimerSources()) names.insert(std::string(s.name));
  for (const char* want :
       {"rdtsc", "rdtscp", "lfence_rdtsc", "cpuid_rdtsc", "clock_gettime/realtime",
        "clock_gettime/monotonic", "clock_gettime/monotonic_raw", "clock_gettime/boottime",
        "clock_gettime/tai", "clock_gettime/realtime_coarse", "clock_gettime/monotonic_coarse",
        "clock_gettime/process_cputime", "clock_gettime/thread_cputime",
        "syscall_clock_gettime/monotonic", "gettimeofday", "time", "chrono/steady_clock",
        "chrono/system_clock", "absl_now"}) {
    EXPECT_EQ(names.count(want), 1u) << want;
  }
  EXPECT_FALSE(FindTimerSource("nosuch").ok());
}

double Resolution(absl::string_view name) {
  absl::StatusOr<TimerSource> s = FindTimerSource(name);
  EXPECT_TRUE(s.ok()) << s.status();
  absl::StatusOr<ResolutionProbe> p = ProbeResolution(*s, 0.05);
  EXPECT_TRUE(p.ok()) << p.status();
  EXPECT_GT(p->steps.min_step, 0u) << name << " never stepped";
  return p->resolution_ns;
}

// The coarse clocks step once a tick (1-10 ms); their fine twins step within
// a read's cost. Measured, and checked against clock_getres as the kernel's
// second opinion.
TEST(TimersTest, CoarseClocksAreCoarserThanFineOnes) {
  double mono = Resolution("clock_gettime/monotonic");
  double mono_coarse = Resolution("clock_gettime/monotonic_coarse");
  double real = Resolution("clock_gettime/realtime");
  double real_coarse = Resolution("clock_gettime/realtime_coarse");
  EXPECT_GT(mono_coarse, mono);
  EXPECT_GT(real_coarse, real);
  EXPECT_GE(mono_coarse, 100000) << "a coarse step shorter than 0.1 ms";

  absl::StatusOr<int64_t> getres_fine = ClockGetresNs(*FindTimerSource("clock_gettime/monotonic"));
  absl::StatusOr<int64_t> getres_coarse =
      ClockGetresNs(*FindTimerSource("clock_gettime/monotonic_coarse"));
  ASSERT_TRUE(getres_fine.ok() && getres_coarse.ok());
  EXPECT_GT(*getres_coarse, *getres_fine);
  // The measured coarse step is whole ticks of what clock_getres reports.
  EXPECT_GE(mono_coarse, 0.9 * *getres_coarse);
}

TEST(TimersTest, GettimeofdayStepsInMicroseconds) {
  double res = Resolution("gettimeofday");
  EXPECT_GE(res, 1000.0);
  EXPECT_EQ(static_cast<int64_t>(res) % 1000, 0);
}

TEST(TimersTest, MonotonicSourcesNeverGoBack) {
  for (const TimerSource& s : TimerSources()) {
    if (!s.monotonic || s.name == "cpuid_rdtsc") continue;  // cpuid exits: slow to probe.
    absl::StatusOr<ResolutionProbe> p = ProbeResolution(s, 0.01);
    ASSERT_TRUE(p.ok()) << s.name << ": " << p.status();
    EXPECT_EQ(p->steps.backward_steps, 0u) << s.name;
    EXPECT_GT(p->steps.reads, 0u);
  }
}

TEST(TimersTest, SourcesWithoutClockIdHaveNoGetres) {
  absl::StatusOr<int64_t> r = ClockGetresNs(*FindTimerSource("rdtsc"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
}

TEST(TimersTest, StepStatsCountsBackwardAndSmallestStep) {
  StepStats s;
  s.Add(10, 15);
  s.Add(15, 15);
  s.Add(15, 12);
  s.Add(12, 14);
  EXPECT_EQ(s.min_step, 2u);
  EXPECT_EQ(s.backward_steps, 1u);
  EXPECT_EQ(s.reads, 4u);
}

}  // namespace
}  // namespace oscost
