// residency_test.cc: the exercise's scenarios with real assertions, every
// source of the table against the same expectations, Rss/Pss against the
// kernel's smaps, unprivileged behaviour and a process exiting mid-scan.

#include "maps/residency.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "maps/maps.h"

namespace oscost {
namespace {

const long kPage = sysconf(_SC_PAGESIZE);

// Children that run a body, say they are ready, then wait to be killed. The
// destructor kills and reaps every one (each child leads its own process
// group, so its own children go too).
class Children {
 public:
  ~Children() {
    for (pid_t pid : pids_) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  pid_t Spawn(const std::function<void()>& body) {
    int ready[2];
    if (pipe(ready) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
      setpgid(0, 0);
      close(ready[0]);
      body();
      char c = 'r';
      if (write(ready[1], &c, 1) != 1) _exit(1);
      for (;;) pause();
    }
    close(ready[1]);
    char c;
    if (pid < 0 || read(ready[0], &c, 1) != 1) pid = -1;
    close(ready[0]);
    if (pid > 0) pids_.push_back(pid);
    return pid;
  }
  void KillAndReap(pid_t pid) {
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pids_.erase(std::remove(pids_.begin(), pids_.end(), pid), pids_.end());
  }

 private:
  std::vector<pid_t> pids_;
};

// A fresh mapping without transparent huge pages (one fault must fill one page).
char* Fresh(size_t pages, int flags = MAP_PRIVATE) {
  void* p = mmap(nullptr, pages * kPage, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  madvise(p, pages * kPage, MADV_NOHUGEPAGE);
  return static_cast<char*>(p);
}

void Write(char* base, size_t page) { base[page * kPage] = 1; }
void Read(char* base, size_t page) {
  volatile char c = base[page * kPage];
  (void)c;
}

// What a source without counts shows for a page whose count is `c` (exclusive
// pages are still '1' for the pagemap sources, which see PM_MMAP_EXCLUSIVE).
std::string Expected(const std::string& with_counts, const ResidencySourceInfo& info) {
  if (info.reports_counts) return with_counts;
  std::string out = with_counts;
  for (char& c : out) {
    if (c == '0' && !info.reports_zero_page) c = '?';
    if (c == '.' || c == 's' || c == '0' || c == '?') continue;
    if (c == '1' && info.reports_exclusive) continue;
    c = '?';
  }
  return out;
}

// Checks the pages of [base, base + pages) in process `pid` (0 = self) against
// `expected` (the kpagecount form) for every source of the table.
void ExpectPages(pid_t pid, const char* base, size_t pages, const std::string& expected) {
  auto scanner = PageScanner::Open(pid);
  ASSERT_TRUE(scanner.ok()) << scanner.status();
  uint64_t start = reinterpret_cast<uintptr_t>(base);
  for (const ResidencySourceInfo& info : ResidencySources()) {
    if (info.self_only && pid != 0) continue;
    if (info.reports_counts && !scanner->counts_available()) continue;  // see Unprivileged
    if (info.source == ResidencySource::kPagemapScan && !PagemapScanSupported().ok()) continue;
    auto r = scanner->Scan(start, start + pages * kPage, info.source);
    ASSERT_TRUE(r.ok()) << info.name << ": " << r.status();
    EXPECT_EQ(r->source, info.source);
    EXPECT_EQ(RenderPages(*r), Expected(expected, info)) << "source " << info.name;
  }
  auto best = scanner->Scan(start, start + pages * kPage);
  ASSERT_TRUE(best.ok());
  EXPECT_EQ(best->source, scanner->counts_available() ? ResidencySource::kPagemapKpagecount
                                                      : ResidencySource::kPagemap);
}

bool Root() { return geteuid() == 0; }

TEST(Scenario, UntouchedIsAllDots) {
  char* m = Fresh(10);
  ASSERT_NE(m, nullptr);
  ExpectPages(0, m, 10, "..........");
  munmap(m, 10 * kPage);
}

TEST(Scenario, AllWritten) {
  char* m = Fresh(10);
  ASSERT_NE(m, nullptr);
  for (int i = 0; i < 10; ++i) Write(m, i);
  ExpectPages(0, m, 10, "1111111111");
  munmap(m, 10 * kPage);
}

TEST(Scenario, OddPagesWritten) {
  char* m = Fresh(10);
  ASSERT_NE(m, nullptr);
  for (int i = 1; i < 10; i += 2) Write(m, i);
  ExpectPages(0, m, 10, ".1.1.1.1.1");
  munmap(m, 10 * kPage);
}

TEST(Scenario, SharedWrittenByParentReadByChild) {
  char* m = Fresh(10, MAP_SHARED);
  ASSERT_NE(m, nullptr);
  for (int i = 0; i < 5; ++i) Write(m, i);
  Children children;
  ASSERT_GT(children.Spawn([m] { for (int i = 0; i < 5; ++i) Read(m, i); }), 0);
  ExpectPages(0, m, 10, "22222.....");
  munmap(m, 10 * kPage);
}

TEST(Scenario, CopyOnWriteAfterFork) {
  char* m = Fresh(10);
  ASSERT_NE(m, nullptr);
  for (int i = 6; i < 10; ++i) Write(m, i);
  Children children;
  ASSERT_GT(children.Spawn([] {}), 0);
  for (int i = 0; i < 4; ++i) Write(m, i);
  ExpectPages(0, m, 10, "1111..2222");
  munmap(m, 10 * kPage);
}

TEST(Scenario, Untouched2000Pages) {
  char* m = Fresh(2000);
  ASSERT_NE(m, nullptr);
  ExpectPages(0, m, 2000, std::string(2000, '.'));
  munmap(m, 2000 * kPage);
}

// Each digit d: d processes map the page ('x': 10). The parent maps every
// page with d >= 1; child k (k = 1..9) maps the pages with d > k. They write
// rather than read: a read fault on a shared mapping also maps up to 16
// neighbouring pages already in the page cache (fault-around), which would
// map pages the pattern says this child must not.
void CheckGeneratedPattern(const std::string& pattern) {
  auto mappers = [](char c) { return c == '.' ? 0 : c == 'x' ? 10 : c - '0'; };
  int most = 0;
  for (char c : pattern) most = std::max(most, mappers(c));
  char* m = Fresh(pattern.size(), MAP_SHARED);
  ASSERT_NE(m, nullptr);
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (mappers(pattern[i]) >= 1) Write(m, i);
  }
  Children children;
  for (int k = 1; k < most; ++k) {
    ASSERT_GT(children.Spawn([&, k] {
      for (size_t i = 0; i < pattern.size(); ++i) {
        if (mappers(pattern[i]) > k) Write(m, i);
      }
    }), 0);
  }
  if (!Root()) {
    GTEST_SKIP() << "map counts need root (kpagecount)";
  }
  ExpectPages(0, m, pattern.size(), pattern);
  munmap(m, pattern.size() * kPage);
}

TEST(Scenario, GeneratedPatternComesBackExactly) {
  CheckGeneratedPattern("123413..x");
  std::mt19937 rng(20240605);
  const std::string alphabet = ".123456789x";
  std::string pattern;
  for (int i = 0; i < 40; ++i) pattern += alphabet[rng() % alphabet.size()];
  SCOPED_TRACE(pattern);
  CheckGeneratedPattern(pattern);
}

TEST(Scenario, StackTopIsResident) {
  volatile char local[64] = {1};
  uintptr_t here = reinterpret_cast<uintptr_t>(&local[0]);
  auto maps = ReadMaps(0);
  ASSERT_TRUE(maps.ok());
  const Mapping* stack = nullptr;
  for (const Mapping& m : *maps) {
    if (m.kind == MappingKind::kStack) stack = &m;
  }
  ASSERT_NE(stack, nullptr);
  ASSERT_TRUE(here >= stack->start && here < stack->end) << "gtest runs on the main thread";
  auto scanner = PageScanner::Open(0);
  ASSERT_TRUE(scanner.ok());
  for (const ResidencySourceInfo& info : ResidencySources()) {
    if (info.reports_counts && !scanner->counts_available()) continue;
    auto r = scanner->Scan(stack->start, stack->end, info.source);
    ASSERT_TRUE(r.ok()) << info.name << ": " << r.status();
    std::string pages = RenderPages(*r);
    SCOPED_TRACE(absl::StrCat(info.name, ": ", pages));
    ASSERT_FALSE(pages.empty());
    EXPECT_NE(pages.back(), '.');  // the top: arguments and environment
    EXPECT_NE(pages[(here - stack->start) / kPage], '.');  // this frame
    if (info.reports_counts) {
      EXPECT_EQ(pages.back(), '1');
    }
  }
}

TEST(Scenario, ReadFaultMapsTheZeroPage) {
  char* m = Fresh(4);
  ASSERT_NE(m, nullptr);
  Read(m, 1);
  Write(m, 2);
  if (!Root()) GTEST_SKIP() << "the zero page is recognised by its PFN (root)";
  ExpectPages(0, m, 4, ".01.");
  auto scanner = PageScanner::Open(0);
  auto r = scanner->Scan(reinterpret_cast<uintptr_t>(m), reinterpret_cast<uintptr_t>(m) + 4 * kPage);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ComputeMemoryUse(*r).rss_bytes, static_cast<uint64_t>(kPage));  // smaps skips it
  munmap(m, 4 * kPage);
}

// Per mapping of /proc/PID/smaps: Rss and Pss in kB.
struct SmapsEntry {
  uint64_t rss_kb = 0, pss_kb = 0, private_kb = 0;
};

std::map<uint64_t, SmapsEntry> ReadSmaps(pid_t pid) {
  std::map<uint64_t, SmapsEntry> out;
  FILE* f = fopen(absl::StrCat("/proc/", pid, "/smaps").c_str(), "r");
  if (!f) return out;
  char line[4096];
  uint64_t current = 0;
  while (fgets(line, sizeof(line), f)) {
    absl::string_view l(line);
    if (!l.empty() && l.back() == '\n') l.remove_suffix(1);
    absl::string_view first = l.substr(0, l.find(' '));
    if (first.find('-') != absl::string_view::npos) {
      auto m = ParseMapsLine(l);
      if (m.ok()) current = m->start;
      out[current];
      continue;
    }
    std::vector<absl::string_view> parts = absl::StrSplit(l, ' ', absl::SkipEmpty());
    if (parts.size() != 3 || parts[2] != "kB") continue;
    uint64_t kb = 0;
    if (!absl::SimpleAtoi(parts[1], &kb)) continue;
    if (parts[0] == "Rss:") out[current].rss_kb = kb;
    if (parts[0] == "Pss:") out[current].pss_kb = kb;
    if (parts[0] == "Private_Clean:" || parts[0] == "Private_Dirty:") out[current].private_kb += kb;
  }
  fclose(f);
  return out;
}

TEST(MemoryUse, RssPssUssEqualSmapsForEveryMapping) {
  if (!Root()) GTEST_SKIP() << "Pss needs map counts from /proc/kpagecount (root)";
  // A test process with private, copy-on-write-shared, shared-anonymous and
  // zero-page mappings, besides everything it inherits from this binary.
  Children children;
  char* shared = Fresh(8, MAP_SHARED);
  ASSERT_NE(shared, nullptr);
  for (int i = 0; i < 6; ++i) Write(shared, i);
  pid_t child = children.Spawn([shared] {
    char* priv = Fresh(16);
    for (int i = 0; i < 16; i += 3) Write(priv, i);
    Read(priv, 1);  // the zero page
    for (int i = 0; i < 4; ++i) Read(shared, i);  // count 2 (parent writes 6)
    if (fork() == 0) {  // a grandchild holding three shared pages: count 3
      for (int i = 0; i < 3; ++i) Read(shared, i);
      for (;;) pause();
    }
    usleep(20000);
  });
  ASSERT_GT(child, 0);
  auto scanner = PageScanner::Open(child);
  ASSERT_TRUE(scanner.ok());
  // The machine runs on: libc pages gain and lose mappers as other processes
  // come and go. Compare only when smaps read the same before and after our
  // scan, and pass when all mappings agree in one such snapshot.
  std::string last_mismatch;
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto before = ReadSmaps(child);
    auto maps = ReadMaps(child);
    ASSERT_TRUE(maps.ok());
    std::map<uint64_t, SmapsEntry> ours;
    for (const Mapping& m : *maps) {
      auto r = scanner->Scan(m.start, m.end);
      ASSERT_TRUE(r.ok()) << m.HeaderString() << ": " << r.status();
      ASSERT_EQ(r->source, ResidencySource::kPagemapKpagecount);
      MemoryUse use = ComputeMemoryUse(*r);
      ASSERT_TRUE(use.pss_known);
      ours[m.start] = SmapsEntry{use.RssKb(), use.PssKb(), use.uss_bytes >> 10};
    }
    auto after = ReadSmaps(child);
    bool stable = before.size() == after.size();
    for (auto& [start, e] : before) {
      stable = stable && after[start].rss_kb == e.rss_kb && after[start].pss_kb == e.pss_kb &&
               after[start].private_kb == e.private_kb;
    }
    if (!stable) continue;
    last_mismatch.clear();
    ASSERT_EQ(ours.size(), after.size());
    for (auto& [start, e] : after) {
      const SmapsEntry& o = ours[start];
      if (o.rss_kb != e.rss_kb || o.pss_kb != e.pss_kb || o.private_kb != e.private_kb) {
        absl::StrAppend(&last_mismatch, absl::StrFormat(
            "%#x: smaps Rss %d Pss %d Private %d, ours Rss %d Pss %d Uss %d\n", start, e.rss_kb,
            e.pss_kb, e.private_kb, o.rss_kb, o.pss_kb, o.private_kb));
      }
    }
    if (last_mismatch.empty()) {
      SUCCEED() << "agreed on attempt " << attempt + 1 << " over " << after.size() << " mappings";
      return;
    }
  }
  FAIL() << "no stable snapshot agreed in 20 attempts; last mismatch:\n" << last_mismatch;
}

TEST(Unprivileged, PresentAndExclusiveWithoutCounts) {
  if (!Root()) GTEST_SKIP() << "needs root to drop privileges to nobody (65534) in a child";
  int result[2];
  ASSERT_EQ(pipe(result), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    setpgid(0, 0);
    close(result[0]);
    char* priv = Fresh(4);
    char* shared = Fresh(2, MAP_SHARED);
    Write(shared, 0);
    if (fork() == 0) {  // maps the shared page a second time: not exclusive
      close(result[1]);
      Read(shared, 0);
      for (;;) pause();
    }
    Write(priv, 0);  // after the fork: not shared copy-on-write with the grandchild
    Write(priv, 1);
    usleep(50000);
    std::string out;
    if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
      out = "setuid failed";
    } else {
      // Changing credentials made us non-dumpable, which gives /proc/self
      // to root; become dumpable again to read our own pagemap.
      prctl(PR_SET_DUMPABLE, 1);
      auto scanner = PageScanner::Open(0);
      if (!scanner.ok()) {
        out = std::string(scanner.status().message());
      } else {
        auto p = scanner->Scan(reinterpret_cast<uintptr_t>(priv),
                               reinterpret_cast<uintptr_t>(priv) + 4 * kPage);
        auto s = scanner->Scan(reinterpret_cast<uintptr_t>(shared),
                               reinterpret_cast<uintptr_t>(shared) + 2 * kPage);
        auto k = scanner->Scan(reinterpret_cast<uintptr_t>(priv),
                               reinterpret_cast<uintptr_t>(priv) + 4 * kPage,
                               ResidencySource::kPagemapKpagecount);
        auto root_pid1 = PageScanner::Open(1);
        if (!p.ok() || !s.ok()) {
          out = "scan failed";
        } else {
          MemoryUse use = ComputeMemoryUse(*p);
          out = absl::StrCat(scanner->counts_available(), "|", SourceName(p->source), "|",
                             RenderPages(*p), "|", RenderPages(*s), "|",
                             absl::StatusCodeToString(k.status().code()), "|",
                             !scanner->counts_unavailable_reason().empty(), "|", use.pss_known,
                             use.uss_known, use.uss_bytes / kPage, "|",
                             absl::StatusCodeToString(root_pid1.status().code()));
        }
      }
    }
    // Nobody may not kill the root grandchild; the parent kills the group.
    (void)!write(result[1], out.data(), out.size());
    _exit(0);
  }
  close(result[1]);
  std::string got;
  char buf[256];
  ssize_t n;
  while ((n = read(result[0], buf, sizeof(buf))) > 0) got.append(buf, n);
  close(result[0]);
  kill(-child, SIGKILL);
  waitpid(child, nullptr, 0);
  // counts unavailable | the best source is plain pagemap | two exclusive
  // pages | a shared page of unknown count | asking for counts fails | a
  // reason is given | no Pss, Uss known (2 pages) | pid 1 is not ours.
  EXPECT_EQ(got, "0|pagemap|11..|?.|FAILED_PRECONDITION|1|012|PERMISSION_DENIED");
}

