// The main() of //bench:all and of each module's own benchmark binary.
#include "bench/harness.h"

int main(int argc, char** argv) { return oscost::RunBenchmarkMain(argc, argv); }
