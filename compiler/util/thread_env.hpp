// The thread policy (docs/design.md, "Throughput on a busy machine"): what must be decided
// before the OpenMP runtime starts, and the default worker count.
//
// LibTorch's OpenMP workers spin-wait at every barrier by default (GNU OpenMP: about 300,000
// spins before sleeping). When another process holds a core, a spinning worker burns the time
// slice its sibling needs and each parallel region waits for a descheduled thread: measured on
// the 2-core machine, training fell 2.7x (default schema) and 6x (a tiny MLP) with one
// competing process. Passive waiting (workers sleep at once) keeps the loss at 1.2-1.5x and
// costs under 5% idle. libgomp reads OMP_WAIT_POLICY once, when it is loaded, before main():
// so the executables re-execute themselves with it set, unless the user set it.
#pragma once
#include <cstdint>

namespace mcdnn {

// Call first in main(): when OMP_WAIT_POLICY is unset, sets it to PASSIVE and re-executes the
// program (same arguments); returns normally when it is already set or exec fails.
void ensure_thread_environment(char** argv);

// Default worker threads for a network whose forward pass costs `flops_per_batch`: one thread
// below 0.1 GFLOP per batch (there each parallel region's wake-up costs more than it saves:
// a 25 k-parameter MLP trained 1.5x faster on 1 thread than on 2), else every core.
int default_threads(double flops_per_batch);

}  // namespace mcdnn
