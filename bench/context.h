// context.h: what a reader needs to trust a run's numbers, as key/value pairs.
//
// Each value comes from the kernel or the CPU at run time; a value that cannot
// be read says "unknown (<why>)" instead of being left out, so the key set is
// the same on every machine (the README documents each key; context_test
// checks that every documented key is present).
//
// Example:
//   for (const auto& [key, value] : oscost::CollectContext()) {
//     benchmark::AddCustomContext(key, value);
//   }

#ifndef OSCOST_BENCH_CONTEXT_H_
#define OSCOST_BENCH_CONTEXT_H_

#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

namespace oscost {

// The documented keys, in the order CollectContext() returns them.
const std::vector<absl::string_view>& ContextKeys();

// Collects every key of ContextKeys(). Calibrates the TSC (about 0.1 s) the
// first time it is called in a process.
std::vector<std::pair<std::string, std::string>> CollectContext();

// The perf events whose availability the context reports ("perf_events").
const std::vector<std::string>& ContextPerfEvents();

}  // namespace oscost

#endif  // OSCOST_BENCH_CONTEXT_H_
