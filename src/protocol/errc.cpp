#include "protocol/errc.hpp"

namespace dvd::protocol {
namespace {

class Category final : public std::error_category {
public:
    const char* name() const noexcept override { return "dvd.protocol"; }

    std::string message(int code) const override {
        switch (static_cast<Errc>(code)) {
            case Errc::MalformedJson:
                return "malformed JSON";
            case Errc::MissingField:
                return "missing field";
            case Errc::WrongType:
                return "wrong field type";
            case Errc::BadValue:
                return "bad field value";
            case Errc::BadBase64:
                return "bad base64";
            case Errc::TooLarge:
                return "too large";
            case Errc::UnknownEvent:
                return "unknown event";
            case Errc::MissingHeader:
                return "missing signature header";
            case Errc::BadTimestamp:
                return "bad timestamp";
            case Errc::StaleTimestamp:
                return "timestamp outside tolerance";
            case Errc::BadKey:
                return "bad public key";
            case Errc::BadSignature:
                return "bad signature";
            case Errc::InvalidCommand:
                return "invalid command";
            case Errc::CryptoUnavailable:
                return "crypto library unavailable";
        }
        return "unknown protocol error";
    }
};

}  // namespace

const std::error_category& error_category() noexcept {
    static const Category category;
    return category;
}

}  // namespace dvd::protocol
