// maps.cc: the /proc/PID/maps parser.

#include "maps/maps.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace oscost {
namespace {

constexpr absl::string_view kDeletedSuffix = " (deleted)";
// Lines longer than this are not the kernel's (PATH_MAX plus the fixed fields);
// quoting them whole in an error would be useless.
constexpr size_t kQuoteLimit = 160;

std::string Quote(absl::string_view line) {
  if (line.size() <= kQuoteLimit) return absl::StrCat("'", line, "'");
  return absl::StrCat("'", line.substr(0, kQuoteLimit), "...'");
}

absl::Status Bad(absl::string_view what, absl::string_view line) {
  return absl::InvalidArgumentError(absl::StrCat(what, " in ", Quote(line)));
}

// Splits off the next field ending at a single space; false when no space.
bool NextField(absl::string_view& rest, absl::string_view& field) {
  size_t space = rest.find(' ');
  if (space == absl::string_view::npos) return false;
  field = rest.substr(0, space);
  rest.remove_prefix(space + 1);
  return true;
}

// Strict hex: non-empty, only [0-9a-f] (the kernel prints lower case), fits 64 bits.
bool ParseHex(absl::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 16) return false;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    v = (v << 4) | d;
  }
  out = v;
  return true;
}

bool ParseDec(absl::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 20) return false;
  for (char c : s) if (c < '0' || c > '9') return false;
  return absl::SimpleAtoi(s, &out);
}

MappingKind KindOf(absl::string_view path) {
  if (path.empty()) return MappingKind::kAnonymous;
  if (path == "[heap]") return MappingKind::kHeap;
  if (path == "[stack]") return MappingKind::kStack;
  if (path == "[vdso]") return MappingKind::kVdso;
  if (path == "[vvar]" || path == "[vvar_vclock]") return MappingKind::kVvar;
  if (path == "[vsyscall]") return MappingKind::kVsyscall;
  if (path.front() == '[') return MappingKind::kOtherNamed;
  return MappingKind::kFile;
}

}  // namespace

absl::string_view MappingKindName(MappingKind kind) {
  switch (kind) {
    case MappingKind::kAnonymous: return "anonymous";
    case MappingKind::kFile: return "file";
    case MappingKind::kHeap: return "heap";
    case MappingKind::kStack: return "stack";
    case MappingKind::kVdso: return "vdso";
    case MappingKind::kVvar: return "vvar";
    case MappingKind::kVsyscall: return "vsyscall";
    case MappingKind::kOtherNamed: return "other_named";
  }
  return "unknown";
}

std::string Mapping::PermsString() const {
  std::string p = "----";
  if (read) p[0] = 'r';
  if (write) p[1] = 'w';
  if (exec) p[2] = 'x';
  p[3] = shared ? 's' : 'p';
  return p;
}

std::string Mapping::HeaderString() const {
  std::string header = absl::StrFormat("%08x-%08x %s %08x %02x:%02x %u", start, end,
                                       PermsString(), offset, dev_major, dev_minor, inode);
  if (!path.empty()) absl::StrAppend(&header, " ", path, deleted ? kDeletedSuffix : "");
  return header;
}

