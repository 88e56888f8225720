#include "spawn/spawn.h"

#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace oscost {
namespace spawn {
namespace {

// ---- Kernel ABI, in one place ----------------------------------------------
// struct clone_args of <linux/sched.h> (Linux 5.3+), spelled out here because
// glibc 2.36 has no clone3() wrapper and <linux/sched.h> redefines <sched.h>'s
// CLONE_* macros. Version 0 of the struct is these first 64 bytes.
struct CloneArgs {
  uint64_t flags;
  uint64_t pidfd;  // where the kernel stores the pidfd (CLONE_PIDFD)
  uint64_t child_tid;
  uint64_t parent_tid;
  uint64_t exit_signal;  // signal to the parent on exit; SIGCHLD like fork
  uint64_t stack;
  uint64_t stack_size;
  uint64_t tls;
};
constexpr unsigned long kClonePidfd = 0x00001000;  // CLONE_PIDFD (Linux 5.2)
// waitid()'s P_PIDFD id type (<linux/wait.h>, Linux 5.4); glibc 2.36's
// idtype_t lacks it.
constexpr idtype_t kIdTypePidfd = static_cast<idtype_t>(3);
#ifndef SYS_clone3
constexpr long kSysClone3 = 435;  // x86-64 and the generic table
#else
constexpr long kSysClone3 = SYS_clone3;
#endif
// Stack for clone_vfork's child: it only calls dup2/sigprocmask/execve (and
// the dynamic linker may resolve those lazily, which saves the full register
// state: a few KiB), so 64 KiB is ample.
constexpr size_t kCloneStackBytes = 64 * 1024;
// -----------------------------------------------------------------------------

// What the child reports when it cannot exec: which step failed, and errno.
enum Step : int { kStepNone = 0, kStepStdin, kStepStdout, kStepStderr, kStepExecve };

struct ExecFailure {
  int step;
  int err;
};

const char* StepName(int step) {
  switch (step) {
    case kStepStdin: return "dup2 to stdin";
    case kStepStdout: return "dup2 to stdout";
    case kStepStderr: return "dup2 to stderr";
    default: return "execve";
  }
}

// Everything the child needs, built in the parent so the child never
// allocates (it may share the parent's heap, or be a copy taken while
// another thread held the malloc lock).
struct Prepared {
  const char* path = nullptr;
  std::vector<char*> argv;
  std::vector<char*> envp;
  char* const* env = nullptr;
  int fds[3] = {-1, -1, -1};  // source for the child's 0, 1, 2
};

Prepared Prepare(const Command& command) {
  Prepared p;
  p.path = command.path.c_str();
  if (command.args.empty()) {
    p.argv.push_back(const_cast<char*>(command.path.c_str()));
  } else {
    for (const std::string& a : command.args) p.argv.push_back(const_cast<char*>(a.c_str()));
  }
  p.argv.push_back(nullptr);
  if (command.env.has_value()) {
    for (const std::string& e : *command.env) p.envp.push_back(const_cast<char*>(e.c_str()));
    p.envp.push_back(nullptr);
    p.env = p.envp.data();
  } else {
    p.env = environ;
  }
  p.fds[0] = command.stdin_fd;
  p.fds[1] = command.stdout_fd;
  p.fds[2] = command.stderr_fd;
  return p;
}

// The child's side, for every hand-written method: async-signal-safe calls
// only. Reports a failure over report_fd (fork-like methods) or into *shared
// (CLONE_VM methods), then _exit(127).
[[noreturn]] void ChildExec(const Prepared& p, int report_fd, ExecFailure* shared,
                            const sigset_t* restore_mask) noexcept {
  ExecFailure failure{kStepNone, 0};
  for (int target = 0; target < 3; ++target) {
    int fd = p.fds[target];
    if (fd < 0) continue;
    // dup2 onto itself keeps FD_CLOEXEC; clear it explicitly instead.
    int rc = fd == target ? fcntl(fd, F_SETFD, 0) : dup2(fd, target);
    if (rc < 0) {
      failure = {kStepStdin + target, errno};
      break;
    }
  }
  if (failure.step == kStepNone) {
    if (restore_mask != nullptr) pthread_sigmask(SIG_SETMASK, restore_mask, nullptr);
    execve(p.path, p.argv.data(), p.env);
    failure = {kStepExecve, errno};
  }
  if (shared != nullptr) {
    *shared = failure;
  } else {
    ssize_t ignored = write(report_fd, &failure, sizeof(failure));
    (void)ignored;  // Nothing more a child can do; the parent sees EOF.
  }
  _exit(127);
}

absl::Status FailureStatus(const ExecFailure& failure, const Command& command) {
  return absl::ErrnoToStatus(failure.err, absl::StrCat(StepName(failure.step), " ", command.path));
}

absl::StatusOr<int> DecodeWaitStatus(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return absl::InternalError(absl::StrCat("unexpected wait status ", status));
}

absl::StatusOr<int> WaitPid(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return absl::ErrnoToStatus(errno, absl::StrCat("waitpid ", pid));
  }
  return DecodeWaitStatus(status);
}

absl::StatusOr<int> WaitPidfd(int pidfd) {
  siginfo_t info;
  std::memset(&info, 0, sizeof(info));
  int rc;
  while ((rc = waitid(kIdTypePidfd, static_cast<id_t>(pidfd), &info, WEXITED)) < 0 &&
         errno == EINTR) {
  }
  int saved = errno;
  close(pidfd);
  if (rc < 0) return absl::ErrnoToStatus(saved, "waitid(P_PIDFD)");
  switch (info.si_code) {
    case CLD_EXITED: return info.si_status;
    case CLD_KILLED:
    case CLD_DUMPED: return 128 + info.si_status;
    default: return absl::InternalError(absl::StrCat("waitid: unexpected si_code ", info.si_code));
  }
}

// Reads the child's report from a CLOEXEC pipe: EOF (0 bytes) means execve
// succeeded and closed the write end.
absl::StatusOr<bool> ReadFailure(int fd, ExecFailure* failure) {
  size_t got = 0;
  char* out = reinterpret_cast<char*>(failure);
  while (got < sizeof(*failure)) {
    ssize_t n = read(fd, out + got, sizeof(*failure) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "reading the exec report pipe");
    if (n == 0) break;
    got += n;
  }
  if (got == 0) return false;
  if (got != sizeof(*failure)) return absl::InternalError("short exec report from the child");
  return true;
}

// fork_exec and clone3: a fork-like child reporting over a CLOEXEC pipe.
absl::StatusOr<Child> StartForkLike(Method method, const Command& command) {
  Prepared p = Prepare(command);
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return absl::ErrnoToStatus(errno, "pipe2");
  Child child;
  const char* what = "fork";
  if (method == Method::kForkExec) {
    child.pid = fork();
  } else {
    what = "clone3";
    int pidfd = -1;
    CloneArgs args;
    std::memset(&args, 0, sizeof(args));
    args.flags = kClonePidfd;
    args.pidfd = reinterpret_cast<uint64_t>(&pidfd);
    args.exit_signal = SIGCHLD;
    // The raw syscall returns twice like fork; glibc's fork bookkeeping
    // (atfork handlers, malloc locks) is skipped, which is fine for a child
    // that only execs.
    long rc = syscall(kSysClone3, &args, sizeof(args));
    child.pid = static_cast<pid_t>(rc);
    if (rc > 0) child.pidfd = pidfd;
  }
  if (child.pid == 0) ChildExec(p, report[1], nullptr, nullptr);
  int fork_errno = errno;
  close(report[1]);
  if (child.pid < 0) {
    close(report[0]);
    return absl::ErrnoToStatus(fork_errno, what);
  }
  ExecFailure failure;
  absl::StatusOr<bool> failed = ReadFailure(report[0], &failure);
  close(report[0]);
  if (failed.ok() && !*failed) return child;
  // The child could not exec (or we could not tell): reap it either way.
  absl::StatusOr<int> reaped = Wait(child);
  (void)reaped;
  if (!failed.ok()) return failed.status();
  return FailureStatus(failure, command);
}

// vfork in its own small frame: the child runs on the parent's stack until
// execve, so the parent's locals must not be live across the call.
__attribute__((noinline)) pid_t VforkAndExec(const Prepared& p, ExecFailure* failure,
                                             const sigset_t* mask) {
  pid_t pid = vfork();
  if (pid == 0) ChildExec(p, -1, failure, mask);
  return pid;
}

struct CloneChildArgs {
  const Prepared* prepared;
  ExecFailure* failure;
  const sigset_t* mask;
};

int CloneChildMain(void* arg) {
  auto* a = static_cast<CloneChildArgs*>(arg);
  ChildExec(*a->prepared, -1, a->failure, a->mask);
}

// vfork_exec and clone_vfork: the child shares our memory until execve.
absl::StatusOr<Child> StartSharedVm(Method method, const Command& command) {
  Prepared p = Prepare(command);
  ExecFailure failure{kStepNone, 0};
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  Child child;
  const char* what = "vfork";
  if (method == Method::kVforkExec) {
    child.pid = VforkAndExec(p, &failure, &old);
  } else {
    what = "clone(CLONE_VM|CLONE_VFORK)";
    // The parent is suspended until the child execs or exits, and after
    // execve the child has its own memory: a stack in this frame is enough.
    alignas(16) char stack[kCloneStackBytes];
    CloneChildArgs args{&p, &failure, &old};
    child.pid = clone(CloneChildMain, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD,
                      &args);
  }
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (child.pid < 0) return absl::ErrnoToStatus(fork_errno, what);
  // The kernel resumed us only after the child exec'd or exited, so the
  // shared `failure` is final.
  if (failure.step == kStepNone) return child;
  absl::StatusOr<int> reaped = Wait(child);
  (void)reaped;
  return FailureStatus(failure, command);
}

absl::StatusOr<Child> StartPosixSpawn(const Command& command) {
  Prepared p = Prepare(command);
  posix_spawn_file_actions_t actions;
  int rc = posix_spawn_file_actions_init(&actions);
  if (rc != 0) return absl::ErrnoToStatus(rc, "posix_spawn_file_actions_init");
  for (int target = 0; target < 3 && rc == 0; ++target) {
    // glibc clears FD_CLOEXEC when source and target are the same descriptor.
    if (p.fds[target] >= 0) rc = posix_spawn_file_actions_adddup2(&actions, p.fds[target], target);
  }
  Child child;
  if (rc == 0) rc = posix_spawn(&child.pid, p.path, &actions, nullptr, p.argv.data(), p.env);
  posix_spawn_file_actions_destroy(&actions);
  // glibc reaps a child whose exec failed before returning the error.
  if (rc != 0) return absl::ErrnoToStatus(rc, absl::StrCat("posix_spawn ", command.path));
  return child;
}

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), X_OK) == 0;
}

