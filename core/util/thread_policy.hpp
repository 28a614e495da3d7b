// The thread policy (README, "Busy machines"): how many worker threads LibTorch gets, decided
// from the network's size and, while it runs, from what other processes leave free.
//
// Oversubscription is the cliff: LibTorch's OpenMP workers spin-wait at the end of each parallel
// region, so when another process holds a core, each region waits for a descheduled worker.
// Measured on the 2-core machine with one competing busy loop: training 2.9x slower (default
// schema) and 3.7x (a tiny MLP) with 2 threads. Passive waiting (OMP_WAIT_POLICY=PASSIVE) halves
// that loss but costs 3-12% when the machine is idle. So the workers keep spinning, and instead
// the worker count follows the free cores: adapt_threads(), called once per batch, samples
// /proc/stat and this process's own CPU time at most every 0.5 s and sets the count to the
// cores not used by other processes (at least 1). Idle: every core; one competing process on 2
// cores: 1 thread, which runs undisturbed.
#pragma once

namespace mcdnn {

// Default worker threads for a network whose forward pass costs `flops_per_batch`: one thread
// below 0.1 GFLOP per batch (there each parallel region's wake-up costs more than it saves: a
// 25 k-parameter MLP trained 1.5x faster on 1 thread than on 2), else every core.
int default_threads(double flops_per_batch);

// Sets the maximum. adaptive: adapt_threads() may lower the count while other processes keep
// cores busy (a fixed count is what bit-for-bit reproducible training needs).
void set_thread_budget(int max_threads, bool adaptive);

// Cheap when called often: at most every 0.5 s it re-reads the CPU use and, when adaptive,
// calls `apply` (set by the torch side) with the new count if it changed.
void adapt_threads();
void set_thread_apply(void (*apply)(int threads));

// The count now in effect (for logs).
int current_threads();

// Cores used by other processes over the last interval (for tests and logs).
double other_cores_busy();

}  // namespace mcdnn
