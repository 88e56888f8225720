// tsc.h: the TSC's frequency, calibrated here, and cycles-to-time conversion.
//
// Caveats: a TSC count means time only when the TSC ticks at a constant rate
// (see x86.h: invariant TSC / constant_tsc). Under a hypervisor the guest TSC
// is the host's, offset and possibly scaled; calibrating against the guest's
// CLOCK_MONOTONIC_RAW measures the rate the guest actually sees, which is what
// conversion needs. The model name in /proc/cpuinfo is no source: many CPUs
// (this suite's own machine says "AMD EPYC") carry no GHz figure, and where
// there is one it is the nominal, not the TSC, rate.
//
// Example:
//   absl::StatusOr<oscost::TscCalibration> cal = oscost::CalibrateTsc();
//   uint64_t t0 = oscost::x86::Rdtsc();
//   Work();
//   double ns = cal->CyclesToNs(oscost::x86::Rdtsc() - t0);
//
// Or, with the process-wide calibration (made on first use):
//   double ms = oscost::GetHostTimeMs(cycles);

#ifndef OSCOST_BENCH_TSC_H_
#define OSCOST_BENCH_TSC_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace oscost {

struct TscCalibrationOptions {
  // Length of one calibration window. 20 ms keeps the error of the paired
  // readings at the ends (about 1 us on a noisy VM) near 50 ppm.
  double window_seconds = 0.020;
  // Windows are taken until two in a row agree within this many parts per
  // million, or max_windows have been taken.
  double agree_ppm = 500;
  int min_windows = 3;
  int max_windows = 12;
};

struct TscCalibration {
  double hz = 0;            // TSC ticks per second, the median of the windows.
  int windows = 0;          // Windows taken.
  double spread_ppm = 0;    // (max - min) / median of the windows, in ppm.
  bool converged = false;   // Two consecutive windows agreed within agree_ppm.

  double CyclesToNs(uint64_t cycles) const { return cycles * 1e9 / hz; }
  double CyclesToSeconds(uint64_t cycles) const { return cycles / hz; }
  // One line for logs and the benchmark context.
  std::string Describe() const;
};

// Measures the TSC frequency against CLOCK_MONOTONIC_RAW.
//
// Algorithm:
//   A paired reading brackets one clock_gettime(CLOCK_MONOTONIC_RAW) between two
//   RDTSCs and keeps, out of 16 tries, the pair whose bracket is shortest: the
//   interruption-free one, whose TSC midpoint best matches the clock value.
//   One window is a paired reading, a sleep of window_seconds, and a second
//   paired reading; its frequency is delta_tsc / delta_clock. Windows repeat
//   until two consecutive ones agree within agree_ppm (after min_windows), and
//   the median of all windows is the result, so one window spoiled by a
//   preemption between its reading and its clock read cannot move it.
// Assumptions: the TSC is constant-rate over the calibration (true with
//   constant_tsc; otherwise sleep-time frequency scaling makes this wrong, and
//   the context reports tsc_constant=false so a reader can tell).
// Fails with FailedPrecondition when the TSC does not advance or the clock
// cannot be read.
absl::StatusOr<TscCalibration> CalibrateTsc(const TscCalibrationOptions& options = {});

// The process-wide calibration, made on first use and then reused (thread-safe).
const absl::StatusOr<TscCalibration>& ProcessTscCalibration();

// gethosttime() of the course exercise this suite grew from: TSC cycles to
// milliseconds by the process-wide calibration. Returns the status of the
// calibration if it failed.
absl::StatusOr<double> GetHostTimeMs(uint64_t cycles);

}  // namespace oscost

#endif  // OSCOST_BENCH_TSC_H_
