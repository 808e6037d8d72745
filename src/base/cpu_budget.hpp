#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace dvd::base {

/// How many cores this process may keep busy. `std::thread::hardware_concurrency` counts the
/// machine's online CPUs, which in a container is the host's: a service limited to 2 CPUs on a
/// 64-core host would start 64 network workers and 64 scoring threads, and the kernel would
/// throttle all of them for most of every period. So the thread counts that default to "one per
/// core" use `cores()`: the online CPUs, the CPUs the scheduler lets this process run on
/// (`taskset`, `docker --cpuset-cpus`), and the cgroup's CPU bandwidth limit (`docker --cpus`,
/// a Kubernetes CPU limit, systemd `CPUQuota=`), whichever is smallest.
struct CpuBudget {
    int online = 1;    ///< online CPUs (std::thread::hardware_concurrency, at least 1)
    int affinity = 0;  ///< CPUs in this process's scheduler affinity mask; 0: unknown
    /// The cgroup's CPU limit in cores (quota / period), the tightest on the way from this
    /// process's cgroup to the hierarchy's root; nullopt: no limit found.
    std::optional<double> quota{};
    std::string quota_file{};  ///< the file the limit came from (for the log), empty without one

    /// min(online, affinity when known, quota rounded up), at least 1.
    [[nodiscard]] int cores() const;
    /// One line for the log, e.g. "2 cores (64 online, cgroup limit 1.5 from .../cpu.max)".
    [[nodiscard]] std::string describe() const;
};

/// Reads the budget of the calling process: the affinity mask (sched_getaffinity), then the
/// cgroup v2 `cpu.max` or cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us` files along the path
/// that /proc/self/cgroup names, under the mounts that /proc/self/mountinfo lists. `root`
/// prefixes every /proc and /sys path (tests give a fake tree). Files that are missing or do
/// not parse mean "no limit there"; this never fails.
[[nodiscard]] CpuBudget read_cpu_budget(const std::filesystem::path& root = "/");

/// This process's `read_cpu_budget()`, read once (the first call) and kept.
[[nodiscard]] const CpuBudget& process_cpu_budget();

/// `process_cpu_budget().cores()`.
[[nodiscard]] int usable_cores();

}  // namespace dvd::base
