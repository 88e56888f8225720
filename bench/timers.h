// timers.h: every way this suite reads the time, as one table.
//
// Caveats: each source has its own cost, resolution and ordering guarantees.
//  - The TSC reads (rdtsc, rdtscp, lfence_rdtsc, cpuid_rdtsc) count cycles of
//    the TSC, converted to ns with the calibration of tsc.h; see x86.h for what
//    each one orders and what a VM does to them. cpuid_rdtsc exits to the
//    hypervisor on every read when virtualized.
//  - clock_gettime goes through the vDSO without entering the kernel when the
//    clocksource allows it (tsc, kvm-clock with a stable pvclock); the *_COARSE
//    clocks return the last tick's value (resolution = one jiffy); the CPU-time
//    clocks always make a system call.
//  - CLOCK_REALTIME, gettimeofday, time() and system_clock may step backwards
//    when the wall clock is set; only the monotonic family must never do so.
//
// The table drives the benchmarks (timers_benchmark.cc), the tests and the
// README: add an X(...) row, get all three.
//
// Example:
//   for (const oscost::TimerSource& s : oscost::TimerSources()) {
//     absl::StatusOr<oscost::ResolutionProbe> p = oscost::ProbeResolution(s, 0.05);
//   }

#ifndef OSCOST_BENCH_TIMERS_H_
#define OSCOST_BENCH_TIMERS_H_

#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "bench/x86.h"

namespace oscost {

// The unit one raw reading counts in.
enum class TimerUnit { kTscCycles, kNanoseconds, kMicroseconds, kSeconds };

namespace timer_read {

template <clockid_t kClock>
inline uint64_t ClockGettime() {
  timespec ts;
  clock_gettime(kClock, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

inline uint64_t SyscallClockGettimeMonotonic() {
  timespec ts;
  syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

inline uint64_t Gettimeofday() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  return uint64_t(tv.tv_sec) * 1000000u + uint64_t(tv.tv_usec);
}

inline uint64_t Time() { return uint64_t(std::time(nullptr)); }

inline uint64_t SteadyClock() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline uint64_t SystemClock() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

inline uint64_t AbslNow() { return uint64_t(absl::GetCurrentTimeNanos()); }
inline uint64_t Rdtsc() { return x86::Rdtsc(); }
inline uint64_t Rdtscp() { return x86::Rdtscp(); }
inline uint64_t LfenceRdtsc() { return x86::LfenceRdtsc(); }
inline uint64_t CpuidRdtsc() { return x86::CpuidRdtsc(); }

}  // namespace timer_read

// X(benchmark name suffix, reader, unit, clockid for clock_getres or -1,
//   must never go backwards)
#define OSCOST_TIMER_SOURCES(X)                                                                   \
  X("rdtsc", timer_read::Rdtsc, kTscCycles, -1, true)                                              \
  X("rdtscp", timer_read::Rdtscp, kTscCycles, -1, true)                                            \
  X("lfence_rdtsc", timer_read::LfenceRdtsc, kTscCycles, -1, true)                                 \
  X("cpuid_rdtsc", timer_read::CpuidRdtsc, kTscCycles, -1, true)                                   \
  X("clock_gettime/realtime", timer_read::ClockGettime<CLOCK_REALTIME>, kNanoseconds,              \
    CLOCK_REALTIME, false)                                                                         \
  X("clock_gettime/monotonic", timer_read::ClockGettime<CLOCK_MONOTONIC>, kNanoseconds,            \
    CLOCK_MONOTONIC, true)                                                                         \
  X("clock_gettime/monotonic_raw", timer_read::ClockGettime<CLOCK_MONOTONIC_RAW>, kNanoseconds,    \
    CLOCK_MONOTONIC_RAW, true)                                                                     \
  X("clock_gettime/boottime", timer_read::ClockGettime<CLOCK_BOOTTIME>, kNanoseconds,              \
    CLOCK_BOOTTIME, true)                                                                          \
  X("clock_gettime/tai", timer_read::ClockGettime<CLOCK_TAI>, kNanoseconds, CLOCK_TAI, false)      \
  X("clock_gettime/realtime_coarse", timer_read::ClockGettime<CLOCK_REALTIME_COARSE>,              \
    kNanoseconds, CLOCK_REALTIME_COARSE, false)                                                    \
  X("clock_gettime/monotonic_coarse", timer_read::ClockGettime<CLOCK_MONOTONIC_COARSE>,            \
    kNanoseconds, CLOCK_MONOTONIC_COARSE, true)                                                    \
  X("clock_gettime/process_cputime", timer_read::ClockGettime<CLOCK_PROCESS_CPUTIME_ID>,           \
    kNanoseconds, CLOCK_PROCESS_CPUTIME_ID, true)                                                  \
  X("clock_gettime/thread_cputime", timer_read::ClockGettime<CLOCK_THREAD_CPUTIME_ID>,             \
    kNanoseconds, CLOCK_THREAD_CPUTIME_ID, true)                                                   \
  X("syscall_clock_gettime/monotonic", timer_read::SyscallClockGettimeMonotonic, kNanoseconds,     \
    CLOCK_MONOTONIC, true)                                                                         \
  X("gettimeofday", timer_read::Gettimeofday, kMicroseconds, -1, false)                            \
  X("time", timer_read::Time, kSeconds, -1, false)                                                 \
  X("chrono/steady_clock", timer_read::SteadyClock, kNanoseconds, -1, true)                        \
  X("chrono/system_clock", timer_read::SystemClock, kNanoseconds, -1, false)                       \
  X("absl_now", timer_read::AbslNow, kNanoseconds, -1, false)

struct TimerSource {
  absl::string_view name;  // After "timers/": the benchmark's name.
  uint64_t (*read)();
  TimerUnit unit;
  int clock_id;     // For clock_getres; -1 where the source has no clock id.
  bool monotonic;   // Must never go backwards on a sane machine.
};

const std::vector<TimerSource>& TimerSources();

// The source named `name` (e.g. "clock_gettime/monotonic"), or NotFound.
absl::StatusOr<TimerSource> FindTimerSource(absl::string_view name);

// Nanoseconds per raw tick; for TSC sources the process-wide calibration
// (its error status if it failed).
absl::StatusOr<double> NsPerTick(TimerUnit unit);

// clock_getres() of the source's clock in ns; NotFound for sources with none.
absl::StatusOr<int64_t> ClockGetresNs(const TimerSource& source);

// Consecutive-read statistics.
struct StepStats {
  uint64_t min_step = 0;        // Smallest nonzero step, in ticks; 0 = none seen.
  uint64_t backward_steps = 0;  // Reads smaller than their predecessor.
  uint64_t reads = 0;

  void Add(uint64_t previous, uint64_t current) {
    ++reads;
    if (current < previous) {
      ++backward_steps;
    } else if (current != previous && (min_step == 0 || current - previous < min_step)) {
      min_step = current - previous;
    }
  }
};

// Reads the source back to back until at least `min_seconds` have passed and
// a nonzero step has been seen, or until `deadline_seconds`. The smallest step
// is the resolution a caller can observe (for fast fine-grained clocks it is
// bounded below by the read's own cost).
struct ResolutionProbe {
  StepStats steps;
  double resolution_ns = 0;  // min_step in ns; 0 when no step was seen.
};
absl::StatusOr<ResolutionProbe> ProbeResolution(const TimerSource& source, double min_seconds,
                                                double deadline_seconds = 2.5);

}  // namespace oscost

#endif  // OSCOST_BENCH_TIMERS_H_
