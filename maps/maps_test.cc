// maps_test.cc: the /proc/PID/maps parser against hand-written lines, the
// kernel's own output, and randomized (fuzzed) input.

#include "maps/maps.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace oscost {
namespace {

TEST(ParseMapsLine, FileMapping) {
  auto m = ParseMapsLine(
      "55d0c5a0e000-55d0c5a2f000 r-xp 00002000 fe:01 1234567                    /usr/bin/cat");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->start, 0x55d0c5a0e000u);
  EXPECT_EQ(m->end, 0x55d0c5a2f000u);
  EXPECT_TRUE(m->read);
  EXPECT_FALSE(m->write);
  EXPECT_TRUE(m->exec);
  EXPECT_FALSE(m->shared);
  EXPECT_EQ(m->offset, 0x2000u);
  EXPECT_EQ(m->dev_major, 0xfeu);
  EXPECT_EQ(m->dev_minor, 1u);
  EXPECT_EQ(m->inode, 1234567u);
  EXPECT_EQ(m->path, "/usr/bin/cat");
  EXPECT_FALSE(m->deleted);
  EXPECT_EQ(m->kind, MappingKind::kFile);
  EXPECT_EQ(m->PermsString(), "r-xp");
}

TEST(ParseMapsLine, PathWithSpacesAndDeleted) {
  auto m = ParseMapsLine(
      "7f0000000000-7f0000001000 rw-s 00000000 00:05 42                         "
      "/tmp/my dir/a  file.bin (deleted)");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->path, "/tmp/my dir/a  file.bin");
  EXPECT_TRUE(m->deleted);
  EXPECT_TRUE(m->shared);
  EXPECT_EQ(m->HeaderString(),
            "7f0000000000-7f0000001000 rw-s 00000000 00:05 42 /tmp/my dir/a  file.bin (deleted)");
}

TEST(ParseMapsLine, SpecialAndAnonymous) {
  struct Case {
    const char* line;
    MappingKind kind;
    const char* path;
  } cases[] = {
      {"7ffd1000-7ffd2000 rw-p 00000000 00:00 0                          [heap]",
       MappingKind::kHeap, "[heap]"},
      {"7ffd1000-7ffd2000 rw-p 00000000 00:00 0   [stack]", MappingKind::kStack, "[stack]"},
      {"7ffd1000-7ffd2000 r-xp 00000000 00:00 0   [vdso]", MappingKind::kVdso, "[vdso]"},
      {"7ffd1000-7ffd2000 r--p 00000000 00:00 0   [vvar]", MappingKind::kVvar, "[vvar]"},
      {"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]",
       MappingKind::kVsyscall, "[vsyscall]"},
      {"7ffd1000-7ffd2000 rw-p 00000000 00:00 0   [anon:my name]", MappingKind::kOtherNamed,
       "[anon:my name]"},
      {"7ffd1000-7ffd2000 rw-p 00000000 00:00 0 ", MappingKind::kAnonymous, ""},
      {"7ffd1000-7ffd2000 ---p 00000000 00:00 0", MappingKind::kAnonymous, ""},
  };
  for (const Case& c : cases) {
    auto m = ParseMapsLine(c.line);
    ASSERT_TRUE(m.ok()) << c.line << ": " << m.status();
    EXPECT_EQ(m->kind, c.kind) << c.line;
    EXPECT_EQ(m->path, c.path) << c.line;
  }
}

TEST(ParseMaps, MalformedLineIsNamed) {
  const std::string good = "1000-2000 rw-p 00000000 00:00 0\n";
  struct Case {
    std::string bad;
    const char* says;
  } cases[] = {
      {"1000-2000 rw-p 00000000 00:00", "fewer than 6 fields"},
      {"1000 rw-p 00000000 00:00 0", "bad address range"},
      {"2000-1000 rw-p 00000000 00:00 0", "reversed"},
      {"1000-2000 rwzp 00000000 00:00 0", "bad permissions"},
      {"1000-2000 rw-p 0000g000 00:00 0", "bad offset"},
      {"1000-2000 rw-p 00000000 0000 0", "bad device"},
      {"1000-2000 rw-p 00000000 00:00 12a", "bad inode"},
      {"1000-2000 rw-p 00000000 00:00 0 relative/path", "bad path"},
      {"", "fewer than 6 fields"},
  };
  for (const Case& c : cases) {
    auto maps = ParseMaps(good + good + c.bad + "\n" + good);
    ASSERT_FALSE(maps.ok()) << c.bad;
    EXPECT_TRUE(absl::IsInvalidArgument(maps.status()));
    std::string msg(maps.status().message());
    EXPECT_NE(msg.find("line 3:"), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.says), std::string::npos) << msg;
  }
}

