// maps.h: /proc/PID/maps as typed records.
//
// Each line of /proc/PID/maps is
//   start-end perms offset major:minor inode [padding] [path]
// e.g. `7f3a1c000000-7f3a1c021000 rw-p 00000000 00:00 0` (anonymous: no path)
// or `55d0c5a0e000-55d0c5a2f000 rw-p 00000000 00:00 0   [heap]`.
//
// Caveats:
// - The path is everything after the padding that follows the inode, so paths
//   with spaces parse as written. The kernel escapes a newline in a path as
//   `\012`; we keep that escape as is (it is what the kernel prints).
// - A deleted file's path carries the suffix ` (deleted)`, which we strip into
//   `deleted`; a live file whose name really ends in " (deleted)" reads the
//   same, an ambiguity of the kernel's format.
// - The file is generated in pages by the kernel; read with one large buffer
//   and a loop (ReadMaps does) or a line may be split between reads.
//
// Example:
//   absl::StatusOr<std::vector<Mapping>> maps = ReadMaps(getpid());
//   for (const Mapping& m : *maps) if (m.kind == MappingKind::kStack) ...

#ifndef OSCOST_MAPS_MAPS_H_
#define OSCOST_MAPS_MAPS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace oscost {

enum class MappingKind {
  kAnonymous,  // no path
  kFile,       // a path starting with '/' (possibly deleted, possibly memfd:)
  kHeap,       // [heap]
  kStack,      // [stack]
  kVdso,       // [vdso]
  kVvar,       // [vvar] (and [vvar_vclock] on newer kernels)
  kVsyscall,   // [vsyscall]
  kOtherNamed, // any other [name], e.g. [anon:name], [uprobes]
};

absl::string_view MappingKindName(MappingKind kind);

struct Mapping {
  uint64_t start = 0;  // first byte
  uint64_t end = 0;    // one past the last byte
  bool read = false;
  bool write = false;
  bool exec = false;
  bool shared = false;  // 's' (VM_MAYSHARE) rather than 'p'
  uint64_t offset = 0;  // file offset in bytes
  uint32_t dev_major = 0;
  uint32_t dev_minor = 0;
  uint64_t inode = 0;
  std::string path;     // as printed, minus the " (deleted)" suffix; empty if anonymous
  bool deleted = false;
  MappingKind kind = MappingKind::kAnonymous;

  uint64_t size() const { return end - start; }
  // "rw-p" as in the maps file.
  std::string PermsString() const;
  // The line as the kernel prints it, without the padding: "start-end perms
  // offset major:minor inode path" (hex widths as the kernel's).
  std::string HeaderString() const;
};

// Parses one line (no trailing newline). Errors name the problem and quote the line.
absl::StatusOr<Mapping> ParseMapsLine(absl::string_view line);

// Parses a whole maps file. A malformed line is an InvalidArgument error that
// names its 1-based line number; a final newline is optional.
absl::StatusOr<std::vector<Mapping>> ParseMaps(absl::string_view text);

// Reads the whole text of /proc/PID/maps (pid 0 = self). NotFound when the
// process does not exist, PermissionDenied when we may not read it.
absl::StatusOr<std::string> ReadMapsText(pid_t pid);

// ReadMapsText + ParseMaps.
absl::StatusOr<std::vector<Mapping>> ReadMaps(pid_t pid);

}  // namespace oscost

#endif  // OSCOST_MAPS_MAPS_H_
