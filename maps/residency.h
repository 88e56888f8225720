// residency.h: which pages of a process's mappings are in memory, and how many
// processes map each, from one of several kernel sources.
//
// Sources (one table, ResidencySources(), drives the benchmarks, tests, docs):
//   pagemap             /proc/PID/pagemap read in large batched preads: present,
//                       swapped, exclusive, file/shared-anon, soft-dirty bits.
//   pagemap_kpagecount  the same plus each present page's map count from
//                       /proc/kpagecount (needs CAP_SYS_ADMIN for PFNs and root
//                       to open kpagecount).
//   mincore             mincore(2): present or not, for the caller's own
//                       mappings only (for file mappings: in the page cache,
//                       whether or not this process has it mapped yet).
//   pagemap_scan        the PAGEMAP_SCAN ioctl on /proc/PID/pagemap (Linux
//                       6.7+): ranges of pages sharing categories (present,
//                       swapped, file, zero PFN, huge) instead of a word a page;
//                       no exclusivity, no counts.
//   pagemap_per_page    one 8-byte pread per page: the naive baseline.
// Every Residency says which source produced it.
//
// Characters (RenderPages): '.' not present; '1'-'9' the number of mappings
// of the page (kpagecount); 'x' 10 or more; 's' swapped; '?' present but the
// count is unknown (no kpagecount: unprivileged, or a source without counts;
// an exclusive page is still '1'); '0' present but the kernel keeps no map
// count for it (the shared zero page, PFN mappings such as [vvar]).
//
// Caveats:
// - Without privilege PFNs read as 0 and kpagecount cannot be opened: counts
//   are unavailable, present/absent and exclusive/shared still are, and Pss
//   cannot be computed (MemoryUse::pss_known is false).
// - Counts are of mappings, not processes: a process mapping a page twice
//   counts twice (the kernel's mapcount). With transparent huge pages a single
//   fault fills 512 pages; tests use MADV_NOHUGEPAGE.
// - A scan is not atomic: the process runs on while we read.
//
// Example:
//   absl::StatusOr<PageScanner> scanner = PageScanner::Open(pid);
//   absl::StatusOr<Residency> r = scanner->Scan(mapping.start, mapping.end);
//   std::string chars = RenderPages(*r);      // "1111..2222"
//   MemoryUse use = ComputeMemoryUse(*r);      // Rss/Pss/Uss of the range
//   absl::string_view who = SourceName(r->source);

#ifndef OSCOST_MAPS_RESIDENCY_H_
#define OSCOST_MAPS_RESIDENCY_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace oscost {

enum class ResidencySource {
  kPagemap,
  kPagemapKpagecount,
  kMincore,
  kPagemapScan,
  kPagemapPerPage,
};

struct ResidencySourceInfo {
  ResidencySource source;
  const char* name;  // benchmark and CLI name
  bool reports_exclusive;
  bool reports_counts;
  bool self_only;  // only the caller's own mappings
  bool reports_zero_page;  // can tell the shared zero page (pagemap: when PFNs are visible)
  const char* description;
};

// The table of sources, in the order above.
const std::vector<ResidencySourceInfo>& ResidencySources();
const ResidencySourceInfo& SourceInfo(ResidencySource source);
absl::string_view SourceName(ResidencySource source);
absl::StatusOr<ResidencySource> FindResidencySource(absl::string_view name);

// Page flags of a PageRun.
enum PageFlag : uint32_t {
  kPagePresent = 1 << 0,
  kPageSwapped = 1 << 1,
  kPageExclusive = 1 << 2,     // mapped exactly once (pagemap sources only)
  kPageFileOrShared = 1 << 3,  // file page or shared anonymous (shmem)
  kPageSoftDirty = 1 << 4,
  kPageZeroPfn = 1 << 5,       // the shared zero page (when the source can tell)
  kPageHuge = 1 << 6,          // THP or hugetlb (pagemap_scan only)
};

// map_count when the source has no count for the page.
constexpr uint32_t kCountUnknown = UINT32_MAX;

