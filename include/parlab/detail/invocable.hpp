#pragma once
/// \file
/// InvocableOnCopies: what a call that stores its function and arguments accepts (apply_async,
/// aio::to_thread).

#include <concepts>
#include <type_traits>

namespace parlab::detail {

/// f(args...) on decay-copies: the stored function is called as an lvalue, the stored arguments
/// are moved into the call.
template <class F, class... Args>
concept InvocableOnCopies =
    std::invocable<std::add_lvalue_reference_t<std::decay_t<F>>, std::decay_t<Args>...>;

}  // namespace parlab::detail
