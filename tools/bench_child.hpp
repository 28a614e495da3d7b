// For benchmarks that measure each configuration in a fresh process: runs this executable again
// with `args` (after `prepare` ran in the child, e.g. to set the environment) and returns what
// the child printed on stdout.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

inline std::string run_self(const char* self, const std::vector<std::string>& args, const std::function<void()>& prepare = {}) {
  int fd[2];
  if (pipe(fd) != 0) return "";
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fd[1], STDOUT_FILENO);
    close(fd[0]);
    if (prepare) prepare();
    std::vector<char*> argv{const_cast<char*>(self)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(self, argv.data());
    _exit(127);
  }
  close(fd[1]);
  std::string out;
  char buf[256];
  ssize_t got;
  while ((got = read(fd[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(got));
  close(fd[0]);
  waitpid(pid, nullptr, 0);
  return out;
}