// /proc/self/ns/<name> for each CLONE_NEW* flag.
struct NsLink {
  int flag;
  const char* path;
};
constexpr NsLink kNsLinks[] = {
    {CLONE_NEWUSER, "/proc/self/ns/user"}, {CLONE_NEWPID, "/proc/self/ns/pid"},
    {CLONE_NEWNS, "/proc/self/ns/mnt"},    {CLONE_NEWUTS, "/proc/self/ns/uts"},
    {CLONE_NEWIPC, "/proc/self/ns/ipc"},   {CLONE_NEWNET, "/proc/self/ns/net"},
};
constexpr int kNsCount = sizeof(kNsLinks) / sizeof(kNsLinks[0]);

}  // namespace

const std::vector<MethodInfo>& Methods() {
  static const auto* methods = new std::vector<MethodInfo>{
      {"fork_exec", Method::kForkExec, true,
       "fork(), execve() in the child; exec errors over a CLOEXEC pipe"},
      {"vfork_exec", Method::kVforkExec, false,
       "vfork(): the child borrows our memory until execve()"},
      {"posix_spawn", Method::kPosixSpawn, false,
       "glibc posix_spawn() (clone(CLONE_VM|CLONE_VFORK) inside)"},
      {"clone_vfork", Method::kCloneVfork, false,
       "clone(CLONE_VM|CLONE_VFORK) on a stack of our own"},
      {"clone3", Method::kClone3, true,
       "raw clone3(CLONE_PIDFD), fork-like; reaped with waitid(P_PIDFD)"},
  };
  return *methods;
}

