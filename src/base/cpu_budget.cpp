#include "base/cpu_budget.hpp"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

namespace dvd::base {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> split(std::string_view text, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
        const std::size_t end = text.find(sep, start);
        out.emplace_back(text.substr(start, end == std::string_view::npos ? end : end - start));
        if (end == std::string_view::npos) {
            return out;
        }
        start = end + 1;
    }
}

std::optional<std::string> read_first_line(const fs::path& file) {
    std::ifstream in(file);
    std::string line;
    if (!in || !std::getline(in, line)) {
        return std::nullopt;
    }
    return line;
}

std::optional<long long> parse_integer(std::string_view text) {
    while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) {
        text.remove_suffix(1);
    }
    long long value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

/// quota / period in cores when both are positive, else nullopt ("max", -1, garbage).
std::optional<double> cores_of(std::optional<long long> quota, std::optional<long long> period) {
    if (!quota || !period || *quota <= 0 || *period <= 0) {
        return std::nullopt;
    }
    return static_cast<double>(*quota) / static_cast<double>(*period);
}

/// cgroup v2 `cpu.max`: "$MAX $PERIOD", MAX being "max" without a limit.
std::optional<double> read_cpu_max(const fs::path& dir) {
    const auto line = read_first_line(dir / "cpu.max");
    if (!line) {
        return std::nullopt;
    }
    const auto parts = split(*line, ' ');
    if (parts.size() != 2 || parts[0] == "max") {
        return std::nullopt;
    }
    return cores_of(parse_integer(parts[0]), parse_integer(parts[1]));
}

/// cgroup v1: `cpu.cfs_quota_us` (-1 without a limit) over `cpu.cfs_period_us`.
std::optional<double> read_cfs_quota(const fs::path& dir) {
    const auto quota = read_first_line(dir / "cpu.cfs_quota_us");
    const auto period = read_first_line(dir / "cpu.cfs_period_us");
    if (!quota || !period) {
        return std::nullopt;
    }
    return cores_of(parse_integer(*quota), parse_integer(*period));
}

/// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '\\' && i + 3 < text.size()) {
            int code = 0;
            bool ok = true;
            for (std::size_t k = 1; k <= 3; ++k) {
                const char c = text[i + k];
                ok = ok && c >= '0' && c <= '7';
                code = code * 8 + (c - '0');
            }
            if (ok) {
                out.push_back(static_cast<char>(code));
                i += 3;
                continue;
            }
        }
        out.push_back(text[i]);
    }
    return out;
}

struct Mount {
    std::string root;         ///< the mounted subtree of the hierarchy ("/" for all of it)
    std::string mount_point;  ///< where it is mounted
};

/// The cgroup mount of one version: v2 ("cgroup2"), or v1 ("cgroup" with the cpu controller).
std::optional<Mount> find_mount(const fs::path& root, bool v2) {
    std::ifstream in(root / "proc/self/mountinfo");
    std::string line;
    while (std::getline(in, line)) {
        const auto fields = split(line, ' ');
        const auto dash = std::find(fields.begin(), fields.end(), "-");
        if (dash == fields.end() || fields.end() - dash < 4 || dash - fields.begin() < 6) {
            continue;
        }
        const std::string& type = *(dash + 1);
        const auto options = split(*(dash + 3), ',');
        const bool match = v2 ? type == "cgroup2"
                              : type == "cgroup"
                                           && std::find(options.begin(), options.end(), "cpu")
                                                      != options.end();
        if (match) {
            return Mount{unescape_octal(fields[3]), unescape_octal(fields[4])};
        }
    }
    return std::nullopt;
}

