// File locks that keep two mcdnn processes off the same directory.
#pragma once
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>

#include "util/error.hpp"

namespace mcdnn {

// A lock on a file for as long as it lives (flock(2), so it ends with the process); Error(Output)
// with `busy` when another process holds it.
class FileLock {
 public:
  // `shared`: any number of shared holders (readers) at once; an exclusive one excludes all.
  FileLock(const std::filesystem::path& file, const std::string& busy, bool shared = false) : path_(file) {
    fd_ = ::open(file.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    if (fd_ < 0) fail(ErrorClass::Output, file.parent_path().string() + ": cannot create files there");
    if (::flock(fd_, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd_);
      if (err == EWOULDBLOCK) fail(ErrorClass::Output, busy);
      fail(ErrorClass::Output, file.parent_path().string() + ": file locking does not work there (" + std::strerror(err) +
                                   "); mcdnn needs a file system with flock(2) (on Lustre: mount with -o flock)");
    }
  }
  ~FileLock() { ::close(fd_); }
  // Removes the lock file, still holding the lock until destruction: call it when the work is
  // done, so that nothing is left behind (a later taker creates a fresh file).
  void remove_file() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace mcdnn
