#include "bench/tsc.h"

#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "bench/x86.h"

namespace oscost {
namespace {

struct Pair {
  uint64_t tsc;  // Midpoint of the bracketing reads.
  int64_t ns;    // CLOCK_MONOTONIC_RAW.
};

int64_t ToNs(const timespec& ts) { return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec; }

absl::StatusOr<Pair> PairedReading() {
  constexpr int kTries = 16;
  uint64_t best_width = UINT64_MAX;
  Pair best{};
  for (int i = 0; i < kTries; ++i) {
    timespec ts;
    uint64_t a = x86::LfenceRdtsc();
    int rc = clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
    uint64_t b = x86::LfenceRdtsc();
    if (rc != 0) return absl::ErrnoToStatus(errno, "clock_gettime(CLOCK_MONOTONIC_RAW)");
    if (b < a) continue;  // Migrated between CPUs with unsynchronized TSCs.
    if (b - a < best_width) {
      best_width = b - a;
      best = {a + (b - a) / 2, ToNs(ts)};
    }
  }
  if (best_width == UINT64_MAX) {
    return absl::FailedPreconditionError("TSC went backwards in every paired reading");
  }
  return best;
}

}  // namespace

std::string TscCalibration::Describe() const {
  return absl::StrFormat("%.0f Hz from %d windows against CLOCK_MONOTONIC_RAW, spread %.0f ppm%s",
                         hz, windows, spread_ppm, converged ? "" : " (did not converge)");
}

absl::StatusOr<TscCalibration> CalibrateTsc(const TscCalibrationOptions& options) {
  std::vector<double> rates;
  TscCalibration result;
  const timespec window = {
      static_cast<time_t>(options.window_seconds),
      static_cast<long>(std::fmod(options.window_seconds, 1.0) * 1e9)};
  while (static_cast<int>(rates.size()) < options.max_windows) {
    absl::StatusOr<Pair> start = PairedReading();
    if (!start.ok()) return start.status();
    nanosleep(&window, nullptr);
    absl::StatusOr<Pair> end = PairedReading();
    if (!end.ok()) return end.status();
    if (end->tsc <= start->tsc || end->ns <= start->ns) {
      return absl::FailedPreconditionError(absl::StrFormat(
          "TSC or CLOCK_MONOTONIC_RAW did not advance over a %.3f s window", options.window_seconds));
    }
    double rate = (end->tsc - start->tsc) * 1e9 / (end->ns - start->ns);
    if (!rates.empty() && static_cast<int>(rates.size()) + 1 >= options.min_windows &&
        std::fabs(rate - rates.back()) / rate * 1e6 <= options.agree_ppm) {
      rates.push_back(rate);
      result.converged = true;
      break;
    }
    rates.push_back(rate);
  }
  std::vector<double> sorted = rates;
  std::sort(sorted.begin(), sorted.end());
  result.hz = sorted[sorted.size() / 2];
  result.windows = static_cast<int>(rates.size());
  result.spread_ppm = (sorted.back() - sorted.front()) / result.hz * 1e6;
  return result;
}

const absl::StatusOr<TscCalibration>& ProcessTscCalibration() {
  static const absl::StatusOr<TscCalibration>* calibration =
      new absl::StatusOr<TscCalibration>(CalibrateTsc());
  return *calibration;
}

absl::StatusOr<double> GetHostTimeMs(uint64_t cycles) {
  const absl::StatusOr<TscCalibration>& cal = ProcessTscCalibration();
  if (!cal.ok()) return cal.status();
  return cal->CyclesToNs(cycles) / 1e6;
}

}  // namespace oscost