TEST(Scanner, ProcessExitingMidScanIsReported) {
  Children children;
  char* m = Fresh(8);
  ASSERT_NE(m, nullptr);
  pid_t child = children.Spawn([m] { for (int i = 0; i < 8; ++i) Write(m, i); });
  ASSERT_GT(child, 0);
  auto scanner = PageScanner::Open(child);
  ASSERT_TRUE(scanner.ok());
  uint64_t start = reinterpret_cast<uintptr_t>(m);
  auto alive = scanner->Scan(start, start + 8 * kPage, ResidencySource::kPagemap);
  ASSERT_TRUE(alive.ok());
  EXPECT_EQ(RenderPages(*alive), "11111111");
  children.KillAndReap(child);
  for (const ResidencySourceInfo& info : ResidencySources()) {
    if (info.self_only) continue;
    if (info.reports_counts && !scanner->counts_available()) continue;
    auto r = scanner->Scan(start, start + 8 * kPage, info.source);
    ASSERT_FALSE(r.ok()) << info.name << " read " << RenderPages(*r);
    EXPECT_TRUE(absl::IsNotFound(r.status())) << info.name << ": " << r.status();
    EXPECT_NE(std::string(r.status().message()).find("exited"), std::string::npos) << r.status();
  }
  munmap(m, 8 * kPage);
}