absl::StatusOr<Mapping> ParseMapsLine(absl::string_view line) {
  Mapping m;
  absl::string_view rest = line, range, perms, offset, dev, inode;
  if (!NextField(rest, range) || !NextField(rest, perms) || !NextField(rest, offset) ||
      !NextField(rest, dev)) {
    return Bad("fewer than 6 fields", line);
  }
  // The inode ends at a space (then padding and path) or at the end of line.
  size_t space = rest.find(' ');
  inode = rest.substr(0, space);
  rest = space == absl::string_view::npos ? absl::string_view() : rest.substr(space + 1);

  size_t dash = range.find('-');
  if (dash == absl::string_view::npos || !ParseHex(range.substr(0, dash), m.start) ||
      !ParseHex(range.substr(dash + 1), m.end)) {
    return Bad(absl::StrCat("bad address range '", range, "'"), line);
  }
  if (m.end <= m.start) return Bad(absl::StrCat("empty or reversed range '", range, "'"), line);

  if (perms.size() != 4 || (perms[0] != 'r' && perms[0] != '-') ||
      (perms[1] != 'w' && perms[1] != '-') || (perms[2] != 'x' && perms[2] != '-') ||
      (perms[3] != 's' && perms[3] != 'p')) {
    return Bad(absl::StrCat("bad permissions '", perms, "' (want [r-][w-][x-][sp])"), line);
  }
  m.read = perms[0] == 'r';
  m.write = perms[1] == 'w';
  m.exec = perms[2] == 'x';
  m.shared = perms[3] == 's';

  if (!ParseHex(offset, m.offset)) return Bad(absl::StrCat("bad offset '", offset, "'"), line);

  size_t colon = dev.find(':');
  uint64_t major = 0, minor = 0;
  if (colon == absl::string_view::npos || !ParseHex(dev.substr(0, colon), major) ||
      !ParseHex(dev.substr(colon + 1), minor) || major > UINT32_MAX || minor > UINT32_MAX) {
    return Bad(absl::StrCat("bad device '", dev, "' (want major:minor in hex)"), line);
  }
  m.dev_major = static_cast<uint32_t>(major);
  m.dev_minor = static_cast<uint32_t>(minor);

  if (!ParseDec(inode, m.inode)) return Bad(absl::StrCat("bad inode '", inode, "'"), line);

  // Padding, then the path (which may itself contain spaces).
  size_t path_start = rest.find_first_not_of(' ');
  absl::string_view path =
      path_start == absl::string_view::npos ? absl::string_view() : rest.substr(path_start);
  if (path.size() > kDeletedSuffix.size() &&
      path.substr(path.size() - kDeletedSuffix.size()) == kDeletedSuffix) {
    m.deleted = true;
    path.remove_suffix(kDeletedSuffix.size());
  }
  if (!path.empty() && path.front() != '/' && path.front() != '[') {
    // memfd and other pseudo files still print as "/memfd:..."; anything else
    // is not a path the kernel writes.
    return Bad(absl::StrCat("bad path '", path, "' (want /... or [...])"), line);
  }
  m.path = std::string(path);
  m.kind = KindOf(m.path);
  return m;
}

absl::StatusOr<std::vector<Mapping>> ParseMaps(absl::string_view text) {
  std::vector<Mapping> maps;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    size_t newline = text.find('\n');
    absl::string_view line = text.substr(0, newline);
    text = newline == absl::string_view::npos ? absl::string_view() : text.substr(newline + 1);
    absl::StatusOr<Mapping> m = ParseMapsLine(line);
    if (!m.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("maps line ", line_number, ": ", m.status().message()));
    }
    maps.push_back(*std::move(m));
  }
  return maps;
}

absl::StatusOr<std::string> ReadMapsText(pid_t pid) {
  std::string path = pid == 0 ? "/proc/self/maps" : absl::StrCat("/proc/", pid, "/maps");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat("no process ", pid, " (", path, ")"));
    return absl::ErrnoToStatus(err, absl::StrCat("open ", path));
  }
  std::string text;
  // The kernel fills at most a page per read() of a seq_file; a large buffer
  // still saves syscalls when it fits several pages of text.
  constexpr size_t kChunk = 1 << 16;
  for (;;) {
    size_t old = text.size();
    text.resize(old + kChunk);
    ssize_t n = read(fd, &text[old], kChunk);
    if (n < 0) {
      if (errno == EINTR) { text.resize(old); continue; }
      int err = errno;
      close(fd);
      // ESRCH/EACCES can arrive at read time (the process went away, or exec'd
      // into something we may not read).
      return absl::ErrnoToStatus(err, absl::StrCat("read ", path));
    }
    text.resize(old + n);
    if (n == 0) break;
  }
  close(fd);
  return text;
}

absl::StatusOr<std::vector<Mapping>> ReadMaps(pid_t pid) {
  absl::StatusOr<std::string> text = ReadMapsText(pid);
  if (!text.ok()) return text.status();
  return ParseMaps(*text);
}

}  // namespace oscost
