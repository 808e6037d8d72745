#include "base/result.hpp"

#include <stdexcept>

namespace dvd::base {
namespace {

class Category final : public std::error_category {
public:
    const char* name() const noexcept override { return "dvd"; }

    std::string message(int code) const override {
        switch (static_cast<Errc>(code)) {
            case Errc::InvalidArgument: return "invalid argument";
            case Errc::NotFound: return "not found";
            case Errc::Unsupported: return "unsupported";
            case Errc::Io: return "i/o error";
            case Errc::Corrupt: return "corrupt data";
            case Errc::Runtime: return "runtime error";
        }
        return "unknown error";
    }
};

}  // namespace

const std::error_category& error_category() noexcept {
    static const Category category;
    return category;
}

void throw_exception_from_error(const Error& e, const boost::source_location&) {
    throw std::runtime_error(e.message);
}

}  // namespace dvd::base
