#include "spawn/proctree.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace oscost {
namespace spawn {
namespace {

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("open ", path));
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      close(fd);
      return absl::ErrnoToStatus(saved, absl::StrCat("read ", path));
    }
    if (n == 0) break;
    out.append(buf, n);
  }
  close(fd);
  return out;
}

}  // namespace

absl::StatusOr<ProcInfo> ReadProc(pid_t pid, const std::string& proc_root) {
  std::string dir = absl::StrCat(proc_root, "/", pid);
  absl::StatusOr<std::string> stat = ReadSmallFile(dir + "/stat");
  if (!stat.ok()) {
    // ENOENT: no such process; ESRCH (also NotFound): it exited after open().
    if (absl::IsNotFound(stat.status())) {
      return absl::NotFoundError(absl::StrCat("no process with pid ", pid));
    }
    return stat.status();
  }
  // "pid (comm) state ppid ...": comm may hold anything, even ") ", so it
  // ends at the LAST ')'.
  size_t open_paren = stat->find('(');
  size_t close_paren = stat->rfind(')');
  if (open_paren == std::string::npos || close_paren == std::string::npos ||
      close_paren < open_paren || close_paren + 2 >= stat->size()) {
    return absl::DataLossError(absl::StrCat("unparsable ", dir, "/stat"));
  }
  ProcInfo info;
  info.pid = pid;
  info.comm = stat->substr(open_paren + 1, close_paren - open_paren - 1);
  std::vector<absl::string_view> rest =
      absl::StrSplit(absl::string_view(*stat).substr(close_paren + 2), ' ');
  if (rest.size() < 2 || rest[0].size() != 1 || !absl::SimpleAtoi(rest[1], &info.ppid)) {
    return absl::DataLossError(absl::StrCat("unparsable ", dir, "/stat"));
  }
  info.state = rest[0][0];
  absl::StatusOr<std::string> status = ReadSmallFile(dir + "/status");
  if (!status.ok()) {
    if (absl::IsNotFound(status.status())) {
      return absl::NotFoundError(absl::StrCat("no process with pid ", pid));
    }
    return status.status();
  }
  // "Uid:\treal\teffective\tsaved\tfs"
  bool have_uid = false;
  for (absl::string_view line : absl::StrSplit(*status, '\n')) {
    if (!absl::ConsumePrefix(&line, "Uid:")) continue;
    std::vector<absl::string_view> ids = absl::StrSplit(line, '\t', absl::SkipEmpty());
    have_uid = ids.size() >= 2 && absl::SimpleAtoi(ids[1], &info.uid);
    break;
  }
  if (!have_uid) return absl::DataLossError(absl::StrCat("no Uid line in ", dir, "/status"));
  return info;
}

absl::StatusOr<std::vector<ProcInfo>> ProcessTree(pid_t root, const std::string& proc_root) {
  absl::StatusOr<ProcInfo> root_info = ReadProc(root, proc_root);
  if (!root_info.ok()) return root_info.status();
  DIR* dir = opendir(proc_root.c_str());
  if (dir == nullptr) return absl::ErrnoToStatus(errno, absl::StrCat("opendir ", proc_root));
  std::map<pid_t, std::vector<ProcInfo>> children;  // by ppid; pids ascending below
  while (dirent* entry = readdir(dir)) {
    pid_t pid;
    if (!absl::SimpleAtoi(entry->d_name, &pid) || pid == root) continue;
    absl::StatusOr<ProcInfo> info = ReadProc(pid, proc_root);
    if (!info.ok()) continue;  // Exited meanwhile, or unreadable: left out.
    children[info->ppid].push_back(*info);
  }
  closedir(dir);
  for (auto& [ppid, list] : children) {
    std::sort(list.begin(), list.end(),
              [](const ProcInfo& a, const ProcInfo& b) { return a.pid < b.pid; });
  }
  std::vector<ProcInfo> out;
  std::deque<ProcInfo> queue = {*root_info};
  while (!queue.empty()) {
    ProcInfo p = queue.front();
    queue.pop_front();
    auto it = children.find(p.pid);
    if (it != children.end()) {
      for (ProcInfo c : it->second) {
        c.level = p.level + 1;
        queue.push_back(c);
      }
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::string FormatProcLine(const ProcInfo& info) {
  std::string comm = info.comm;
  if (comm.find_first_of(",\"\n") != std::string::npos) {
    std::string quoted = "\"";
    for (char c : comm) {
      if (c == '"') quoted += '"';
      quoted += c;
    }
    comm = quoted + "\"";
  }
  return absl::StrCat(info.level, ",", comm, ",", info.pid, ",", info.ppid, ",",
                      std::string(1, info.state), ",", info.uid);
}

}  // namespace spawn
}  // namespace oscost
