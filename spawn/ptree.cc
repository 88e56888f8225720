// ptree: print the process tree under PID (default 1) breadth-first, one line
// per process: level,comm,pid,ppid,state,uid. Thin CLI over proctree.h.
// Exit: 0; 2 on a usage error or when PID does not exist; 1 when /proc
// cannot be read.

#include <cstdio>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "spawn/proctree.h"

namespace {

constexpr char kUsage[] =
    "Usage: ptree [PID]\n"
    "\n"
    "Prints the process tree under PID (default 1) breadth-first, read from\n"
    "/proc, one line per process:\n"
    "  level,comm,pid,ppid,state,uid\n"
    "level is 0 for PID itself, 1 for its children, ...; children in pid order.\n"
    "comm is /proc/<pid>/comm, double-quoted CSV-style when it holds a comma or\n"
    "a quote; state is the letter of /proc/<pid>/stat (R, S, D, Z, T, I, ...);\n"
    "uid is the effective uid. Threads are not listed.\n"
    "\n"
    "Exit status: 0; 2 on a usage error or when PID does not exist; 1 when\n"
    "/proc cannot be read.\n";

}  // namespace

int main(int argc, char** argv) {
  pid_t root = 1;
  if (argc > 2) {
    std::fprintf(stderr, "ptree: too many arguments\n%s", kUsage);
    return 2;
  }
  if (argc == 2) {
    absl::string_view arg = argv[1];
    if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (!absl::SimpleAtoi(arg, &root) || root <= 0) {
      std::fprintf(stderr, "ptree: '%s' is not a pid (a positive integer)\n%s", argv[1], kUsage);
      return 2;
    }
  }
  absl::StatusOr<std::vector<oscost::spawn::ProcInfo>> tree = oscost::spawn::ProcessTree(root);
  if (!tree.ok()) {
    std::fprintf(stderr, "ptree: %s\n", std::string(tree.status().message()).c_str());
    return absl::IsNotFound(tree.status()) ? 2 : 1;
  }
  for (const auto& p : *tree) std::printf("%s\n", oscost::spawn::FormatProcLine(p).c_str());
  return 0;
}
