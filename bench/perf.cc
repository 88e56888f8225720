#include "bench/perf.h"

#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace oscost {

const std::vector<PerfEventInfo>& KnownPerfEvents() {
  static const std::vector<PerfEventInfo>* events = new std::vector<PerfEventInfo>{
      {"page_faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS, false},
      {"minor_faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MIN, false},
      {"major_faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MAJ, false},
      {"context_switches", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES, false},
      {"cpu_migrations", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_MIGRATIONS, false},
      {"task_clock", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_TASK_CLOCK, false},
      {"cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, true},
      {"instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS, true},
      {"cache_misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES, true},
      {"branch_misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES, true},
  };
  return *events;
}

namespace {

// perf(1) mounts tracefs at its canonical place when nobody has (libapi's
// tracefs__mount); we do the same, so tracepoints work on a fresh boot. Fails
// quietly without privilege: the caller's NotFound then says why.
void MountTracefsIfAbsent() {
  struct stat st;
  if (stat("/sys/kernel/tracing/events", &st) == 0) return;
  if (stat("/sys/kernel/tracing", &st) != 0) return;
  (void)mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nullptr);
}

}  // namespace

absl::StatusOr<uint64_t> TracepointId(absl::string_view name) {
  std::vector<std::string> parts = absl::StrSplit(name, ':');
  if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", name, "' is not a tracepoint name (want subsystem:event)"));
  }
  MountTracefsIfAbsent();
  // tracefs is at /sys/kernel/tracing on current kernels; older setups only
  // mount it below debugfs.
  for (const char* root : {"/sys/kernel/tracing/events/", "/sys/kernel/debug/tracing/events/"}) {
    std::ifstream in(absl::StrCat(root, parts[0], "/", parts[1], "/id"));
    std::string text;
    if (!in || !std::getline(in, text)) continue;
    uint64_t id;
    if (absl::SimpleAtoi(absl::StripAsciiWhitespace(text), &id)) return id;
  }
  return absl::NotFoundError(absl::StrCat(
      "tracepoint ", name,
      ": no id under /sys/kernel/tracing/events or /sys/kernel/debug/tracing/events "
      "(tracefs not mounted and not mountable here, or the subsystem's module not loaded)"));
}

absl::StatusOr<PerfEvent> PerfEvent::Open(absl::string_view name, PerfTarget target) {
  perf_event_attr attr;
  std::memset(&attr, 0, sizeof(attr));
  attr.size = sizeof(attr);
  bool hardware = false;
  bool known = false;
  for (const PerfEventInfo& info : KnownPerfEvents()) {
    if (info.name == name) {
      attr.type = info.type;
      attr.config = info.config;
      hardware = info.hardware;
      known = true;
      break;
    }
  }
  if (!known) {
    if (name.find(':') == absl::string_view::npos) {
      return absl::NotFoundError(absl::StrCat("unknown perf event '", name, "'"));
    }
    absl::StatusOr<uint64_t> id = TracepointId(name);
    if (!id.ok()) return id.status();
    attr.type = PERF_TYPE_TRACEPOINT;
    attr.config = *id;
  }
  attr.disabled = 1;
  attr.inherit = target.inherit ? 1 : 0;
  attr.read_format = PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
  int fd = syscall(SYS_perf_event_open, &attr, target.pid, target.cpu, -1, PERF_FLAG_FD_CLOEXEC);
  if (fd < 0 && (errno == EACCES || errno == EPERM) && attr.type != PERF_TYPE_TRACEPOINT) {
    // perf_event_paranoid >= 2 lets unprivileged users count user space only.
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    fd = syscall(SYS_perf_event_open, &attr, target.pid, target.cpu, -1, PERF_FLAG_FD_CLOEXEC);
  }
  if (fd < 0) {
    int err = errno;
    std::string hint;
    if (hardware && (err == ENOENT || err == EOPNOTSUPP || err == ENODEV)) {
      hint = " (no hardware PMU exposed: common in VMs)";
    } else if (err == EACCES || err == EPERM) {
      hint = " (see /proc/sys/kernel/perf_event_paranoid; needs CAP_PERFMON or root)";
    } else if (err == ENOSYS) {
      hint = " (kernel built without perf events)";
    }
    return absl::ErrnoToStatus(err, absl::StrCat("perf_event_open(", name, ")", hint));
  }
  return PerfEvent(std::string(name), fd);
}

PerfEvent::PerfEvent(PerfEvent&& other) noexcept
    : name_(std::move(other.name_)), fd_(other.fd_) {
  other.fd_ = -1;
}

PerfEvent& PerfEvent::operator=(PerfEvent&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    name_ = std::move(other.name_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

PerfEvent::~PerfEvent() {
  if (fd_ >= 0) close(fd_);
}

namespace {
absl::Status Ioctl(int fd, unsigned long request, const char* what, const std::string& name) {
  if (ioctl(fd, request, 0) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat(what, "(", name, ")"));
  }
  return absl::OkStatus();
}
}  // namespace

absl::Status PerfEvent::Reset() { return Ioctl(fd_, PERF_EVENT_IOC_RESET, "PERF_EVENT_IOC_RESET", name_); }
absl::Status PerfEvent::Enable() {
  return Ioctl(fd_, PERF_EVENT_IOC_ENABLE, "PERF_EVENT_IOC_ENABLE", name_);
}
absl::Status PerfEvent::Disable() {
  return Ioctl(fd_, PERF_EVENT_IOC_DISABLE, "PERF_EVENT_IOC_DISABLE", name_);
}

absl::StatusOr<uint64_t> PerfEvent::Read() const {
  uint64_t values[3];  // value, time_enabled, time_running
  ssize_t n = read(fd_, values, sizeof(values));
  if (n < 0) return absl::ErrnoToStatus(errno, absl::StrCat("read(perf event ", name_, ")"));
  if (n != sizeof(values)) {
    return absl::DataLossError(absl::StrCat("read(perf event ", name_, "): short read of ", n,
                                            " bytes"));
  }
  if (values[2] == 0 || values[2] == values[1]) return values[0];
  return static_cast<uint64_t>(static_cast<double>(values[0]) * values[1] / values[2]);
}

PerfCounters PerfCounters::Open(const std::vector<std::string>& names, PerfTarget target) {
  PerfCounters counters;
  for (const std::string& name : names) {
    absl::StatusOr<PerfEvent> event = PerfEvent::Open(name, target);
    if (event.ok()) {
      counters.events_.push_back(*std::move(event));
    } else {
      counters.unavailable_.emplace_back(name, std::string(event.status().message()));
    }
  }
  return counters;
}

void PerfCounters::Start() {
  for (PerfEvent& e : events_) {
    (void)e.Reset();
    (void)e.Enable();
  }
}

void PerfCounters::Stop() {
  for (PerfEvent& e : events_) (void)e.Disable();
}

std::vector<std::pair<std::string, uint64_t>> PerfCounters::Read() {
  std::vector<std::pair<std::string, uint64_t>> out;
  std::vector<PerfEvent> kept;
  for (PerfEvent& e : events_) {
    absl::StatusOr<uint64_t> v = e.Read();
    if (v.ok()) {
      out.emplace_back(e.name(), *v);
      kept.push_back(std::move(e));
    } else {
      unavailable_.emplace_back(e.name(), std::string(v.status().message()));
    }
  }
  events_ = std::move(kept);
  return out;
}

absl::Status ProbePerfEvent(absl::string_view name) {
  absl::StatusOr<PerfEvent> event = PerfEvent::Open(name);
  return event.status();
}

}  // namespace oscost
