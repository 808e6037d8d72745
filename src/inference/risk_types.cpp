#include "inference/risk_types.hpp"

#include <fmt/format.h>

namespace dvd::inference {

std::string_view to_string(RiskLevel level) noexcept {
    switch (level) {
        case RiskLevel::Low:
            return "low";
        case RiskLevel::Medium:
            return "medium";
        case RiskLevel::High:
            return "high";
        case RiskLevel::Critical:
            return "critical";
    }
    return "unknown";
}

std::string_view to_string(RecommendedAction action) noexcept {
    switch (action) {
        case RecommendedAction::None:
            return "none";
        case RecommendedAction::Monitor:
            return "monitor";
        case RecommendedAction::VerifyIdentity:
            return "verify_identity";
        case RecommendedAction::Warn:
            return "warn";
        case RecommendedAction::Transfer:
            return "transfer";
        case RecommendedAction::Hangup:
            return "hangup";
    }
    return "unknown";
}

const std::vector<std::string_view>& risk_level_names() {
    static const std::vector<std::string_view> names{"low", "medium", "high", "critical"};
    return names;
}

const std::vector<std::string_view>& recommended_action_names() {
    static const std::vector<std::string_view> names{"none", "monitor",  "verify_identity",
                                                     "warn", "transfer", "hangup"};
    return names;
}

base::Result<RiskLevel> parse_risk_level(std::string_view text) {
    for (const auto level :
         {RiskLevel::Low, RiskLevel::Medium, RiskLevel::High, RiskLevel::Critical}) {
        if (text == to_string(level)) {
            return level;
        }
    }
    return base::fail(base::Errc::InvalidArgument, fmt::format("unknown risk level '{}'", text));
}

base::Result<RecommendedAction> parse_recommended_action(std::string_view text) {
    for (const auto action :
         {RecommendedAction::None, RecommendedAction::Monitor, RecommendedAction::VerifyIdentity,
          RecommendedAction::Warn, RecommendedAction::Transfer, RecommendedAction::Hangup}) {
        if (text == to_string(action)) {
            return action;
        }
    }
    return base::fail(base::Errc::InvalidArgument,
                      fmt::format("unknown recommended action '{}'", text));
}

}  // namespace dvd::inference