// A sparse mapping whose touched pages fill PAGEMAP_SCAN's output vector
// several times over: every source must see the same pages, each once.
TEST(Sources, AgreeOnALargeSparseMapping) {
  constexpr size_t kPages = size_t{1} << 22;  // 16 GiB, MAP_NORESERVE
  void* p = mmap(nullptr, kPages * kPage, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  char* m = static_cast<char*>(p);
  madvise(m, kPages * kPage, MADV_NOHUGEPAGE);
  for (size_t i = 0; i < kPages; i += 512) Write(m, i);
  auto scanner = PageScanner::Open(0);
  ASSERT_TRUE(scanner.ok());
  uint64_t start = reinterpret_cast<uintptr_t>(m);
  std::string reference;
  for (const ResidencySourceInfo& info : ResidencySources()) {
    if (info.source == ResidencySource::kPagemapPerPage) continue;  // 4M preads: too slow
    if (info.reports_counts && !scanner->counts_available()) continue;
    auto r = scanner->Scan(start, start + kPages * kPage, info.source);
    ASSERT_TRUE(r.ok()) << info.name << ": " << r.status();
    EXPECT_EQ(r->present_pages(), kPages / 512) << info.name;
    uint64_t covered = 0;
    for (const PageRun& run : r->runs) {
      EXPECT_EQ(run.first_page, covered) << info.name;
      covered += run.pages;
    }
    EXPECT_EQ(covered, kPages) << info.name;
    std::string present = RenderPages(*r);
    for (char& c : present) c = c == '.' ? '.' : '#';
    if (reference.empty()) reference = present;
    EXPECT_TRUE(present == reference) << info.name << " disagrees with " << ResidencySources()[0].name;
  }
  munmap(m, kPages * kPage);
}

TEST(Scanner, NoSuchProcess) {
  auto s = PageScanner::Open(0x7fffffff);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::IsNotFound(s.status())) << s.status();
}

