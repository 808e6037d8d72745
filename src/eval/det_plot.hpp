#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "base/result.hpp"
#include "eval/metrics.hpp"

/// DET plots as PNG files, drawn with Cairo. Blocking file I/O: call it from tools and tests,
/// never from a worker thread. Each call owns its own Cairo surface, so concurrent calls on
/// different paths are safe. Under LeakSanitizer, fontconfig's process-lifetime caches (reached
/// through Cairo's toy font API) look like leaks: suppress `leak:libfontconfig.so`, as
/// tests/unit/eval/det_plot_test.cpp does.
namespace dvd::eval {

/// One named curve to draw. `trials` is a view: it must outlive the `write_det_png` call.
struct DetSeries {
    std::string name;               ///< legend text, followed by the curve's EER
    std::span<const Trial> trials;  ///< conventions and errors as in metrics.hpp
};

/// Plot size in pixels (square, so that the EER diagonal P_miss = P_fa is at 45 degrees).
inline constexpr int kDetPlotSizePx = 800;

/// Writes an 800 x 800 PNG with one DET curve per series (see det_curve.hpp) on normal-deviate
/// axes: false-alarm rate (genuine callers flagged) across, miss rate (synthetic calls missed)
/// up, both from 0.05 % to 80 %, ticks at 0.1, 1, 2, 5, 10, 20, 40, 60 and 80 %. Also drawn:
/// the EER diagonal, a dot at each curve's EER, and a legend "name  EER x.xx %".
/// Segments that leave the axis range are clipped.
/// Errors: `InvalidArgument` when `curves` is empty or a series fails `det_curve` (the message
/// names the series); `Runtime` when Cairo fails to draw; `Io` when the file cannot be written.
[[nodiscard]] base::Result<void> write_det_png(const std::filesystem::path& path,
                                               std::span<const DetSeries> curves,
                                               std::string_view title);

}  // namespace dvd::eval
