#include "eval/det_plot.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdio>
#include <memory>
#include <numbers>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <cairo.h>

#include "eval/det_curve.hpp"

namespace dvd::eval {

namespace {

constexpr double kSizePx = kDetPlotSizePx;
constexpr double kPlotLeftPx = 90.0;
constexpr double kPlotTopPx = 50.0;
constexpr double kPlotSidePx = 660.0;  // square plot area; 50 px right margin, 90 px bottom

constexpr double kMinRate = 0.0005;  // axis range 0.05 % .. 80 %
constexpr double kMaxRate = 0.80;
constexpr std::array<double, 9> kTickRates = {0.001, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8};

constexpr double kTitleFontPx = 20.0;
constexpr double kLabelFontPx = 15.0;
constexpr double kLegendFontPx = 14.0;
constexpr double kCurveWidthPx = 2.0;

struct Rgb {
    double r;
    double g;
    double b;
};

// Distinguishable on white and for the common colour-vision deficiencies (Okabe & Ito 2008).
constexpr std::array<Rgb, 7> kPalette = {{{0.00, 0.45, 0.70},
                                          {0.84, 0.37, 0.00},
                                          {0.00, 0.62, 0.45},
                                          {0.80, 0.47, 0.65},
                                          {0.34, 0.71, 0.91},
                                          {0.90, 0.62, 0.00},
                                          {0.00, 0.00, 0.00}}};

struct SurfaceDeleter {
    void operator()(cairo_surface_t* surface) const { cairo_surface_destroy(surface); }
};

struct ContextDeleter {
    void operator()(cairo_t* cr) const { cairo_destroy(cr); }
};

using SurfacePtr = std::unique_ptr<cairo_surface_t, SurfaceDeleter>;
using ContextPtr = std::unique_ptr<cairo_t, ContextDeleter>;

struct PreparedSeries {
    const DetSeries* series;
    std::vector<DetPoint> curve;
    double eer;
};

// Maps probits to pixels. Probits beyond the axis range (including +-inf for rates of exactly
// 0 or 1) are clamped a little outside the plot area; the clip rectangle hides the excess.
class Axes {
public:
    Axes() : lo_(probit(kMinRate)), hi_(probit(kMaxRate)) {}

    double x_px(double probit_fa) const { return kPlotLeftPx + kPlotSidePx * fraction(probit_fa); }

    double y_px(double probit_miss) const {
        return kPlotTopPx + kPlotSidePx * (1.0 - fraction(probit_miss));
    }

private:
    double fraction(double value) const {
        const double margin = 0.5 * (hi_ - lo_);
        return (std::clamp(value, lo_ - margin, hi_ + margin) - lo_) / (hi_ - lo_);
    }

