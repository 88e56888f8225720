// spawn.h: start a program by a chosen process-creation method and reap it;
// pipelines; children in new namespaces.
//
// Methods (one table, Methods(), drives the benchmarks, tests, piper's
// --method= and the docs):
//   fork_exec    fork(), then execve() in the child: copies the parent's page
//                tables, so its cost grows with the parent's RSS.
//   vfork_exec   vfork(): the child borrows the parent's memory until execve().
//   posix_spawn  glibc's posix_spawn() (itself clone(CLONE_VM|CLONE_VFORK)).
//   clone_vfork  clone(CLONE_VM|CLONE_VFORK) on a stack of our own.
//   clone3       the raw clone3 syscall with CLONE_PIDFD, fork-like (no
//                CLONE_VM, so it copies page tables like fork), reaped through
//                the pidfd with waitid(P_PIDFD).
//
// Exec failure: a program that does not exist or is not executable is an
// error from Start() for every method (NotFound for ENOENT, PermissionDenied
// for EACCES, ...), the failed child already reaped: no zombie and no
// descriptor left behind. The fork-like methods carry the child's errno back
// over a CLOEXEC pipe (EOF means execve succeeded); the CLONE_VM methods share
// the parent's memory, so the child stores it in a variable the parent reads
// after the kernel resumes it (what glibc's posix_spawn does internally).
//
// Caveats:
// - No PATH search: Command::path goes to execve() as is. FindProgram() does
//   the lookup, in the parent, so no child ever allocates.
// - Redirections are applied in the order stdin, stdout, stderr with dup2();
//   a source descriptor must not be 0..2 unless it equals its own target.
//   Other descriptors of the parent reach the child unless they are CLOEXEC.
// - vfork_exec and clone_vfork block every signal in the parent around the
//   call, so no parent handler can run on the shared memory in the child; the
//   child restores the mask just before execve(). Unlike glibc's posix_spawn,
//   handlers are not reset to SIG_DFL in the child: a signal delivered to the
//   child between that restore and execve() would run the parent's handler.
// - Every Child from Start() must be passed to Wait() exactly once.
//
// Example:
//   oscost::spawn::Command cmd;
//   cmd.path = "/bin/echo";
//   cmd.args = {"echo", "hi"};
//   absl::StatusOr<int> code = oscost::spawn::Run(oscost::spawn::Method::kPosixSpawn, cmd);
//   // *code == 0; Run() on "/no/such" gives absl::StatusCode::kNotFound.

#ifndef OSCOST_SPAWN_SPAWN_H_
#define OSCOST_SPAWN_SPAWN_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace oscost {
namespace spawn {

enum class Method { kForkExec, kVforkExec, kPosixSpawn, kCloneVfork, kClone3 };

struct MethodInfo {
  absl::string_view name;  // benchmark and --method= name, e.g. "fork_exec"
  Method method;
  // True when the method copies the parent's page tables (its cost should
  // grow with the parent's RSS); false when the child borrows the parent's
  // memory until execve().
  bool copies_page_tables;
  absl::string_view how;  // one line for --help and the README
};

// Every method, in the order benchmarks and docs list them.
const std::vector<MethodInfo>& Methods();
absl::StatusOr<Method> ParseMethod(absl::string_view name);
absl::string_view MethodName(Method method);

// What to run.
struct Command {
  std::string path;               // handed to execve() as is (see FindProgram)
  std::vector<std::string> args;  // argv including argv[0]; empty means {path}
  // "NAME=value" strings; nullopt inherits the parent's environment.
  std::optional<std::vector<std::string>> env;
  // Descriptors to install as the child's 0, 1, 2; -1 inherits the parent's.
  int stdin_fd = -1;
  int stdout_fd = -1;
  int stderr_fd = -1;
};

// A started child. pidfd is set for Method::kClone3 (and closed by Wait()).
struct Child {
  pid_t pid = -1;
  int pidfd = -1;
};

// Starts `command` by `method`. On error no child is left (a child whose
// execve() failed has been reaped) and no descriptor was leaked.
absl::StatusOr<Child> Start(Method method, const Command& command);

// Waits for the child and returns its exit code, or 128 + the signal number
// when a signal killed it (the shell's $? convention). Reaps through the
// pidfd when the child has one; closes it.
absl::StatusOr<int> Wait(Child& child);

// Start() then Wait().
absl::StatusOr<int> Run(Method method, const Command& command);

// The program execvp() would run for `name`: `name` itself when it contains
// a '/', else the first executable regular file along $PATH (default
// "/usr/local/bin:/usr/bin:/bin"). NotFound when there is none.
absl::StatusOr<std::string> FindProgram(absl::string_view name);

// The shell's exit code for a stage that could not start: 127 for NotFound,
// 126 otherwise (not executable, ...).
int ExitCodeForStartError(const absl::Status& status);

// One stage's outcome in RunPipeline().
struct StageResult {
  absl::Status start;  // why the stage did not start; OK when it ran
  int exit_code = 0;   // its exit code, or ExitCodeForStartError(start)
};

// Runs stages[0] | stages[1] | ... with real pipes, every stage started by
// `method`; waits for all of them. stages[0].stdin_fd and the last stage's
// stdout_fd are honoured (-1 inherits); the pipes replace the rest. A stage
// that fails to start is reported in its StageResult and the pipeline goes
// on without it, as a shell does: its neighbours see EOF or EPIPE. Every pipe
// is closed and every child reaped before returning. An error status only
// when a pipe cannot be created (then nothing was started).
absl::StatusOr<std::vector<StageResult>> RunPipeline(Method method, std::vector<Command> stages);

// A set of namespaces a child can be created in (spawn/clone_ns/<name>).
struct NamespaceSet {
  absl::string_view name;       // "user", "pid", "mount", "uts", "ipc", "net", "isolate"
  int clone_flags;              // CLONE_NEW*
  absl::string_view privilege;  // what creating it needs, for skip reasons and docs
};
const std::vector<NamespaceSet>& NamespaceSets();

// Creates a child with clone(clone_flags | SIGCHLD) (fork-like) that exits at
// once, and waits for it; returns its exit code. With verify, the child first
// checks /proc/self/ns/<ns> differs from the parent's for every requested
// namespace and exits 1 when one does not (for tests; the benchmark skips it).
// Not permitted: PermissionDenied (EPERM) with the errno in the message.
absl::StatusOr<int> CloneInNamespaces(int clone_flags, bool verify = false);

// The path of //spawn:spawn_helper: $OSCOST_SPAWN_HELPER if set, else in the
// runfiles of the running binary or test. NotFound when nowhere.
absl::StatusOr<std::string> FindSpawnHelper();

}  // namespace spawn
}  // namespace oscost

#endif  // OSCOST_SPAWN_SPAWN_H_
