// report.h: the `mapspages` output formats, text and JSON, for one process.
//
// Text, per mapping, two lines:
//   start-end perms offset major:minor inode path
//   <one character per page, see residency.h: . 1-9 x s ? 0>
// e.g.
//   7f1c2a400000-7f1c2a40a000 rw-p 00000000 00:00 0
//   1111..2222
//
// JSON: one object {"pid", "source", "counts_available",
// "counts_unavailable_reason", "complete", "error", "mappings": [{"start",
// "end" (hex strings: 64-bit addresses do not fit a JSON double), "perms",
// "offset", "dev", "inode", "path", "deleted", "kind", "pages",
// "rss_kb", "pss_kb" (null without counts), "uss_kb" (null when unknown),
// "error"}]}.
//
// Example:
//   ProcessReport report{pid};
//   report.entries.push_back({mapping, residency});
//   std::cout << FormatText(report) or FormatJson(report);

#ifndef OSCOST_MAPS_REPORT_H_
#define OSCOST_MAPS_REPORT_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "maps/maps.h"
#include "maps/residency.h"

namespace oscost {

struct ReportEntry {
  Mapping mapping;  // clipped to the requested range
  std::optional<Residency> residency;  // absent when this mapping failed
  std::string error;                    // why it failed
};

struct ProcessReport {
  pid_t pid = 0;
  std::vector<ReportEntry> entries;
  bool complete = true;  // false when the process exited mid-scan
  std::string error;     // e.g. "process 123 exited during the scan"
};

std::string FormatEntryText(const ReportEntry& entry);
std::string FormatText(const ProcessReport& report);
std::string FormatJson(const ProcessReport& report);
std::string JsonString(absl::string_view s);

}  // namespace oscost

#endif  // OSCOST_MAPS_REPORT_H_
