// mapspages: per mapping of a process, one character per page saying whether
// it is in memory and how many processes map it. See README.md and report.h.
//
//   mapspages PID [--range START-END] [--json] [--source NAME]

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "maps/maps.h"
#include "maps/report.h"
#include "maps/residency.h"

namespace {

constexpr char kUsage[] =
    "usage: mapspages PID [--range START-END] [--json] [--source NAME]\n"
    "\n"
    "For each mapping of process PID (as in /proc/PID/maps) prints the line\n"
    "  start-end perms offset major:minor inode path\n"
    "and under it one character per page:\n"
    "  .    not present\n"
    "  1-9  present, mapped that many times (processes; from /proc/kpagecount)\n"
    "  x    present, mapped 10 or more times\n"
    "  s    swapped out\n"
    "  ?    present, map count unknown (no /proc/kpagecount: run as root)\n"
    "  0    present, but the kernel keeps no map count (zero page, [vvar])\n"
    "\n"
    "  --range START-END  only pages in [START, END) (hex addresses, 0x optional)\n"
    "  --json             the same as one JSON object (see README.md, Page residency)\n"
    "  --source NAME      pagemap_kpagecount (default as root), pagemap (default\n"
    "                     otherwise), pagemap_scan, pagemap_per_page, or mincore\n"
    "                     (own process only)\n"
    "\n"
    "Exit status: 0 ok; 1 error (no such process, not permitted, a mapping failed);\n"
    "2 usage; 3 the process exited during the scan (what was read is printed).\n";

bool ParseHexAddress(absl::string_view s, uint64_t& out) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) s.remove_prefix(2);
  return !s.empty() && absl::SimpleHexAtoi(s, &out);
}

int Usage(const std::string& problem) {
  std::cerr << "mapspages: " << problem << "\n" << kUsage;
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace oscost;
  std::string pid_arg;
  bool json = false, have_range = false, have_source = false;
  uint64_t range_start = 0, range_end = 0;
  ResidencySource source = ResidencySource::kPagemap;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--json") {
      json = true;
    } else if (arg == "--range" || arg == "--source") {
      if (i + 1 >= argc) return Usage(absl::StrCat(arg, " needs a value"));
      absl::string_view value = argv[++i];
      if (arg == "--source") {
        absl::StatusOr<ResidencySource> s = FindResidencySource(value);
        if (!s.ok()) return Usage(std::string(s.status().message()));
        source = *s;
        have_source = true;
        continue;
      }
      size_t dash = value.find('-');
      if (dash == absl::string_view::npos ||
          !ParseHexAddress(value.substr(0, dash), range_start) ||
          !ParseHexAddress(value.substr(dash + 1), range_end) || range_end <= range_start) {
        return Usage(absl::StrCat("bad --range '", value, "' (want START-END in hex, START < END)"));
      }
      have_range = true;
    } else if (!arg.empty() && arg[0] == '-') {
      return Usage(absl::StrCat("unknown option ", arg));
    } else if (pid_arg.empty()) {
      pid_arg = std::string(arg);
    } else {
      return Usage(absl::StrCat("unexpected argument ", arg));
    }
  }
  int pid = 0;
  if (pid_arg.empty()) return Usage("no PID given");
  if (!absl::SimpleAtoi(pid_arg, &pid) || pid <= 0) {
    return Usage(absl::StrCat("PID must be a positive number, not '", pid_arg, "'"));
  }

  absl::StatusOr<std::vector<Mapping>> maps = ReadMaps(pid);
  if (!maps.ok()) {
    std::cerr << "mapspages: " << maps.status().message() << "\n";
    return 1;
  }
  if (maps->empty()) {
    std::cerr << "mapspages: process " << pid
              << " has no mappings (a kernel thread, or a zombie)\n";
    if (json) std::cout << FormatJson(ProcessReport{pid, {}, true, ""});
    return 0;
  }
  absl::StatusOr<PageScanner> scanner = PageScanner::Open(pid);
  if (!scanner.ok()) {
    std::cerr << "mapspages: " << scanner.status().message() << "\n";
    return 1;
  }
  if (!have_source && scanner->counts_available()) source = ResidencySource::kPagemapKpagecount;
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  if (have_range) {
    range_start &= ~(page - 1);
    range_end = (range_end + page - 1) & ~(page - 1);
  }

  ProcessReport report;
  report.pid = pid;
  int status = 0;
  for (const Mapping& mapping : *maps) {
    ReportEntry entry{mapping, std::nullopt, ""};
    if (have_range) {
      if (mapping.end <= range_start || mapping.start >= range_end) continue;
      entry.mapping.start = std::max(mapping.start, range_start);
      entry.mapping.end = std::min(mapping.end, range_end);
      entry.mapping.offset += entry.mapping.start - mapping.start;
    }
    absl::StatusOr<Residency> r = scanner->Scan(entry.mapping.start, entry.mapping.end, source);
    if (absl::IsNotFound(r.status())) {
      report.complete = false;
      report.error = absl::StrCat(r.status().message(), " after ", report.entries.size(), " of ",
                                  maps->size(), " mappings");
      status = 3;
      break;
    }
    if (r.ok()) {
      entry.residency = *std::move(r);
    } else {
      entry.error = std::string(r.status().message());
      std::cerr << "mapspages: " << entry.mapping.HeaderString() << ": " << entry.error << "\n";
      status = 1;
    }
    if (!json) std::cout << FormatEntryText(entry);  // stream: a 64 GiB mapping is 16M chars
    report.entries.push_back(std::move(entry));
  }
  if (json) std::cout << FormatJson(report);
  std::cout.flush();
  if (!report.complete) std::cerr << "mapspages: " << report.error << "\n";
  if (report.complete && !report.entries.empty() && report.entries.front().residency &&
      !report.entries.front().residency->counts_available) {
    std::cerr << "mapspages: map counts unavailable ("
              << report.entries.front().residency->counts_unavailable_reason
              << "); '?' marks present pages of unknown count\n";
  }
  return status;
}
