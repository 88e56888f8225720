// proctree.h: the process tree under a pid, read from /proc, breadth-first.
//
// Each process is read from /proc/<pid>/stat (comm, state, ppid) and
// /proc/<pid>/status (the effective uid, what `ps -o uid` shows). Only
// processes are listed (thread-group leaders, as /proc's top level shows);
// threads are not. /proc is a moving target: a process that exits between
// the directory scan and the read of its files is left out silently.
//
// Example:
//   absl::StatusOr<std::vector<oscost::spawn::ProcInfo>> tree =
//       oscost::spawn::ProcessTree(1);
//   for (const auto& p : *tree) std::cout << oscost::spawn::FormatProcLine(p) << "\n";
//   // 0,systemd,1,0,S,0
//   // 1,journald,230,1,S,0 ...

#ifndef OSCOST_SPAWN_PROCTREE_H_
#define OSCOST_SPAWN_PROCTREE_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace oscost {
namespace spawn {

struct ProcInfo {
  int level = 0;     // 0 for the root, 1 for its children, ...
  std::string comm;  // /proc/<pid>/comm (at most 15 bytes; may hold spaces, commas, parens)
  pid_t pid = 0;
  pid_t ppid = 0;
  char state = '?';  // R, S, D, Z, T, t, X, I ...
  uid_t uid = 0;     // effective uid
};

// One process; NotFound when there is no such process.
absl::StatusOr<ProcInfo> ReadProc(pid_t pid, const std::string& proc_root = "/proc");

// `root` and every descendant, breadth-first, children in ascending pid order.
// NotFound when `root` does not exist.
absl::StatusOr<std::vector<ProcInfo>> ProcessTree(pid_t root,
                                                  const std::string& proc_root = "/proc");

// "level,comm,pid,ppid,state,uid". comm is quoted CSV-style ("a,b" with
// doubled inner quotes) only when it holds a comma, a quote or a newline.
std::string FormatProcLine(const ProcInfo& info);

}  // namespace spawn
}  // namespace oscost

#endif  // OSCOST_SPAWN_PROCTREE_H_
