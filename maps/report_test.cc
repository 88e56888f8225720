// report_test.cc: the mapspages text and JSON formats.

#include "maps/report.h"

#include "gtest/gtest.h"
#include "maps/maps.h"
#include "maps/residency.h"

namespace oscost {
namespace {

Residency Sample(ResidencySource source, bool counts) {
  Residency r;
  r.source = source;
  r.start = 0x7f0000000000;
  r.end = r.start + 10 * 4096;
  r.page_size = 4096;
  r.counts_available = counts;
  uint32_t unknown = kCountUnknown;
  r.runs = {{0, 4, kPagePresent | kPageExclusive, counts ? 1u : unknown},
            {4, 2, 0, 0},
            {6, 3, kPagePresent, counts ? 2u : unknown},
            {9, 1, kPagePresent | kPageFileOrShared, counts ? 12u : unknown}};
  return r;
}

TEST(Report, TextIsHeaderThenPages) {
  auto m = ParseMapsLine("7f0000000000-7f000000a000 rw-p 00000000 00:00 0");
  ASSERT_TRUE(m.ok());
  ReportEntry e{*m, Sample(ResidencySource::kPagemapKpagecount, true), ""};
  EXPECT_EQ(FormatEntryText(e), "7f0000000000-7f000000a000 rw-p 00000000 00:00 0\n1111..222x\n");
  e.residency = Sample(ResidencySource::kPagemap, false);
  EXPECT_EQ(FormatEntryText(e), "7f0000000000-7f000000a000 rw-p 00000000 00:00 0\n1111..????\n");
  e.residency = Sample(ResidencySource::kMincore, false);
  EXPECT_EQ(FormatEntryText(e), "7f0000000000-7f000000a000 rw-p 00000000 00:00 0\n????..????\n");
}

TEST(Report, MemoryUseFromRuns) {
  MemoryUse use = ComputeMemoryUse(Sample(ResidencySource::kPagemapKpagecount, true));
  EXPECT_EQ(use.rss_bytes, 8u * 4096);
  EXPECT_EQ(use.uss_bytes, 4u * 4096);
  EXPECT_TRUE(use.pss_known);
  // 4 whole pages + 3 halves + 1/12, in the kernel's 12-bit fixed point.
  EXPECT_EQ(use.pss_fixed, 4u * (4096 << 12) + 3u * ((4096 << 12) / 2) + (4096u << 12) / 12);
  EXPECT_EQ(use.PssKb(), (use.pss_fixed >> 12) >> 10);
  MemoryUse unknown = ComputeMemoryUse(Sample(ResidencySource::kPagemap, false));
  EXPECT_FALSE(unknown.pss_known);
  EXPECT_TRUE(unknown.uss_known);
  EXPECT_EQ(unknown.rss_bytes, 8u * 4096);
  EXPECT_EQ(unknown.uss_bytes, 4u * 4096);
}

TEST(Report, JsonHasEveryField) {
  auto m = ParseMapsLine("7f0000000000-7f000000a000 rw-p 00001000 fe:01 77 /tmp/a \"b\" (deleted)");
  ASSERT_TRUE(m.ok());
  ProcessReport report;
  report.pid = 42;
  report.entries.push_back({*m, Sample(ResidencySource::kPagemapKpagecount, true), ""});
  report.entries.push_back({*m, std::nullopt, "boom"});
  std::string json = FormatJson(report);
  for (const char* want :
       {"\"pid\": 42", "\"source\": \"pagemap_kpagecount\"", "\"counts_available\": true",
        "\"complete\": true", "\"start\": \"0x7f0000000000\"", "\"end\": \"0x7f000000a000\"",
        "\"perms\": \"rw-p\"", "\"offset\": \"0x1000\"", "\"dev\": \"fe:01\"", "\"inode\": 77",
        "\"path\": \"/tmp/a \\\"b\\\"\"", "\"deleted\": true", "\"kind\": \"file\"",
        "\"pages\": \"1111..222x\"", "\"rss_kb\": 32", "\"uss_kb\": 16", "\"error\": \"boom\""}) {
    EXPECT_NE(json.find(want), std::string::npos) << want << " in " << json;
  }
}

}  // namespace
}  // namespace oscost
