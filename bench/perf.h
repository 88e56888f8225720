// perf.h: counting events with perf_event_open(2), for any benchmark or tool.
//
// Caveats: hardware events (cycles, instructions, cache and branch misses)
// exist only where a PMU is exposed; most VMs, this suite's own machine among
// them, expose none, and perf_event_open fails with ENOENT or EOPNOTSUPP.
// Software events (page faults, context switches, migrations, task clock) and
// tracepoints (kvm:kvm_userspace_exit, ...) are counted by the kernel and work
// everywhere perf is allowed (perf_event_paranoid, CAP_PERFMON). Tracepoints
// need tracefs (/sys/kernel/tracing) for their ids; like perf(1), we mount it
// there when it is absent and we are allowed to. An event that cannot be
// opened is never fatal: PerfCounters leaves it out and keeps the reason.
//
// Example:
//   oscost::PerfCounters perf = oscost::PerfCounters::Open({"page_faults", "cycles"});
//   perf.Start();
//   Work();
//   perf.Stop();
//   for (const auto& [name, count] : perf.Read()) ...
//   for (const auto& [name, why] : perf.unavailable()) ...

#ifndef OSCOST_BENCH_PERF_H_
#define OSCOST_BENCH_PERF_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace oscost {

// The generic events this suite names, one row each; any "subsystem:event"
// name is a tracepoint besides.
struct PerfEventInfo {
  absl::string_view name;  // e.g. "page_faults"
  uint32_t type;          // PERF_TYPE_SOFTWARE or PERF_TYPE_HARDWARE
  uint64_t config;        // PERF_COUNT_SW_* / PERF_COUNT_HW_*
  bool hardware;
};
const std::vector<PerfEventInfo>& KnownPerfEvents();

// What to count: pid 0 is the calling thread (with inherit, also the threads
// and children it creates after opening); cpu -1 is any CPU.
struct PerfTarget {
  pid_t pid = 0;
  int cpu = -1;
  bool inherit = false;
};

// One open counter.
class PerfEvent {
 public:
  // Opens `name` (a KnownPerfEvents() name or "subsystem:tracepoint"), disabled.
  // Errors name the event and carry errno, with a hint for the usual causes.
  static absl::StatusOr<PerfEvent> Open(absl::string_view name, PerfTarget target = {});

  PerfEvent(PerfEvent&& other) noexcept;
  PerfEvent& operator=(PerfEvent&& other) noexcept;
  PerfEvent(const PerfEvent&) = delete;
  PerfEvent& operator=(const PerfEvent&) = delete;
  ~PerfEvent();

  absl::Status Reset();
  absl::Status Enable();
  absl::Status Disable();
  // The count, scaled up by enabled/running time when the kernel multiplexed it.
  absl::StatusOr<uint64_t> Read() const;
  const std::string& name() const { return name_; }

 private:
  PerfEvent(std::string name, int fd) : name_(std::move(name)), fd_(fd) {}
  std::string name_;
  int fd_ = -1;
};

// A set of counters started and stopped together; unavailable events are left
// out with their reasons.
class PerfCounters {
 public:
  static PerfCounters Open(const std::vector<std::string>& names, PerfTarget target = {});

  void Start();  // Reset and enable every counter.
  void Stop();   // Disable every counter.
  // Counts since Start(), in the order opened. A counter that fails to read is
  // moved to unavailable().
  std::vector<std::pair<std::string, uint64_t>> Read();
  const std::vector<std::pair<std::string, std::string>>& unavailable() const {
    return unavailable_;
  }

 private:
  std::vector<PerfEvent> events_;
  std::vector<std::pair<std::string, std::string>> unavailable_;
};

// OkStatus when `name` can be counted here for this thread, else why not.
absl::Status ProbePerfEvent(absl::string_view name);

// The tracepoint's id from tracefs ("kvm:kvm_userspace_exit" ->
// /sys/kernel/tracing/events/kvm/kvm_userspace_exit/id, or the debugfs path).
absl::StatusOr<uint64_t> TracepointId(absl::string_view name);

}  // namespace oscost

#endif  // OSCOST_BENCH_PERF_H_