    double lo_;
    double hi_;
};

std::string percent_label(double rate) {
    std::array<char, 32> text{};
    std::snprintf(text.data(), text.size(), "%g", 100.0 * rate);
    return text.data();
}

void show_text_centred(cairo_t* cr, const std::string& text, double centre_x, double baseline_y) {
    cairo_text_extents_t extents;
    cairo_text_extents(cr, text.c_str(), &extents);
    cairo_move_to(cr, centre_x - extents.x_bearing - 0.5 * extents.width, baseline_y);
    cairo_show_text(cr, text.c_str());
}

void draw_frame_and_grid(cairo_t* cr, const Axes& axes) {
    cairo_set_source_rgb(cr, 1.0, 1.0, 1.0);
    cairo_paint(cr);

    cairo_set_line_width(cr, 1.0);
    cairo_set_source_rgb(cr, 0.85, 0.85, 0.85);
    for (const double rate : kTickRates) {
        const double x = axes.x_px(probit(rate));
        const double y = axes.y_px(probit(rate));
        cairo_move_to(cr, x, kPlotTopPx);
        cairo_line_to(cr, x, kPlotTopPx + kPlotSidePx);
        cairo_move_to(cr, kPlotLeftPx, y);
        cairo_line_to(cr, kPlotLeftPx + kPlotSidePx, y);
    }
    cairo_stroke(cr);

    // The EER line P_miss = P_fa.
    const std::array<double, 2> dashes = {6.0, 4.0};
    cairo_set_dash(cr, dashes.data(), static_cast<int>(dashes.size()), 0.0);
    cairo_set_source_rgb(cr, 0.55, 0.55, 0.55);
    cairo_move_to(cr, axes.x_px(probit(kMinRate)), axes.y_px(probit(kMinRate)));
    cairo_line_to(cr, axes.x_px(probit(kMaxRate)), axes.y_px(probit(kMaxRate)));
    cairo_stroke(cr);
    cairo_set_dash(cr, nullptr, 0, 0.0);

    cairo_set_source_rgb(cr, 0.0, 0.0, 0.0);
    cairo_rectangle(cr, kPlotLeftPx, kPlotTopPx, kPlotSidePx, kPlotSidePx);
    cairo_stroke(cr);
}

void draw_labels(cairo_t* cr, const Axes& axes, std::string_view title) {
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_source_rgb(cr, 0.0, 0.0, 0.0);
    cairo_set_font_size(cr, kLabelFontPx);
    const double bottom_px = kPlotTopPx + kPlotSidePx;
    for (const double rate : kTickRates) {
        const std::string label = percent_label(rate);
        show_text_centred(cr, label, axes.x_px(probit(rate)), bottom_px + 22.0);
        cairo_text_extents_t extents;
        cairo_text_extents(cr, label.c_str(), &extents);
        cairo_move_to(cr, kPlotLeftPx - 8.0 - extents.x_advance,
                      axes.y_px(probit(rate)) + 0.5 * extents.height);
        cairo_show_text(cr, label.c_str());
    }
    show_text_centred(cr, "False alarm rate: genuine callers flagged (%)",
                      kPlotLeftPx + 0.5 * kPlotSidePx, bottom_px + 55.0);
    cairo_save(cr);
    cairo_translate(cr, 35.0, kPlotTopPx + 0.5 * kPlotSidePx);
    cairo_rotate(cr, -0.5 * std::numbers::pi);
    show_text_centred(cr, "Miss rate: synthetic calls missed (%)", 0.0, 0.0);
    cairo_restore(cr);

    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_BOLD);
    cairo_set_font_size(cr, kTitleFontPx);
    show_text_centred(cr, std::string(title), 0.5 * kSizePx, kPlotTopPx - 18.0);
}

void draw_curves(cairo_t* cr, const Axes& axes, const std::vector<PreparedSeries>& prepared) {
    cairo_save(cr);
    cairo_rectangle(cr, kPlotLeftPx, kPlotTopPx, kPlotSidePx, kPlotSidePx);
    cairo_clip(cr);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_set_line_width(cr, kCurveWidthPx);
    for (std::size_t i = 0; i < prepared.size(); ++i) {
        const Rgb& colour = kPalette[i % kPalette.size()];
        cairo_set_source_rgb(cr, colour.r, colour.g, colour.b);
        const std::vector<DetPoint>& curve = prepared[i].curve;
        cairo_move_to(cr, axes.x_px(curve.front().probit_fa), axes.y_px(curve.front().probit_miss));
        for (const DetPoint& point : curve) {
            cairo_line_to(cr, axes.x_px(point.probit_fa), axes.y_px(point.probit_miss));
        }
        cairo_stroke(cr);
        const double eer_probit = probit(prepared[i].eer);
        cairo_arc(cr, axes.x_px(eer_probit), axes.y_px(eer_probit), 4.0, 0.0,
                  2.0 * std::numbers::pi);
        cairo_fill(cr);
    }
    cairo_restore(cr);
}

// Top right of the plot area: the region of high miss and high false-alarm rates, which a
// curve only enters when the detector is worse than chance.
void draw_legend(cairo_t* cr, const std::vector<PreparedSeries>& prepared) {
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, kLegendFontPx);
    std::vector<std::string> lines;
    double text_width_px = 0.0;
    for (const PreparedSeries& series : prepared) {
        std::array<char, 32> eer_text{};
        std::snprintf(eer_text.data(), eer_text.size(), "  EER %.2f %%", 100.0 * series.eer);
        lines.push_back(series.series->name + eer_text.data());
        cairo_text_extents_t extents;
        cairo_text_extents(cr, lines.back().c_str(), &extents);
        text_width_px = std::max(text_width_px, extents.x_advance);
    }
    constexpr double kLinePx = 22.0;
    constexpr double kSwatchPx = 24.0;
    constexpr double kPadPx = 8.0;
    const double width_px = kPadPx + kSwatchPx + kPadPx + text_width_px + kPadPx;
    const double height_px = kPadPx + kLinePx * static_cast<double>(lines.size()) + kPadPx;
    const double left_px = kPlotLeftPx + kPlotSidePx - 10.0 - width_px;
    const double top_px = kPlotTopPx + 10.0;

