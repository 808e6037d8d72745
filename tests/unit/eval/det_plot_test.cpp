#include "eval/det_plot.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "unit/eval/trial_builders.hpp"

// LeakSanitizer hook, read at start-up by ASan builds of this executable (unused otherwise).
// fontconfig, reached through Cairo's toy font API (cairo_select_font_face), keeps its parsed
// configuration and font patterns in process-lifetime caches and never frees them; only
// cairo_debug_reset_static_data() + FcFini() at exit would. libfontconfig has no frame pointers,
// so ASan's default fast unwinder shows only libfontconfig frames: suppress by module name.
// Cairo's own allocations (a forgotten cairo_destroy) are still reported.
extern "C" const char* __lsan_default_suppressions() {  // NOLINT(bugprone-reserved-identifier)
    return "leak:libfontconfig.so\n";
}

namespace dvd::eval {
namespace {

using test::gaussian_trials;
using test::make_trials;

// Written under the build tree (not a temp dir) so that a person can open the plot.
std::filesystem::path output_dir() {
    const std::filesystem::path dir =
            std::filesystem::path(DVD_BINARY_DIR) / "test-output" / "eval";
    std::filesystem::create_directories(dir);
    return dir;
}

std::vector<unsigned char> read_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::uint32_t big_endian_u32(const std::vector<unsigned char>& bytes, std::size_t offset) {
    return (std::uint32_t{bytes[offset]} << 24U) | (std::uint32_t{bytes[offset + 1]} << 16U)
           | (std::uint32_t{bytes[offset + 2]} << 8U) | std::uint32_t{bytes[offset + 3]};
}

TEST(EvalWriteDetPng, WritesAValid800By800Png) {
    const auto strong = gaussian_trials(3.0, 20000, 1.0, 1);
    const auto weak = gaussian_trials(1.0, 20000, 1.0, 2);
    const auto coarse = make_trials({0.2, 0.5, 0.9, 1.4, 2.0}, {-1.0, -0.3, 0.1, 0.6});
    const std::vector<DetSeries> curves = {
            {"d' = 3", strong}, {"d' = 1", weak}, {"9 trials", coarse}};
    const std::filesystem::path path = output_dir() / "det_three_systems.png";
    std::filesystem::remove(path);

    const auto written = write_det_png(path, curves, "DET: unit-test systems");
    ASSERT_TRUE(written) << written.error().message;

    const std::vector<unsigned char> bytes = read_bytes(path);
    ASSERT_GT(bytes.size(), 5000U) << "a plot with text and three curves is more than a few bytes";
    constexpr std::array<unsigned char, 8> kSignature = {0x89, 'P',  'N',  'G',
                                                         '\r', '\n', 0x1A, '\n'};
    for (std::size_t i = 0; i < kSignature.size(); ++i) {
        EXPECT_EQ(bytes[i], kSignature[i]) << "signature byte " << i;
    }
    // The first chunk is IHDR: length (4), type (4), then width and height, big-endian.
    EXPECT_EQ(std::string(bytes.begin() + 12, bytes.begin() + 16), "IHDR");
    EXPECT_EQ(big_endian_u32(bytes, 16), static_cast<std::uint32_t>(kDetPlotSizePx));
    EXPECT_EQ(big_endian_u32(bytes, 20), static_cast<std::uint32_t>(kDetPlotSizePx));
}

TEST(EvalWriteDetPng, RejectsNoCurves) {
    const auto written = write_det_png(output_dir() / "never.png", {}, "none");
    ASSERT_FALSE(written);
    EXPECT_EQ(written.error().code, base::make_error_code(base::Errc::InvalidArgument));
}

TEST(EvalWriteDetPng, NamesTheSeriesWithAnEmptyClass) {
    const auto good = make_trials({1, 2}, {0});
    const auto genuine_only = make_trials({}, {0, 1});
    const std::vector<DetSeries> curves = {{"good", good}, {"genuine only", genuine_only}};
    const auto written = write_det_png(output_dir() / "never.png", curves, "bad");
    ASSERT_FALSE(written);
    EXPECT_EQ(written.error().code, base::make_error_code(base::Errc::InvalidArgument));
    EXPECT_NE(written.error().message.find("genuine only"), std::string::npos);
}

TEST(EvalWriteDetPng, ReportsAnUnwritablePath) {
    const auto trials = make_trials({1, 2}, {0});
    const std::vector<DetSeries> curves = {{"one", trials}};
    const auto written =
            write_det_png(output_dir() / "no-such-dir" / "det.png", curves, "unwritable");
    ASSERT_FALSE(written);
    EXPECT_EQ(written.error().code, base::make_error_code(base::Errc::Io));
}

}  // namespace
}  // namespace dvd::eval
