// Ctrl-C and SIGTERM stop a build cleanly: the handler only sets a flag; long loops (training
// batches, fine-tuning batches, the sweep between variants) call check_interrupted(), which
// throws Error(Interrupted). Everything finished so far is already checkpointed.
#pragma once

namespace mcdnn {

// Installs the SIGINT/SIGTERM handlers (idempotent).
void install_interrupt_handlers();
// Throws Error(ErrorClass::Interrupted) once a signal has arrived.
void check_interrupted();
bool interrupted();

}  // namespace mcdnn