absl::StatusOr<Method> ParseMethod(absl::string_view name) {
  std::vector<std::string> names;
  for (const MethodInfo& m : Methods()) {
    if (m.name == name) return m.method;
    names.emplace_back(m.name);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown method '", name, "'; one of: ", absl::StrJoin(names, ", ")));
}

absl::string_view MethodName(Method method) {
  for (const MethodInfo& m : Methods()) {
    if (m.method == method) return m.name;
  }
  return "unknown";
}

absl::StatusOr<Child> Start(Method method, const Command& command) {
  switch (method) {
    case Method::kForkExec:
    case Method::kClone3:
      return StartForkLike(method, command);
    case Method::kVforkExec:
    case Method::kCloneVfork:
      return StartSharedVm(method, command);
    case Method::kPosixSpawn:
      return StartPosixSpawn(command);
  }
  return absl::InvalidArgumentError("unknown spawn method");
}

absl::StatusOr<int> Wait(Child& child) {
  if (child.pid <= 0) return absl::FailedPreconditionError("no child to wait for");
  absl::StatusOr<int> code = child.pidfd >= 0 ? WaitPidfd(child.pidfd) : WaitPid(child.pid);
  child.pid = -1;
  child.pidfd = -1;
  return code;
}

absl::StatusOr<int> Run(Method method, const Command& command) {
  absl::StatusOr<Child> child = Start(method, command);
  if (!child.ok()) return child.status();
  return Wait(*child);
}

absl::StatusOr<std::string> FindProgram(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("empty program name");
  if (name.find('/') != absl::string_view::npos) return std::string(name);
  const char* path_env = std::getenv("PATH");
  std::string path = path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin";
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    // An empty PATH element means the current directory.
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", name);
    if (IsExecutableFile(candidate)) return candidate;
  }
  return absl::NotFoundError(absl::StrCat("'", name, "' not found in PATH (", path, ")"));
}

