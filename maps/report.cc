// report.cc: mapspages output.

#include "maps/report.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace oscost {

std::string JsonString(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += "\"";
  return out;
}

std::string FormatEntryText(const ReportEntry& entry) {
  std::string out = entry.mapping.HeaderString();
  out += "\n";
  if (entry.residency) {
    out += RenderPages(*entry.residency);
  } else {
    out += "! " + entry.error;
  }
  out += "\n";
  return out;
}

std::string FormatText(const ProcessReport& report) {
  std::string out;
  for (const ReportEntry& e : report.entries) out += FormatEntryText(e);
  return out;
}

std::string FormatJson(const ProcessReport& report) {
  std::string source = "null", counts = "false", reason = "\"\"";
  for (const ReportEntry& e : report.entries) {
    if (!e.residency) continue;
    source = JsonString(SourceName(e.residency->source));
    counts = e.residency->counts_available ? "true" : "false";
    reason = JsonString(e.residency->counts_unavailable_reason);
    break;
  }
  std::string out = absl::StrCat("{\"pid\": ", report.pid, ", \"source\": ", source,
                                 ", \"counts_available\": ", counts,
                                 ", \"counts_unavailable_reason\": ", reason,
                                 ", \"complete\": ", report.complete ? "true" : "false",
                                 ", \"error\": ", JsonString(report.error), ", \"mappings\": [");
  bool first = true;
  for (const ReportEntry& e : report.entries) {
    const Mapping& m = e.mapping;
    absl::StrAppend(&out, first ? "\n" : ",\n", "  {\"start\": \"",
                    absl::StrFormat("0x%x", m.start), "\", \"end\": \"",
                    absl::StrFormat("0x%x", m.end), "\", \"perms\": \"", m.PermsString(),
                    "\", \"offset\": \"", absl::StrFormat("0x%x", m.offset), "\", \"dev\": \"",
                    absl::StrFormat("%02x:%02x", m.dev_major, m.dev_minor),
                    "\", \"inode\": ", m.inode, ", \"path\": ", JsonString(m.path),
                    ", \"deleted\": ", m.deleted ? "true" : "false",
                    ", \"kind\": ", JsonString(MappingKindName(m.kind)));
    first = false;
    if (e.residency) {
      MemoryUse use = ComputeMemoryUse(*e.residency);
      absl::StrAppend(&out, ", \"pages\": ", JsonString(RenderPages(*e.residency)),
                      ", \"rss_kb\": ", use.RssKb(), ", \"pss_kb\": ",
                      use.pss_known ? absl::StrCat(use.PssKb()) : "null", ", \"uss_kb\": ",
                      use.uss_known ? absl::StrCat(use.uss_bytes >> 10) : "null",
                      ", \"error\": null}");
    } else {
      absl::StrAppend(&out, ", \"pages\": null, \"rss_kb\": null, \"pss_kb\": null",
                      ", \"uss_kb\": null, \"error\": ", JsonString(e.error), "}");
    }
  }
  out += "\n]}\n";
  return out;
}

}  // namespace oscost
