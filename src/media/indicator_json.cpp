#include "media/indicator_json.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <nlohmann/json.hpp>

namespace dvd::media {
namespace {

using Json = nlohmann::ordered_json;

Json value_of(const indicators::IndicatorValue& row) {
    if (!row.text.empty()) {
        return Json(row.text);
    }
    if (!row.value || !std::isfinite(*row.value)) {
        return Json(nullptr);
    }
    const double value = round_significant(*row.value);
    if (std::fabs(value) < 1e15 && value == std::trunc(value)) {
        return Json(static_cast<std::int64_t>(value));  // counts read as integers: 188, not 188.0
    }
    return Json(value);
}

}  // namespace

double round_significant(double value) {
    if (!std::isfinite(value) || value == 0.0) {
        return value;
    }
    const double digits = std::floor(std::log10(std::fabs(value)));
    if (digits >= 3.0) {
        const double step = std::pow(10.0, digits - 3.0);  // an exact integer power of ten
        return std::round(value / step) * step;
    }
    const double scale = std::pow(10.0, 3.0 - digits);  // exact for the usual magnitudes
    return std::round(value * scale) / scale;
}

std::string indicators_json(const indicators::Indicators& indicators) {
    Json out = Json::object();
    for (const auto& row : indicators::to_list(indicators)) {
        out[row.name] = value_of(row);
    }
    return out.dump();
}

std::string window_indicators_json(const indicators::Indicators& indicators) {
    Json out = Json::object();
    for (const auto& row : indicators::to_list(indicators)) {
        if (std::find(kWindowIndicatorNames.begin(), kWindowIndicatorNames.end(), row.name)
            != kWindowIndicatorNames.end()) {
            out[row.name] = value_of(row);
        }
    }
    return out.dump();
}

}  // namespace dvd::media
