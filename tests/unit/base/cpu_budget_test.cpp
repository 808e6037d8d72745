#include "base/cpu_budget.hpp"

#include <thread>

#include <gtest/gtest.h>

#include "support/temp_dir.hpp"

namespace dvd::base {
namespace {

// mountinfo lines as the kernel writes them (proc(5)): id, parent, dev, root, mount point,
// options, optional fields, "-", type, source, super options.
constexpr const char* kV2Mount =
        "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 "
        "rw,nsdelegate,memory_recursiveprot\n";
constexpr const char* kV1Mounts =
        "31 25 0:27 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n"
        "32 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup "
        "rw,cpu,cpuacct\n";
constexpr const char* kRootMount = "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda rw\n";

class FakeHost {
public:
    void mounts(const std::string& lines) const {
        dir_.write("proc/self/mountinfo", std::string(kRootMount) + lines);
    }

    void cgroup(const std::string& lines) const { dir_.write("proc/self/cgroup", lines); }

    void file(const std::string& relative, const std::string& text) const {
        dir_.write(relative, text);
    }

    [[nodiscard]] CpuBudget read() const { return read_cpu_budget(dir_.path()); }

    [[nodiscard]] std::string path(const std::string& relative) const {
        return (dir_.path() / relative).string();
    }

private:
    test::TempDir dir_;
};

TEST(CpuBudget, CoresIsTheSmallestOfOnlineAffinityAndQuota) {
    EXPECT_EQ((CpuBudget{.online = 64}).cores(), 64);
    EXPECT_EQ((CpuBudget{.online = 64, .affinity = 8}).cores(), 8);
    EXPECT_EQ((CpuBudget{.online = 64, .affinity = 8, .quota = 2.0}).cores(), 2);
    EXPECT_EQ((CpuBudget{.online = 64, .quota = 1.5}).cores(), 2);  // a part-core counts whole
    EXPECT_EQ((CpuBudget{.online = 64, .quota = 0.25}).cores(), 1);
    EXPECT_EQ((CpuBudget{.online = 4, .quota = 16.0}).cores(), 4);
    EXPECT_EQ((CpuBudget{.online = 0}).cores(), 1);
}

TEST(CpuBudget, DescribeNamesEverySource) {
    const CpuBudget budget{.online = 64, .affinity = 8, .quota = 1.5, .quota_file = "/x/cpu.max"};
    EXPECT_EQ(budget.describe(),
              "2 cores (64 online, 8 in the affinity mask, cgroup limit 1.5 from /x/cpu.max)");
    EXPECT_EQ((CpuBudget{.online = 1}).describe(), "1 core (1 online)");
}

TEST(CpuBudget, CgroupV2ContainerLimit) {
    FakeHost host;
    host.mounts(kV2Mount);
    host.cgroup("0::/\n");
    host.file("sys/fs/cgroup/cpu.max", "150000 100000\n");
    const CpuBudget budget = host.read();
    ASSERT_TRUE(budget.quota.has_value());
    EXPECT_DOUBLE_EQ(*budget.quota, 1.5);
    EXPECT_EQ(budget.quota_file, host.path("sys/fs/cgroup/cpu.max"));
    EXPECT_EQ(budget.cores(), std::min(2, budget.online));
}

TEST(CpuBudget, CgroupV2WithoutALimit) {
    FakeHost host;
    host.mounts(kV2Mount);
    host.cgroup("0::/system.slice/dvd.service\n");
    host.file("sys/fs/cgroup/system.slice/dvd.service/cpu.max", "max 100000\n");
    host.file("sys/fs/cgroup/system.slice/cpu.max", "max 100000\n");
    EXPECT_FALSE(host.read().quota.has_value());
}

TEST(CpuBudget, CgroupV2TakesTheTightestLimitUpToTheRoot) {
    FakeHost host;
    host.mounts(kV2Mount);
    host.cgroup("0::/kubepods/pod1/container\n");
    host.file("sys/fs/cgroup/kubepods/pod1/container/cpu.max", "max 100000\n");
    host.file("sys/fs/cgroup/kubepods/pod1/cpu.max", "300000 100000\n");
    host.file("sys/fs/cgroup/kubepods/cpu.max", "1600000 100000\n");
    const CpuBudget budget = host.read();
    ASSERT_TRUE(budget.quota.has_value());
    EXPECT_DOUBLE_EQ(*budget.quota, 3.0);
    EXPECT_EQ(budget.quota_file, host.path("sys/fs/cgroup/kubepods/pod1/cpu.max"));
}

TEST(CpuBudget, CgroupV1CfsQuota) {
    FakeHost host;
    host.mounts(kV1Mounts);
    host.cgroup("9:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n");
    host.file("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "200000\n");
    host.file("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
    host.file("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n");
    host.file("sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n");
    const CpuBudget budget = host.read();
    ASSERT_TRUE(budget.quota.has_value());
    EXPECT_DOUBLE_EQ(*budget.quota, 2.0);
    EXPECT_EQ(budget.quota_file,
              host.path("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us"));
}

TEST(CpuBudget, CgroupV1MountOfASubtree) {
    // A container without its own cgroup namespace: /proc/self/cgroup names the full path, and
    // the mount shows only the container's subtree.
    FakeHost host;
    host.mounts("40 25 0:28 /docker/abc /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpuacct,cpu\n");
    host.cgroup("4:cpuacct,cpu:/docker/abc\n");
    host.file("sys/fs/cgroup/cpu/cpu.cfs_quota_us", "50000\n");
    host.file("sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");
    const CpuBudget budget = host.read();
    ASSERT_TRUE(budget.quota.has_value());
    EXPECT_DOUBLE_EQ(*budget.quota, 0.5);
    EXPECT_EQ(budget.cores(), 1);
}

TEST(CpuBudget, MountPointsWithEscapedSpaces) {
    FakeHost host;
    host.mounts("30 23 0:26 / /cgroup\\040root rw - cgroup2 cgroup2 rw\n");
    host.cgroup("0::/\n");
    host.file("cgroup root/cpu.max", "100000 100000\n");
    const CpuBudget budget = host.read();
    ASSERT_TRUE(budget.quota.has_value());
    EXPECT_DOUBLE_EQ(*budget.quota, 1.0);
}

TEST(CpuBudget, MissingOrGarbledFilesMeanNoLimit) {
    {
        FakeHost nothing;  // no /proc files at all
        EXPECT_FALSE(nothing.read().quota.has_value());
    }
    FakeHost host;
    host.mounts(kV2Mount);
    host.cgroup("0::/\n");
    for (const char* garbage : {"", "100000\n", "abc 100000\n", "100000 0\n", "-5 100000\n",
                                "100000 100000 7\n", "1e5 100000\n"}) {
        host.file("sys/fs/cgroup/cpu.max", garbage);
        EXPECT_FALSE(host.read().quota.has_value()) << "cpu.max: '" << garbage << "'";
    }
    host.mounts("garbage line\n- - -\n");
    host.file("sys/fs/cgroup/cpu.max", "100000 100000\n");
    EXPECT_FALSE(host.read().quota.has_value());
}

TEST(CpuBudget, ThisProcess) {
    const CpuBudget budget = read_cpu_budget();
    EXPECT_EQ(budget.online, static_cast<int>(std::max(1U, std::thread::hardware_concurrency())));
    EXPECT_GE(budget.affinity, 1);  // sched_getaffinity works on Linux
    EXPECT_GE(budget.cores(), 1);
    EXPECT_LE(budget.cores(), budget.online);
    EXPECT_EQ(usable_cores(), budget.cores());
    EXPECT_EQ(&process_cpu_budget(), &process_cpu_budget());  // read once
    EXPECT_EQ(process_cpu_budget().describe(), budget.describe());
}

}  // namespace
}  // namespace dvd::base