/// This process's cgroup path in one hierarchy: v2 ("0::/path") or v1 (the line whose
/// controller list holds "cpu").
std::optional<std::string> own_cgroup(const fs::path& root, bool v2) {
    std::ifstream in(root / "proc/self/cgroup");
    std::string line;
    while (std::getline(in, line)) {
        const std::size_t first = line.find(':');
        const std::size_t second = line.find(':', first + 1);
        if (first == std::string::npos || second == std::string::npos) {
            continue;
        }
        const std::string_view controllers =
                std::string_view(line).substr(first + 1, second - first - 1);
        const auto list = split(controllers, ',');
        const bool match = v2 ? line.starts_with("0::")
                              : std::find(list.begin(), list.end(), "cpu") != list.end();
        if (match) {
            return line.substr(second + 1);
        }
    }
    return std::nullopt;
}

/// Normal form without a trailing separator, so that paths compare equal.
fs::path clean(const fs::path& path) {
    fs::path p = path.lexically_normal();
    if (!p.has_filename() && p != p.root_path()) {
        p = p.parent_path();
    }
    return p;
}

struct Limit {
    double cores = 0.0;
    fs::path file;
};

/// The tightest limit from the process's cgroup directory up to the mount point.
std::optional<Limit> tightest_limit(const fs::path& root, bool v2) {
    const auto mount = find_mount(root, v2);
    const auto cgroup = own_cgroup(root, v2);
    if (!mount || !cgroup) {
        return std::nullopt;
    }
    // The path is relative to the hierarchy's root; the mount may show only a subtree of it (a
    // container without its own cgroup namespace), and a path outside that subtree is not
    // visible here: then the mount point itself is the best guess.
    std::string relative = *cgroup;
    if (mount->root != "/") {
        relative = relative.starts_with(mount->root) ? relative.substr(mount->root.size()) : "";
    }
    const fs::path top = clean(root / fs::path(mount->mount_point).relative_path());
    fs::path dir = clean(top / fs::path(relative).relative_path());
    if (!fs::is_directory(dir) || !dir.string().starts_with(top.string())) {
        dir = top;
    }
    std::optional<Limit> best;
    while (true) {
        const auto cores = v2 ? read_cpu_max(dir) : read_cfs_quota(dir);
        if (cores && (!best || *cores < best->cores)) {
            best = Limit{*cores, v2 ? dir / "cpu.max" : dir / "cpu.cfs_quota_us"};
        }
        if (dir == top || dir.parent_path() == dir) {
            return best;
        }
        dir = dir.parent_path();
    }
}

int affinity_count() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) {
        return 0;
    }
    return CPU_COUNT(&set);
}

}  // namespace

int CpuBudget::cores() const {
    int n = std::max(1, online);
    if (affinity > 0) {
        n = std::min(n, affinity);
    }
    if (quota) {
        n = std::min(n, static_cast<int>(std::ceil(*quota - 1e-9)));
    }
    return std::max(1, n);
}

std::string CpuBudget::describe() const {
    std::string text =
            fmt::format("{} core{} ({} online", cores(), cores() == 1 ? "" : "s", online);
    if (affinity > 0 && affinity < online) {
        text += fmt::format(", {} in the affinity mask", affinity);
    }
    if (quota) {
        text += fmt::format(", cgroup limit {:g} from {}", *quota, quota_file);
    }
    return text + ")";
}

CpuBudget read_cpu_budget(const fs::path& root) {
    CpuBudget budget;
    budget.online = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
    budget.affinity = affinity_count();
    // A host has either a v2 hierarchy or a v1 cpu controller (a hybrid host may have both
    // mounted: the cpu controller then lives in v1, and v2's cpu.max files are absent).
    std::optional<Limit> limit = tightest_limit(root, true);
    if (!limit) {
        limit = tightest_limit(root, false);
    }
    if (limit) {
        budget.quota = limit->cores;
        budget.quota_file = limit->file.string();
    }
    return budget;
}

const CpuBudget& process_cpu_budget() {
    static const CpuBudget budget = read_cpu_budget();
    return budget;
}

int usable_cores() {
    return process_cpu_budget().cores();
}

}  // namespace dvd::base
