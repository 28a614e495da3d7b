#include "util/interrupt.hpp"

#include <csignal>

#include "util/error.hpp"

namespace mcdnn {

namespace {
volatile std::sig_atomic_t g_signal = 0;
extern "C" void on_signal(int sig) { g_signal = sig; }
}  // namespace

void install_interrupt_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool interrupted() { return g_signal != 0; }

void check_interrupted() {
  if (g_signal) fail(ErrorClass::Interrupted, g_signal == SIGINT ? "interrupted (Ctrl-C)" : "interrupted (SIGTERM)");
}

}  // namespace mcdnn