TEST(Scanner, MincoreOnlyForOwnMappings) {
  Children children;
  pid_t child = children.Spawn([] {});
  auto scanner = PageScanner::Open(child);
  ASSERT_TRUE(scanner.ok());
  auto r = scanner->Scan(0x10000, 0x20000, ResidencySource::kMincore);
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
  auto unaligned = scanner->Scan(0x10001, 0x20000, ResidencySource::kPagemap);
  EXPECT_TRUE(absl::IsInvalidArgument(unaligned.status())) << unaligned.status();
}

TEST(Scanner, PagemapScanExistsSince67) {
  struct utsname u;
  ASSERT_EQ(uname(&u), 0);
  int major = 0, minor = 0;
  ASSERT_EQ(sscanf(u.release, "%d.%d", &major, &minor), 2);
  absl::Status s = PagemapScanSupported();
  if (major > 6 || (major == 6 && minor >= 7)) {
    EXPECT_TRUE(s.ok()) << u.release << ": " << s;
  } else {
    EXPECT_TRUE(absl::IsUnimplemented(s)) << u.release << ": " << s;
  }
}

TEST(Sources, TableNamesAreUniqueAndFindable) {
  std::vector<std::string> names;
  for (const ResidencySourceInfo& info : ResidencySources()) {
    auto found = FindResidencySource(info.name);
    ASSERT_TRUE(found.ok());
    EXPECT_EQ(*found, info.source);
    EXPECT_EQ(SourceName(info.source), info.name);
    names.push_back(info.name);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"pagemap", "pagemap_kpagecount", "mincore",
                                             "pagemap_scan", "pagemap_per_page"}));
  EXPECT_FALSE(FindResidencySource("nope").ok());
}

}  // namespace
}  // namespace oscost