    cairo_rectangle(cr, left_px, top_px, width_px, height_px);
    cairo_set_source_rgb(cr, 1.0, 1.0, 1.0);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
    cairo_set_line_width(cr, 1.0);
    cairo_stroke(cr);

    for (std::size_t i = 0; i < lines.size(); ++i) {
        const double baseline_px = top_px + kPadPx + kLinePx * (static_cast<double>(i) + 0.75);
        const Rgb& colour = kPalette[i % kPalette.size()];
        cairo_set_source_rgb(cr, colour.r, colour.g, colour.b);
        cairo_set_line_width(cr, kCurveWidthPx + 1.0);
        cairo_move_to(cr, left_px + kPadPx, baseline_px - 5.0);
        cairo_line_to(cr, left_px + kPadPx + kSwatchPx, baseline_px - 5.0);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.0, 0.0, 0.0);
        cairo_move_to(cr, left_px + 2.0 * kPadPx + kSwatchPx, baseline_px);
        cairo_show_text(cr, lines[i].c_str());
    }
}

base::Result<std::vector<PreparedSeries>> prepare(std::span<const DetSeries> curves) {
    std::vector<PreparedSeries> prepared;
    prepared.reserve(curves.size());
    for (const DetSeries& series : curves) {
        auto curve = det_curve(series.trials);
        if (!curve) {
            return base::fail(base::Errc::InvalidArgument,
                              "eval: DET series '" + series.name + "': " + curve.error().message);
        }
        const auto eer = equal_error_rate(series.trials);
        if (!eer) {
            return base::fail(base::Errc::InvalidArgument,
                              "eval: DET series '" + series.name + "': " + eer.error().message);
        }
        prepared.push_back({&series, std::move(*curve), *eer});
    }
    return prepared;
}

}  // namespace

base::Result<void> write_det_png(const std::filesystem::path& path,
                                 std::span<const DetSeries> curves, std::string_view title) {
    if (curves.empty()) {
        return base::fail(base::Errc::InvalidArgument, "eval: write_det_png needs a curve");
    }
    const auto prepared = prepare(curves);
    if (!prepared) {
        return prepared.error();
    }

    const SurfacePtr surface(
            cairo_image_surface_create(CAIRO_FORMAT_ARGB32, kDetPlotSizePx, kDetPlotSizePx));
    if (const cairo_status_t status = cairo_surface_status(surface.get());
        status != CAIRO_STATUS_SUCCESS) {
        return base::fail(base::Errc::Runtime,
                          std::string("eval: cairo surface: ") + cairo_status_to_string(status));
    }
    const ContextPtr cr(cairo_create(surface.get()));
    const Axes axes;
    draw_frame_and_grid(cr.get(), axes);
    draw_curves(cr.get(), axes, *prepared);
    draw_labels(cr.get(), axes, title);
    draw_legend(cr.get(), *prepared);
    if (const cairo_status_t status = cairo_status(cr.get()); status != CAIRO_STATUS_SUCCESS) {
        return base::fail(base::Errc::Runtime,
                          std::string("eval: cairo drawing: ") + cairo_status_to_string(status));
    }
    cairo_surface_flush(surface.get());
    if (const cairo_status_t status = cairo_surface_write_to_png(surface.get(), path.c_str());
        status != CAIRO_STATUS_SUCCESS) {
        return base::fail(base::Errc::Io, "eval: cannot write " + path.string() + ": "
                                                  + cairo_status_to_string(status));
    }
    return {};
}

}  // namespace dvd::eval