int ExitCodeForStartError(const absl::Status& status) {
  return absl::IsNotFound(status) ? 127 : 126;
}

absl::StatusOr<std::vector<StageResult>> RunPipeline(Method method, std::vector<Command> stages) {
  const size_t n = stages.size();
  std::vector<StageResult> results(n);
  if (n == 0) return results;
  // pipes[i] joins stage i (writes) to stage i + 1 (reads). CLOEXEC, so no
  // child inherits an end it was not given.
  std::vector<std::pair<int, int>> pipes;
  for (size_t i = 0; i + 1 < n; ++i) {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
      int saved = errno;
      for (auto& [r, w] : pipes) {
        close(r);
        close(w);
      }
      return absl::ErrnoToStatus(saved, "pipe2");
    }
    pipes.emplace_back(fds[0], fds[1]);
  }
  std::vector<Child> children(n);
  for (size_t i = 0; i < n; ++i) {
    if (i > 0) stages[i].stdin_fd = pipes[i - 1].first;
    if (i + 1 < n) stages[i].stdout_fd = pipes[i].second;
    absl::StatusOr<Child> child = Start(method, stages[i]);
    if (child.ok()) {
      children[i] = *child;
    } else {
      results[i].start = child.status();
      results[i].exit_code = ExitCodeForStartError(child.status());
    }
    // Our copies of this stage's ends go now: the next stage's reader must
    // see EOF when this stage exits, the previous writer EPIPE when it is gone.
    if (i > 0) close(pipes[i - 1].first);
    if (i + 1 < n) close(pipes[i].second);
  }
  for (size_t i = 0; i < n; ++i) {
    if (children[i].pid <= 0) continue;
    absl::StatusOr<int> code = Wait(children[i]);
    if (code.ok()) {
      results[i].exit_code = *code;
    } else {
      results[i].start = code.status();
      results[i].exit_code = 126;
    }
  }
  return results;
}