// Consecutive pages with the same flags and count.
struct PageRun {
  uint64_t first_page = 0;  // index from Residency::start
  uint64_t pages = 0;
  uint32_t flags = 0;
  // Mappings of each page (kpagecount); 0 when present but uncounted by the
  // kernel; kCountUnknown when unavailable.
  uint32_t map_count = kCountUnknown;
};

struct Residency {
  ResidencySource source = ResidencySource::kPagemap;
  uint64_t start = 0;  // page aligned
  uint64_t end = 0;
  uint64_t page_size = 0;
  // Runs in order, covering [start, end) without gaps.
  std::vector<PageRun> runs;
  bool counts_available = false;
  // Why counts are unavailable (empty when available).
  std::string counts_unavailable_reason;

  uint64_t pages() const { return (end - start) / page_size; }
  uint64_t present_pages() const;
};

// One character per page, as described above.
char PageChar(const PageRun& run, const ResidencySourceInfo& info);
std::string RenderPages(const Residency& residency);

// Rss, Pss and Uss of a scanned range, computed as the kernel's smaps does:
// Rss counts present pages that have a struct page (map count >= 1; the zero
// page and PFN maps are not counted), Pss adds page_size / map_count per page
// in 12-bit fixed point (the kernel's PSS_SHIFT), Uss the pages mapped once.
struct MemoryUse {
  uint64_t rss_bytes = 0;
  uint64_t pss_bytes = 0;   // valid when pss_known
  uint64_t uss_bytes = 0;   // valid when uss_known
  bool pss_known = false;   // needs counts
  bool uss_known = false;   // needs counts or the exclusive bit
  // Pss as /proc/PID/smaps prints it, in kB (the kernel truncates the same way).
  uint64_t pss_fixed = 0;
  uint64_t PssKb() const { return (pss_fixed >> 12) >> 10; }
  uint64_t RssKb() const { return rss_bytes >> 10; }
};
MemoryUse ComputeMemoryUse(const Residency& residency);

// Reads residency of one process. Holds /proc/PID/pagemap (and /proc/kpagecount
// when readable) open, so a process that exits after Open() is reported as a
// NotFound error by Scan rather than misread.
class PageScanner {
 public:
  // pid 0 = self. NotFound when no such process, PermissionDenied when its
  // pagemap may not be read.
  static absl::StatusOr<PageScanner> Open(pid_t pid);

  PageScanner(PageScanner&& other) noexcept;
  PageScanner& operator=(PageScanner&& other) noexcept;
  PageScanner(const PageScanner&) = delete;
  PageScanner& operator=(const PageScanner&) = delete;
  ~PageScanner();

  // [start, end) must be page aligned. Errors: InvalidArgument (alignment,
  // mincore on another process, counts requested but unavailable),
  // Unimplemented (PAGEMAP_SCAN on a kernel before 6.7), NotFound (the process
  // exited during the scan).
  absl::StatusOr<Residency> Scan(uint64_t start, uint64_t end, ResidencySource source) const;
  // The best source available: pagemap_kpagecount when counts are readable,
  // else pagemap.
  absl::StatusOr<Residency> Scan(uint64_t start, uint64_t end) const;

  pid_t pid() const { return pid_; }
  bool counts_available() const { return kpagecount_fd_ >= 0 && pfns_visible_; }
  const std::string& counts_unavailable_reason() const { return counts_reason_; }

 private:
  PageScanner() = default;
  absl::Status CheckAlive() const;
  absl::Status ScanPagemap(Residency& r, bool with_counts) const;
  absl::Status ScanPagemapPerPage(Residency& r) const;
  absl::Status ScanMincore(Residency& r) const;
  absl::Status ScanPagemapScan(Residency& r) const;

  pid_t pid_ = 0;      // as given (0 = self)
  pid_t real_pid_ = 0;
  int pagemap_fd_ = -1;
  int kpagecount_fd_ = -1;
  bool pfns_visible_ = false;
  uint64_t zero_pfn_ = 0;  // 0 when unknown
  std::string counts_reason_;
};

// Whether the PAGEMAP_SCAN ioctl works here (OK), or why not (Unimplemented).
absl::Status PagemapScanSupported();

}  // namespace oscost

#endif  // OSCOST_MAPS_RESIDENCY_H_
