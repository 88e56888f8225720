#include "bench/context.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <sys/utsname.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "bench/perf.h"
#include "bench/tsc.h"
#include "bench/x86.h"

namespace oscost {
namespace {

absl::StatusOr<std::string> ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  std::string line;
  std::getline(in, line);
  return std::string(absl::StripAsciiWhitespace(line));
}

std::string Unknown(const absl::Status& status) {
  return absl::StrCat("unknown (", status.message(), ")");
}

std::string FirstLineOr(const std::string& path) {
  absl::StatusOr<std::string> line = ReadFirstLine(path);
  return line.ok() ? *line : Unknown(line.status());
}

// The "[selected]" word of a sysfs multiple-choice file such as THP's.
std::string Selected(const std::string& path) {
  absl::StatusOr<std::string> line = ReadFirstLine(path);
  if (!line.ok()) return Unknown(line.status());
  size_t open = line->find('[');
  size_t close = line->find(']');
  if (open == std::string::npos || close == std::string::npos || close < open) return *line;
  return line->substr(open + 1, close - open - 1);
}

// Fields of /proc/cpuinfo's first processor.
struct CpuInfo {
  std::string model_name;
  std::vector<std::string> flags;
};

CpuInfo ReadCpuInfo() {
  CpuInfo info;
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) break;  // End of the first processor.
    std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits(':', 1));
    std::string key(absl::StripAsciiWhitespace(kv.first));
    std::string value(absl::StripAsciiWhitespace(kv.second));
    if (key == "model name") info.model_name = value;
    if (key == "flags") info.flags = absl::StrSplit(value, ' ', absl::SkipEmpty());
  }
  return info;
}

bool HasFlag(const CpuInfo& info, absl::string_view flag) {
  return std::find(info.flags.begin(), info.flags.end(), flag) != info.flags.end();
}

std::string Mitigations() {
  const std::string dir = "/sys/devices/system/cpu/vulnerabilities";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return Unknown(absl::ErrnoToStatus(errno, absl::StrCat("opendir ", dir)));
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') names.emplace_back(e->d_name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  std::vector<std::string> parts;
  for (const std::string& name : names) {
    parts.push_back(absl::StrCat(name, "=", FirstLineOr(absl::StrCat(dir, "/", name))));
  }
  return absl::StrJoin(parts, "; ");
}

std::string Bool(bool b) { return b ? "true" : "false"; }

// /dev/kvm's API version and the KVM modules loaded: which backend runs our
// guests decides what a VM exit costs (kvm_intel/kvm_amd use the hardware;
// kvm_pvm, a paravirtual backend for hosts without it, emulates).
std::string KvmDescription() {
  int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (fd < 0) return Unknown(absl::ErrnoToStatus(errno, "open /dev/kvm"));
  int api = ioctl(fd, KVM_GET_API_VERSION, 0);
  int err = errno;
  close(fd);
  if (api < 0) return Unknown(absl::ErrnoToStatus(err, "KVM_GET_API_VERSION"));
  std::vector<std::string> modules;
  if (DIR* d = opendir("/sys/module")) {
    while (dirent* e = readdir(d)) {
      if (absl::StartsWith(e->d_name, "kvm")) modules.emplace_back(e->d_name);
    }
    closedir(d);
  }
  std::sort(modules.begin(), modules.end());
  return absl::StrCat("api ", api, "; modules ",
                      modules.empty() ? "(none listed: built in)" : absl::StrJoin(modules, " "));
}

}  // namespace

const std::vector<std::string>& ContextPerfEvents() {
  static const std::vector<std::string>* events = [] {
    auto* v = new std::vector<std::string>;
    for (const PerfEventInfo& e : KnownPerfEvents()) v->emplace_back(e.name);
    v->emplace_back("kvm:kvm_userspace_exit");
    v->emplace_back("kvm:kvm_exit");
    return v;
  }();
  return *events;
}

