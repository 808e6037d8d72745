#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "support/eventually.hpp"

// A child process for end-to-end tests: the built binary started with arguments and extra
// environment variables (and, when `working_dir` is given, in that folder), stdout and stderr
// appended to a log file (read it to explain a failure).
// The destructor kills a child that is still running. Test-only code.
namespace dvd::test {

class ChildProcess {
public:
    ChildProcess(const std::string& program, const std::vector<std::string>& args,
                 const std::vector<std::pair<std::string, std::string>>& env,
                 std::filesystem::path log_file, const std::filesystem::path& working_dir = {})
        : log_file_(std::move(log_file)) {
        pid_ = ::fork();
        if (pid_ == 0) {
            if (!working_dir.empty() && ::chdir(working_dir.c_str()) != 0) {
                ::_exit(126);
            }
            const int fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                ::dup2(fd, 1);
                ::dup2(fd, 2);
                ::close(fd);
            }
            for (const auto& [name, value] : env) {
                ::setenv(name.c_str(), value.c_str(), 1);
            }
            std::vector<char*> argv;
            argv.push_back(const_cast<char*>(program.c_str()));
            for (const std::string& arg : args) {
                argv.push_back(const_cast<char*>(arg.c_str()));
            }
            argv.push_back(nullptr);
            ::execv(program.c_str(), argv.data());
            ::_exit(127);
        }
    }
    ~ChildProcess() {
        if (running()) {
            ::kill(pid_, SIGKILL);
            wait_exit(std::chrono::seconds(10));
        }
    }
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    bool running() {
        if (pid_ <= 0 || exit_code_) {
            return false;
        }
        int status = 0;
        const pid_t done = ::waitpid(pid_, &status, WNOHANG);
        if (done == pid_) {
            exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            return false;
        }
        return true;
    }

    void signal(int number) {
        if (running()) {
            ::kill(pid_, number);
        }
    }

    /// The exit code (128 + signal when killed), or nullopt when still running at the deadline.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (running() && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        return exit_code_;
    }

    [[nodiscard]] std::string log() const {
        std::ifstream in(log_file_);
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
    }

private:
    std::filesystem::path log_file_;
    pid_t pid_ = -1;
    std::optional<int> exit_code_{};
};

}  // namespace dvd::test
