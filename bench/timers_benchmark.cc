// timers_benchmark.cc: the cost, resolution and ordering of every timer source
// in timers.h, plus the measure_loop demonstration of how a timer distorts a
// short measurement. Names are a public interface (see README.md).

#include <cmath>
#include <cstdint>
#include <string>

#include "benchmark/benchmark.h"
#include "bench/timers.h"
#include "bench/tsc.h"
#include "bench/x86.h"

namespace oscost {
namespace {

// Resolution probe after the timed loop when the loop saw no step (coarse
// clocks on a short run, time() at one second): read on until a step shows.
constexpr double kProbeDeadlineSeconds = 2.5;

// The source's tick length; when it is unknown (TSC calibration failed) the
// benchmark is skipped with the reason.
absl::StatusOr<double> NsPerTickOrSkip(benchmark::State& state, const TimerSource& source) {
  absl::StatusOr<double> ns_per_tick = NsPerTick(source.unit);
  if (!ns_per_tick.ok()) state.SkipWithError(std::string(ns_per_tick.status().message()).c_str());
  return ns_per_tick;
}

template <uint64_t (*Read)()>
void BM_TimerRead(benchmark::State& state, TimerSource source) {
  absl::StatusOr<double> ns_per_tick = NsPerTickOrSkip(state, source);
  if (!ns_per_tick.ok()) return;
  StepStats steps;
  uint64_t previous = Read();
  for (auto _ : state) {
    uint64_t current = Read();
    steps.Add(previous, current);
    previous = current;
  }
  uint64_t min_step = steps.min_step;
  if (min_step == 0) {
    absl::StatusOr<ResolutionProbe> probe = ProbeResolution(source, 0, kProbeDeadlineSeconds);
    if (probe.ok()) min_step = probe->steps.min_step;
  }
  // No step even after the probe: leave resolution_ns out rather than claim 0.
  if (min_step != 0) state.counters["resolution_ns"] = min_step * *ns_per_tick;
  absl::StatusOr<int64_t> getres = ClockGetresNs(source);
  if (getres.ok()) state.counters["getres_ns"] = static_cast<double>(*getres);
  state.counters["backward_steps"] = static_cast<double>(steps.backward_steps);
}

// timers/rdtsc_cycles: the cost of one RDTSC in TSC cycles, measured by the
// TSC itself across the whole loop (fenced reads at both ends).
void BM_RdtscCycles(benchmark::State& state) {
  uint64_t start = x86::LfenceRdtsc();
  for (auto _ : state) benchmark::DoNotOptimize(x86::Rdtsc());
  uint64_t cycles = x86::LfenceRdtsc() - start;
  state.counters["cycles"] = static_cast<double>(cycles) / state.iterations();
}

// The exercise's workload: a 100-iteration add loop the compiler must keep.
inline uint64_t AddLoop() {
  uint64_t sum = 0;
  for (int i = 0; i < 100; ++i) {
    sum += i;
    asm volatile("" : "+r"(sum));
  }
  return sum;
}

// timers/measure_loop/<timer>: each iteration times AddLoop() with the timer
// and records the measured duration (one sample per iteration: the exercise
// took 1000, a default run takes far more); counters give the mean and
// standard deviation of those measurements and the sample count. A coarse timer shows up as a mean far from
// the true cost and a large deviation (gettimeofday: mostly 0 or 1000 ns).
template <uint64_t (*Read)()>
void BM_MeasureLoop(benchmark::State& state, TimerSource source) {
  absl::StatusOr<double> ns_per_tick = NsPerTickOrSkip(state, source);
  if (!ns_per_tick.ok()) return;
  // Welford's running mean and variance: a default run takes millions of
  // samples, too many to keep.
  double n = 0, mean = 0, m2 = 0;
  for (auto _ : state) {
    uint64_t t0 = Read();
    benchmark::DoNotOptimize(AddLoop());
    uint64_t t1 = Read();
    double sample = (t1 - t0) * *ns_per_tick;
    n += 1;
    double delta = sample - mean;
    mean += delta / n;
    m2 += delta * (sample - mean);
  }
  double stddev = n > 1 ? std::sqrt(m2 / (n - 1)) : 0;
  state.counters["measured_mean_ns"] = mean;
  state.counters["measured_stddev_ns"] = stddev;
  state.counters["samples"] = n;
}

int RegisterTimerBenchmarks() {
#define OSCOST_REGISTER_TIMER(name, reader, unit, clock, mono)                            \
  benchmark::RegisterBenchmark("timers/" name, BM_TimerRead<&reader>,                     \
                               TimerSource{name, &reader, TimerUnit::unit, clock, mono});
  OSCOST_TIMER_SOURCES(OSCOST_REGISTER_TIMER)
#undef OSCOST_REGISTER_TIMER
  benchmark::RegisterBenchmark("timers/rdtsc_cycles", BM_RdtscCycles);
  benchmark::RegisterBenchmark("timers/measure_loop/rdtsc", BM_MeasureLoop<&timer_read::Rdtsc>,
                               *FindTimerSource("rdtsc"));
  benchmark::RegisterBenchmark("timers/measure_loop/clock_gettime/monotonic",
                               BM_MeasureLoop<&timer_read::ClockGettime<CLOCK_MONOTONIC>>,
                               *FindTimerSource("clock_gettime/monotonic"));
  benchmark::RegisterBenchmark("timers/measure_loop/gettimeofday",
                               BM_MeasureLoop<&timer_read::Gettimeofday>,
                               *FindTimerSource("gettimeofday"));
  return 0;
}

const int registered = RegisterTimerBenchmarks();

}  // namespace
}  // namespace oscost