const std::vector<absl::string_view>& ContextKeys() {
  static const std::vector<absl::string_view>* keys = new std::vector<absl::string_view>{
      "kernel_release",     "kernel_version",    "machine",          "cpu_model",
      "cpu_vendor",         "cpu_brand",         "clocksource",      "clocksource_available",
      "tsc_constant",       "tsc_nonstop",       "tsc_invariant",    "tsc_hz",
      "tsc_calibration",    "hypervisor",        "hypervisor_vendor", "cpu_mitigations",
      "thp_enabled",        "thp_defrag",        "perf_hw_counters", "perf_events",
      "kvm",
  };
  return *keys;
}

std::vector<std::pair<std::string, std::string>> CollectContext() {
  std::vector<std::pair<std::string, std::string>> out;
  utsname u;
  if (uname(&u) == 0) {
    out.emplace_back("kernel_release", u.release);
    out.emplace_back("kernel_version", u.version);
    out.emplace_back("machine", u.machine);
  } else {
    std::string why = Unknown(absl::ErrnoToStatus(errno, "uname"));
    for (const char* k : {"kernel_release", "kernel_version", "machine"}) out.emplace_back(k, why);
  }
  CpuInfo cpu = ReadCpuInfo();
  out.emplace_back("cpu_model",
                   cpu.model_name.empty() ? "unknown (no 'model name' in /proc/cpuinfo)"
                                          : cpu.model_name);
  out.emplace_back("cpu_vendor", x86::CpuVendor());
  out.emplace_back("cpu_brand", x86::CpuBrand());
  const std::string cs = "/sys/devices/system/clocksource/clocksource0/";
  out.emplace_back("clocksource", FirstLineOr(cs + "current_clocksource"));
  out.emplace_back("clocksource_available", FirstLineOr(cs + "available_clocksource"));
  out.emplace_back("tsc_constant", Bool(HasFlag(cpu, "constant_tsc")));
  out.emplace_back("tsc_nonstop", Bool(HasFlag(cpu, "nonstop_tsc")));
  out.emplace_back("tsc_invariant", Bool(x86::TscInvariant()));
  const absl::StatusOr<TscCalibration>& cal = ProcessTscCalibration();
  if (cal.ok()) {
    out.emplace_back("tsc_hz", absl::StrCat(static_cast<int64_t>(cal->hz + 0.5)));
    out.emplace_back("tsc_calibration", cal->Describe());
  } else {
    out.emplace_back("tsc_hz", Unknown(cal.status()));
    out.emplace_back("tsc_calibration", Unknown(cal.status()));
  }
  bool hv = x86::HypervisorPresent();
  out.emplace_back("hypervisor", Bool(hv));
  out.emplace_back("hypervisor_vendor", hv ? x86::HypervisorVendor() : "none");
  out.emplace_back("cpu_mitigations", Mitigations());
  out.emplace_back("thp_enabled", Selected("/sys/kernel/mm/transparent_hugepage/enabled"));
  out.emplace_back("thp_defrag", Selected("/sys/kernel/mm/transparent_hugepage/defrag"));

  std::vector<std::string> hw_missing;
  std::vector<std::string> events;
  bool any_hw = false;
  for (const std::string& name : ContextPerfEvents()) {
    absl::Status s = ProbePerfEvent(name);
    events.push_back(absl::StrCat(name, "=", s.ok() ? "available" : Unknown(s)));
    for (const PerfEventInfo& info : KnownPerfEvents()) {
      if (info.name == name && info.hardware) {
        if (s.ok()) {
          any_hw = true;
        } else {
          hw_missing.push_back(std::string(s.message()));
        }
      }
    }
  }
  out.emplace_back("perf_hw_counters",
                   any_hw ? "available"
                          : absl::StrCat("unavailable (", hw_missing.empty() ? "" : hw_missing[0],
                                         ")"));
  out.emplace_back("perf_events", absl::StrJoin(events, "; "));
  out.emplace_back("kvm", KvmDescription());
  return out;
}

}  // namespace oscost