const std::vector<NamespaceSet>& NamespaceSets() {
  static const auto* sets = new std::vector<NamespaceSet>{
      {"user", CLONE_NEWUSER,
       "unprivileged where user namespaces are enabled (user.max_user_namespaces > 0)"},
      {"pid", CLONE_NEWPID, "CAP_SYS_ADMIN in the caller's user namespace"},
      {"mount", CLONE_NEWNS, "CAP_SYS_ADMIN in the caller's user namespace"},
      {"uts", CLONE_NEWUTS, "CAP_SYS_ADMIN in the caller's user namespace"},
      {"ipc", CLONE_NEWIPC, "CAP_SYS_ADMIN in the caller's user namespace"},
      {"net", CLONE_NEWNET, "CAP_SYS_ADMIN in the caller's user namespace"},
      {"isolate",
       CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET,
       "what user alone needs: the new user namespace grants the capabilities for the rest"},
  };
  return *sets;
}

absl::StatusOr<int> CloneInNamespaces(int clone_flags, bool verify) {
  // The parent's namespace identities ("net:[4026531840]"), read before the
  // clone so the child compares without allocating.
  char ours[kNsCount][64] = {};
  if (verify) {
    for (int i = 0; i < kNsCount; ++i) {
      if (!(clone_flags & kNsLinks[i].flag)) continue;
      ssize_t len = readlink(kNsLinks[i].path, ours[i], sizeof(ours[i]) - 1);
      if (len < 0) return absl::ErrnoToStatus(errno, absl::StrCat("readlink ", kNsLinks[i].path));
    }
  }
  // Raw clone without a new stack returns twice like fork.
  long pid = syscall(SYS_clone, static_cast<unsigned long>(clone_flags) | SIGCHLD, nullptr,
                     nullptr, nullptr, 0UL);
  if (pid == 0) {
    if (verify) {
      for (int i = 0; i < kNsCount; ++i) {
        if (!(clone_flags & kNsLinks[i].flag)) continue;
        char theirs[64] = {};
        if (readlink(kNsLinks[i].path, theirs, sizeof(theirs) - 1) < 0) _exit(2);
        if (std::strcmp(ours[i], theirs) == 0) _exit(1);
      }
    }
    _exit(0);
  }
  if (pid < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("clone(0x", absl::Hex(clone_flags), ")"));
  }
  return WaitPid(static_cast<pid_t>(pid));
}

absl::StatusOr<std::string> FindSpawnHelper() {
  constexpr char kRunfilesPath[] = "oscost/spawn/spawn_helper";
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("OSCOST_SPAWN_HELPER"); env != nullptr && *env != '\0') {
    return std::string(env);
  }
  for (const char* var : {"RUNFILES_DIR", "TEST_SRCDIR"}) {
    if (const char* dir = std::getenv(var); dir != nullptr && *dir != '\0') {
      candidates.push_back(absl::StrCat(dir, "/", kRunfilesPath));
    }
  }
  char exe[PATH_MAX];
  ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (len > 0) {
    exe[len] = '\0';
    std::string self(exe);
    candidates.push_back(absl::StrCat(self, ".runfiles/", kRunfilesPath));
    // Run straight from bazel-bin/spawn/, next to the helper.
    candidates.push_back(absl::StrCat(self.substr(0, self.rfind('/') + 1), "spawn_helper"));
  }
  for (const std::string& c : candidates) {
    if (IsExecutableFile(c)) return c;
  }
  return absl::NotFoundError(absl::StrCat("spawn_helper not found (looked at: ",
                                          absl::StrJoin(candidates, ", "),
                                          "); set OSCOST_SPAWN_HELPER"));
}

}  // namespace spawn
}  // namespace oscost
