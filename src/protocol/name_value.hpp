#pragma once

#include <string>

namespace dvd::protocol {

/// A name/value pair: SIP headers, `custom_parameters`, `custom_headers`.
struct NameValue {
    std::string name;
    std::string value;

    bool operator==(const NameValue&) const = default;
};

}  // namespace dvd::protocol
