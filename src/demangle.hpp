#pragma once
/// \file
/// demangle(): a C++ type or symbol name as written in source, shared by the library's sources.

#include <string>

namespace parlab::detail {

/// The readable form of a mangled name (a type_info name, a symbol); `name` itself if it does
/// not demangle.
[[nodiscard]] std::string demangle(const char* name);

}  // namespace parlab::detail
