#include "bench/timers.h"

#include <cerrno>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bench/tsc.h"

namespace oscost {

const std::vector<TimerSource>& TimerSources() {
#define OSCOST_TIMER_ROW(name, reader, unit, clock, mono) \
  TimerSource{name, &reader, TimerUnit::unit, clock, mono},
  static const std::vector<TimerSource>* sources =
      new std::vector<TimerSource>{OSCOST_TIMER_SOURCES(OSCOST_TIMER_ROW)};
#undef OSCOST_TIMER_ROW
  return *sources;
}

absl::StatusOr<TimerSource> FindTimerSource(absl::string_view name) {
  for (const TimerSource& s : TimerSources()) {
    if (s.name == name) return s;
  }
  return absl::NotFoundError(absl::StrCat("no timer source named '", name, "'"));
}

absl::StatusOr<double> NsPerTick(TimerUnit unit) {
  switch (unit) {
    case TimerUnit::kTscCycles: {
      const absl::StatusOr<TscCalibration>& cal = ProcessTscCalibration();
      if (!cal.ok()) return cal.status();
      return 1e9 / cal->hz;
    }
    case TimerUnit::kNanoseconds:
      return 1.0;
    case TimerUnit::kMicroseconds:
      return 1e3;
    case TimerUnit::kSeconds:
      return 1e9;
  }
  return absl::InvalidArgumentError("unknown timer unit");
}

absl::StatusOr<int64_t> ClockGetresNs(const TimerSource& source) {
  if (source.clock_id < 0) {
    return absl::NotFoundError(absl::StrCat(source.name, " has no clock id for clock_getres"));
  }
  timespec res;
  if (clock_getres(source.clock_id, &res) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("clock_getres(", source.name, ")"));
  }
  return int64_t{res.tv_sec} * 1000000000 + res.tv_nsec;
}

absl::StatusOr<ResolutionProbe> ProbeResolution(const TimerSource& source, double min_seconds,
                                                double deadline_seconds) {
  absl::StatusOr<double> ns_per_tick = NsPerTick(source.unit);
  if (!ns_per_tick.ok()) return ns_per_tick.status();
  ResolutionProbe probe;
  const int64_t start = absl::GetCurrentTimeNanos();
  const int64_t min_end = start + int64_t(min_seconds * 1e9);
  const int64_t deadline = start + int64_t(deadline_seconds * 1e9);
  uint64_t previous = source.read();
  // Check the wall time only every 64 reads, so the probe reads mostly the source.
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      uint64_t current = source.read();
      probe.steps.Add(previous, current);
      previous = current;
    }
    int64_t now = absl::GetCurrentTimeNanos();
    if (now >= deadline || (now >= min_end && probe.steps.min_step != 0)) break;
  }
  probe.resolution_ns = probe.steps.min_step * *ns_per_tick;
  return probe;
}

}  // namespace oscost
