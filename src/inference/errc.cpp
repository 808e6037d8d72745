#include "inference/errc.hpp"

namespace dvd::inference {
namespace {

class Category final : public std::error_category {
public:
    const char* name() const noexcept override { return "dvd.inference"; }

    std::string message(int code) const override {
        switch (static_cast<Errc>(code)) {
            case Errc::InvalidInput:
                return "invalid risk input";
            case Errc::Transport:
                return "transport failure";
            case Errc::Timeout:
                return "timed out";
            case Errc::HttpStatus:
                return "error status";
            case Errc::BadResponse:
                return "not a chat completion";
            case Errc::MalformedOutput:
                return "malformed model output";
            case Errc::SchemaViolation:
                return "model output violates the schema";
            case Errc::Cancelled:
                return "cancelled";
        }
        return "unknown inference error";
    }
};

}  // namespace

const std::error_category& error_category() noexcept {
    static const Category category;
    return category;
}

}  // namespace dvd::inference
