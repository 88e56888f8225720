// piper: run CMD1 | CMD2 | ... with real pipes, every stage started by a
// chosen spawn method. Thin CLI over spawn::RunPipeline (spawn.h).
//
// Usage: piper [--method=M] CMD1 CMD2 [...]               (stages without arguments)
//        piper [--method=M] CMD1 [ARGS] -- CMD2 [ARGS] [-- ...]
// Exit: the last stage's status (128+N when signal N killed it); 127/126 when
// the last stage could not start (not found / not executable); 2 on a usage
// error or when the pipes cannot be created.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "spawn/spawn.h"

namespace {

constexpr int kUsageExit = 2;

void PrintUsage(FILE* out) {
  std::string methods;
  for (const auto& m : oscost::spawn::Methods()) {
    absl::StrAppend(&methods, "  ", m.name, std::string(14 - m.name.size(), ' '), m.how, "\n");
  }
  std::fprintf(out,
               "Usage: piper [--method=M] CMD1 CMD2 [...]\n"
               "       piper [--method=M] CMD1 [ARGS...] -- CMD2 [ARGS...] [-- ...]\n"
               "\n"
               "Runs CMD1 | CMD2 | ... (at least two stages) with real pipes and exits with\n"
               "the last stage's status, like a shell. Without any '--', every word is a\n"
               "stage of its own (piper ls sort head); with '--', the words between\n"
               "separators form a stage with its arguments (piper ls -l -- sort -r -- head -3).\n"
               "A literal '--' argument cannot be passed to a stage. Programs are looked up\n"
               "in $PATH like execvp. Under `bazel run` the stages run in the directory\n"
               "bazel was called from.\n"
               "\n"
               "A stage that cannot start is reported on stderr (which stage, and why) and\n"
               "the rest of the pipeline runs without it, as in a shell.\n"
               "\n"
               "Options:\n"
               "  --method=M    how to start each stage (default posix_spawn):\n%s"
               "  -h, --help    this text\n"
               "\n"
               "Exit status: the last stage's (128+N if signal N killed it); 127 if the\n"
               "last stage was not found, 126 if it could not be executed; 2 on a usage\n"
               "error.\n",
               methods.c_str());
}

int UsageError(const std::string& why) {
  std::fprintf(stderr, "piper: %s\n(piper --help for usage)\n", why.c_str());
  return kUsageExit;
}

}  // namespace

int main(int argc, char** argv) {
  oscost::spawn::Method method = oscost::spawn::Method::kPosixSpawn;
  int i = 1;
  for (; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      PrintUsage(stdout);
      return 0;
    }
    if (absl::ConsumePrefix(&arg, "--method=")) {
      absl::StatusOr<oscost::spawn::Method> parsed = oscost::spawn::ParseMethod(arg);
      if (!parsed.ok()) return UsageError(std::string(parsed.status().message()));
      method = *parsed;
      continue;
    }
    if (arg == "--") {  // An explicit end of piper's options.
      ++i;
      break;
    }
    if (absl::StartsWith(arg, "-") && arg.size() > 1) {
      return UsageError(absl::StrCat("unknown option '", arg, "'"));
    }
    break;
  }
  std::vector<std::string> words(argv + i, argv + argc);
  std::vector<std::vector<std::string>> stages;
  bool separated = false;
  for (const std::string& w : words) separated = separated || w == "--";
  if (separated) {
    stages.emplace_back();
    for (const std::string& w : words) {
      if (w == "--") {
        stages.emplace_back();
      } else {
        stages.back().push_back(w);
      }
    }
  } else {
    for (const std::string& w : words) stages.push_back({w});
  }
  for (size_t s = 0; s < stages.size(); ++s) {
    if (stages[s].empty()) return UsageError(absl::StrCat("stage ", s + 1, " is empty"));
  }
  if (stages.size() < 2) return UsageError("need at least two stages");

  // `bazel run` starts us in the runfiles tree; the user meant their directory.
  if (const char* dir = std::getenv("BUILD_WORKING_DIRECTORY"); dir != nullptr && *dir != '\0') {
    if (chdir(dir) != 0) {
      std::fprintf(stderr, "piper: cannot enter %s: %s\n", dir, std::strerror(errno));
      return kUsageExit;
    }
  }

  std::vector<oscost::spawn::Command> commands(stages.size());
  std::vector<absl::Status> lookup(stages.size());
  for (size_t s = 0; s < stages.size(); ++s) {
    absl::StatusOr<std::string> path = oscost::spawn::FindProgram(stages[s][0]);
    commands[s].args = stages[s];
    if (path.ok()) {
      commands[s].path = *path;
    } else {
      // Let the stage fail to start inside the pipeline, as a shell's would,
      // with the lookup's reason.
      lookup[s] = path.status();
      commands[s].path = absl::StrCat("/nonexistent/", stages[s][0]);
    }
  }
  absl::StatusOr<std::vector<oscost::spawn::StageResult>> results =
      oscost::spawn::RunPipeline(method, commands);
  if (!results.ok()) {
    std::fprintf(stderr, "piper: %s\n", std::string(results.status().message()).c_str());
    return kUsageExit;
  }
  for (size_t s = 0; s < results->size(); ++s) {
    const absl::Status& why = lookup[s].ok() ? (*results)[s].start : lookup[s];
    if (why.ok()) continue;
    std::fprintf(stderr, "piper: stage %zu (%s) failed to start: %s\n", s + 1,
                 stages[s][0].c_str(), why.ToString().c_str());
  }
  return results->back().exit_code;
}
