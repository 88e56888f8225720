// pagemap_abi.h: the kernel ABI of /proc/PID/pagemap, /proc/kpagecount and the
// PAGEMAP_SCAN ioctl, as named constants in one place.
//
// Sources: Documentation/admin-guide/mm/pagemap.rst and include/uapi/linux/fs.h
// of Linux 6.7+. Debian 12's userspace headers (linux-libc-dev 6.1) predate
// PAGEMAP_SCAN, so the ioctl's structures are spelled out here rather than
// included; the layout is the kernel's and must not change.
//
// Caveats:
// - Since Linux 4.2 the PFN field reads as 0 without CAP_SYS_ADMIN (the
//   Rowhammer mitigation); /proc/kpagecount is root-only (mode 0400).
// - PM_MMAP_EXCLUSIVE (4.2+) means "mapped once"; with CONFIG_NO_PAGE_MAPCOUNT
//   (6.15+) it is derived from the folio, which for small pages is the same.
// - PAGE_IS_SOFT_DIRTY arrived after PAGEMAP_SCAN itself (6.7 has bits 0-6).
//
// Example:
//   uint64_t entry = ...;  // one word read from /proc/PID/pagemap
//   bool present = entry & pagemap::kPresent;
//   uint64_t pfn = entry & pagemap::kPfnMask;

#ifndef OSCOST_MAPS_PAGEMAP_ABI_H_
#define OSCOST_MAPS_PAGEMAP_ABI_H_

#include <sys/ioctl.h>

#include <cstdint>

namespace oscost {
namespace pagemap {

// One 64-bit entry per virtual page in /proc/PID/pagemap.
constexpr int kPfnBits = 55;                                  // bits 0-54: PFN if present
constexpr uint64_t kPfnMask = (uint64_t{1} << kPfnBits) - 1;  // (swap type/offset if swapped)
constexpr uint64_t kSoftDirty = uint64_t{1} << 55;            // PM_SOFT_DIRTY
constexpr uint64_t kMmapExclusive = uint64_t{1} << 56;        // PM_MMAP_EXCLUSIVE (4.2+)
constexpr uint64_t kUffdWp = uint64_t{1} << 57;               // PM_UFFD_WP (5.13+)
constexpr uint64_t kFile = uint64_t{1} << 61;                 // PM_FILE: file page or shared anon
constexpr uint64_t kSwap = uint64_t{1} << 62;                 // PM_SWAP
constexpr uint64_t kPresent = uint64_t{1} << 63;              // PM_PRESENT
constexpr int kEntryBytes = 8;

// /proc/kpagecount: one 64-bit map count per PFN, indexed by PFN.
constexpr int kKpagecountEntryBytes = 8;

// PAGEMAP_SCAN (Linux 6.7+): categories of struct page_region / pm_scan_arg.
constexpr uint64_t kPageIsWpAllowed = 1 << 0;
constexpr uint64_t kPageIsWritten = 1 << 1;
constexpr uint64_t kPageIsFile = 1 << 2;
constexpr uint64_t kPageIsPresent = 1 << 3;
constexpr uint64_t kPageIsSwapped = 1 << 4;
constexpr uint64_t kPageIsPfnZero = 1 << 5;
constexpr uint64_t kPageIsHuge = 1 << 6;
constexpr uint64_t kPageIsSoftDirty = 1 << 7;  // added after 6.7

// struct page_region: one output range [start, end) sharing `categories`.
struct PageRegion {
  uint64_t start;
  uint64_t end;
  uint64_t categories;
};

// struct pm_scan_arg, the ioctl's argument.
struct PmScanArg {
  uint64_t size;  // sizeof(PmScanArg)
  uint64_t flags;  // PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC; 0 = just read
  uint64_t start;
  uint64_t end;
  uint64_t walk_end;  // out: where the walk stopped (== end when complete)
  uint64_t vec;  // PageRegion array
  uint64_t vec_len;
  uint64_t max_pages;  // 0 = no limit
  uint64_t category_inverted;
  uint64_t category_mask;
  uint64_t category_anyof_mask;
  uint64_t return_mask;
};
static_assert(sizeof(PmScanArg) == 96, "struct pm_scan_arg is 12 u64s");
static_assert(sizeof(PageRegion) == 24, "struct page_region is 3 u64s");

// PAGEMAP_SCAN = _IOWR('f', 16, struct pm_scan_arg). Kernels before 6.7 answer
// ENOTTY; a kernel that lacks a category we ask for answers EINVAL.
constexpr unsigned long kPagemapScanIoctl = _IOWR('f', 16, PmScanArg);

}  // namespace pagemap
}  // namespace oscost

#endif  // OSCOST_MAPS_PAGEMAP_ABI_H_
