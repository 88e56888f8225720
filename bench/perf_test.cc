#include "bench/perf.h"

#include <sys/mman.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace oscost {
namespace {

// The kernel's own fault accounting is the independent source: touching N
// fresh anonymous pages must fault at least N times.
TEST(PerfTest, CountsPageFaultsOfFreshPages) {
  absl::Status probe = ProbePerfEvent("page_faults");
  if (!probe.ok()) GTEST_SKIP() << "software perf events unavailable: " << probe;
  constexpr size_t kPages = 512;
  const size_t page = sysconf(_SC_PAGESIZE);
  PerfCounters perf = PerfCounters::Open({"page_faults", "minor_faults"});
  ASSERT_TRUE(perf.unavailable().empty());
  // MADV_NOHUGEPAGE: with THP one fault could fill 512 pages.
  char* mem = static_cast<char*>(
      mmap(nullptr, kPages * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(mem, MAP_FAILED);
  madvise(mem, kPages * page, MADV_NOHUGEPAGE);
  perf.Start();
  for (size_t i = 0; i < kPages; ++i) mem[i * page] = 1;
  perf.Stop();
  std::vector<std::pair<std::string, uint64_t>> counts = perf.Read();
  munmap(mem, kPages * page);
  ASSERT_EQ(counts.size(), 2u);
  for (const auto& [name, count] : counts) {
    EXPECT_GE(count, kPages) << name;
    EXPECT_LT(count, kPages * 2) << name;
  }
}

TEST(PerfTest, StoppedCounterDoesNotCount) {
  PerfCounters perf = PerfCounters::Open({"page_faults"});
  if (!perf.unavailable().empty()) GTEST_SKIP() << perf.unavailable()[0].second;
  perf.Start();
  perf.Stop();
  const size_t page = sysconf(_SC_PAGESIZE);
  char* mem = static_cast<char*>(
      mmap(nullptr, 64 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  for (int i = 0; i < 64; ++i) mem[i * page] = 1;
  munmap(mem, 64 * page);
  std::vector<std::pair<std::string, uint64_t>> counts = perf.Read();
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_LT(counts[0].second, 64u);
}

TEST(PerfTest, UnavailableEventsAreReportedNotFatal) {
  PerfCounters perf =
      PerfCounters::Open({"page_faults", "no_such_event", "nosuchsubsystem:nosuchevent"});
  ASSERT_GE(perf.unavailable().size(), 2u);
  bool saw_unknown = false, saw_tracepoint = false;
  for (const auto& [name, why] : perf.unavailable()) {
    EXPECT_FALSE(why.empty()) << name;
    if (name == "no_such_event") saw_unknown = true;
    if (name == "nosuchsubsystem:nosuchevent") {
      saw_tracepoint = true;
      EXPECT_NE(why.find("tracepoint"), std::string::npos) << why;
    }
  }
  EXPECT_TRUE(saw_unknown);
  EXPECT_TRUE(saw_tracepoint);
  perf.Start();
  perf.Stop();
  for (const auto& [name, count] : perf.Read()) EXPECT_EQ(name, "page_faults");
}

// Hardware counters either open or say why; whichever it is, never a crash.
TEST(PerfTest, HardwareEventsOpenOrSayWhy) {
  for (const PerfEventInfo& info : KnownPerfEvents()) {
    if (!info.hardware) continue;
    absl::Status s = ProbePerfEvent(info.name);
    if (!s.ok()) {
      EXPECT_NE(s.message().find(std::string(info.name)), absl::string_view::npos) << s;
    }
  }
}

TEST(PerfTest, TracepointIdsComeFromTracefs) {
  EXPECT_EQ(TracepointId("not-a-tracepoint").status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<uint64_t> id = TracepointId("sched:sched_switch");
  if (!id.ok()) GTEST_SKIP() << "tracefs not readable here: " << id.status();
  EXPECT_GT(*id, 0u);
}

}  // namespace
}  // namespace oscost
