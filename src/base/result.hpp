#pragma once

#include <string>
#include <system_error>
#include <utility>

#include <boost/system/result.hpp>

namespace dvd::base {

/// An error from the outside world (bad file, bad bytes, bad configuration): a code for
/// programs and a message for people. Carried by value through `Result`.
struct Error {
    std::error_code code;
    std::string message;
};

/// The project's result type: a value or an `Error`. Switch to std::expected with C++23.
template <class T>
using Result = boost::system::result<T, Error>;

/// Generic error categories shared by every layer. Layers add detail in `Error::message`.
enum class Errc {
    InvalidArgument = 1,  ///< the caller passed something malformed
    NotFound,             ///< a file or key does not exist
    Unsupported,          ///< well-formed but not something we handle (codec, format)
    Io,                   ///< the operating system failed a read or write
    Corrupt,              ///< bytes that do not parse (truncated file, bad header)
    Runtime,              ///< a library we call failed (ONNX Runtime, libsndfile)
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/// Builds an `Error`; use as `return base::fail(Errc::NotFound, "no such file: {}", path)`.
inline Error fail(Errc code, std::string message) {
    return Error{make_error_code(code), std::move(message)};
}

/// Found by argument-dependent lookup when `Result::value()` is called on an error: throws
/// std::runtime_error with the message. Only for tools and tests; layers check `has_value()`.
[[noreturn]] void throw_exception_from_error(const Error& e, const boost::source_location& loc);

}  // namespace dvd::base