TEST(ParseMaps, OwnMapsAgreeWithKernel) {
  // An anonymous mapping and a file with a space in its name, deleted while mapped.
  long ps = sysconf(_SC_PAGESIZE);
  void* anon = mmap(nullptr, 3 * ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(anon, MAP_FAILED);
  std::string dir = getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp";
  std::string path = dir + "/a file with spaces";
  FILE* f = fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fputs("hello", f);
  fclose(f);
  int fd = open(path.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  void* file = mmap(nullptr, ps, PROT_READ, MAP_SHARED, fd, 0);
  ASSERT_NE(file, MAP_FAILED);
  close(fd);
  unlink(path.c_str());

  auto text = ReadMapsText(0);
  ASSERT_TRUE(text.ok()) << text.status();
  auto maps = ParseMaps(*text);
  ASSERT_TRUE(maps.ok()) << maps.status();
  std::vector<std::string> lines = absl::StrSplit(*text, '\n', absl::SkipEmpty());
  ASSERT_EQ(maps->size(), lines.size());
  bool saw_anon = false, saw_file = false, saw_stack = false, saw_heap_or_vdso = false;
  for (size_t i = 0; i < maps->size(); ++i) {
    const Mapping& m = (*maps)[i];
    // The kernel's line minus its padding is our header.
    std::string squeezed = lines[i];
    size_t inode_end = squeezed.find(' ', squeezed.find(' ', squeezed.find(' ',
                                     squeezed.find(' ', squeezed.find(' ') + 1) + 1) + 1) + 1);
    if (inode_end != std::string::npos) {
      size_t path_at = squeezed.find_first_not_of(' ', inode_end);
      squeezed = path_at == std::string::npos
                     ? squeezed.substr(0, inode_end)
                     : squeezed.substr(0, inode_end) + " " + squeezed.substr(path_at);
    }
    EXPECT_EQ(m.HeaderString(), squeezed);
    if (m.start == reinterpret_cast<uintptr_t>(anon)) {
      saw_anon = m.kind == MappingKind::kAnonymous && m.size() == static_cast<uint64_t>(3 * ps);
    }
    if (m.start == reinterpret_cast<uintptr_t>(file)) {
      saw_file = m.path == path && m.deleted && m.shared && m.inode != 0;
    }
    saw_stack |= m.kind == MappingKind::kStack;
    saw_heap_or_vdso |= m.kind == MappingKind::kVdso || m.kind == MappingKind::kHeap;
  }
  EXPECT_TRUE(saw_anon);
  EXPECT_TRUE(saw_file) << *text;
  EXPECT_TRUE(saw_stack);
  EXPECT_TRUE(saw_heap_or_vdso);
  munmap(anon, 3 * ps);
  munmap(file, ps);
}

TEST(ParseMaps, TensOfThousandsOfMappings) {
  // Alternate protections so the kernel cannot merge neighbours: 2N VMAs.
  constexpr int kPairs = 15000;
  long ps = sysconf(_SC_PAGESIZE);
  char* base = static_cast<char*>(
      mmap(nullptr, 2 * kPairs * ps, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(base, MAP_FAILED);
  for (int i = 0; i < kPairs; ++i) ASSERT_EQ(mprotect(base + 2 * i * ps, ps, PROT_NONE), 0);
  auto maps = ReadMaps(0);
  ASSERT_TRUE(maps.ok()) << maps.status();
  int inside = 0;
  for (const Mapping& m : *maps) {
    if (m.start >= reinterpret_cast<uintptr_t>(base) &&
        m.end <= reinterpret_cast<uintptr_t>(base + 2 * kPairs * ps)) {
      ++inside;
      EXPECT_EQ(m.size(), static_cast<uint64_t>(ps));
    }
  }
  EXPECT_EQ(inside, 2 * kPairs);
  munmap(base, 2 * kPairs * ps);
}

TEST(ReadMaps, NoSuchProcess) {
  auto maps = ReadMaps(0x7fffffff);
  ASSERT_FALSE(maps.ok());
  EXPECT_TRUE(absl::IsNotFound(maps.status())) << maps.status();
}

// Randomized fuzzing: mutations of real lines and random bytes must parse or
// fail with an InvalidArgument naming a line, never crash; valid lines must
// round-trip through HeaderString.
TEST(ParseMapsFuzz, RandomInputNeverCrashes) {
  auto text = ReadMapsText(0);
  ASSERT_TRUE(text.ok());
  std::vector<std::string> seeds = absl::StrSplit(*text, '\n', absl::SkipEmpty());
  seeds.push_back("7f0000000000-7f0000001000 rw-s 00000000 00:05 42 /tmp/a b (deleted)");
  std::mt19937_64 rng(12345);
  const std::string alphabet = "0123456789abcdefABCDEF-: rwxsp[]/()\n\t\\xyz\xff";
  int parsed = 0, rejected = 0;
  for (int iter = 0; iter < 200000; ++iter) {
    std::string s = seeds[rng() % seeds.size()];
    int edits = 1 + rng() % 4;
    for (int e = 0; e < edits; ++e) {
      size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
      switch (rng() % 4) {
        case 0: if (!s.empty() && pos < s.size()) s.erase(pos, 1 + rng() % 8); break;
        case 1: s.insert(pos, 1, alphabet[rng() % alphabet.size()]); break;
        case 2: if (pos < s.size()) s[pos] = alphabet[rng() % alphabet.size()]; break;
        case 3: s = s.substr(0, pos); break;
      }
    }
    if (iter % 1000 == 0) {  // pure noise too
      s.clear();
      for (int i = rng() % 200; i > 0; --i) s += static_cast<char>(rng());
    }
    auto maps = ParseMaps(s);
    if (maps.ok()) {
      ++parsed;
      for (const Mapping& m : *maps) {
        ASSERT_LT(m.start, m.end);
        auto again = ParseMapsLine(m.HeaderString());
        ASSERT_TRUE(again.ok()) << m.HeaderString();
        ASSERT_EQ(again->HeaderString(), m.HeaderString());
      }
    } else {
      ++rejected;
      ASSERT_TRUE(absl::IsInvalidArgument(maps.status())) << maps.status();
      ASSERT_EQ(std::string(maps.status().message()).rfind("maps line ", 0), 0u)
          << maps.status();
    }
  }
  // Both outcomes must occur, or the mutations test nothing.
  EXPECT_GT(parsed, 1000);
  EXPECT_GT(rejected, 1000);
}

}  // namespace
}  // namespace oscost
