#include "http/errc.hpp"

namespace dvd::http {
namespace {

class Category final : public std::error_category {
public:
    const char* name() const noexcept override { return "dvd.http"; }

    std::string message(int code) const override {
        switch (static_cast<Errc>(code)) {
            case Errc::InvalidRequest:
                return "invalid request";
            case Errc::Resolve:
                return "could not resolve host";
            case Errc::Connect:
                return "could not connect";
            case Errc::Tls:
                return "TLS failure";
            case Errc::Timeout:
                return "timed out";
            case Errc::Transfer:
                return "transfer failed";
            case Errc::BodyTooLarge:
                return "response body too large";
            case Errc::Init:
                return "libcurl initialisation failed";
            case Errc::SinkFailed:
                return "the body sink refused the data";
        }
        return "unknown http error";
    }
};

}  // namespace

bool is_transient(Errc code) noexcept {
    switch (code) {
        case Errc::Resolve:
        case Errc::Connect:
        case Errc::Tls:
        case Errc::Timeout:
        case Errc::Transfer:
            return true;
        case Errc::InvalidRequest:
        case Errc::BodyTooLarge:
        case Errc::Init:
        case Errc::SinkFailed:
            return false;
    }
    return false;
}

const std::error_category& error_category() noexcept {
    static const Category category;
    return category;
}

}  // namespace dvd::http
