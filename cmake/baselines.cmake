# The comparison baselines of the benchmarks: OpenMP, oneTBB and std::execution::par (libstdc++
# over oneTBB). parlab_link_baselines(<target> [FLAGS_VAR <var>]) links what is found and
# defines PARLAB_BENCH_OPENMP / _TBB / _STD_PAR on <target>; a baseline that is missing is
# reported and its rows are skipped. FLAGS_VAR receives the extra compiler flags used.
include(CheckCXXSourceCompiles)
include(CMakePushCheckState)

function(parlab_link_baselines target)
  cmake_parse_arguments(arg "" "FLAGS_VAR" "" ${ARGN})
  find_package(OpenMP COMPONENTS CXX)
  find_package(TBB CONFIG COMPONENTS tbb)
  set(flags "")
  if(OpenMP_CXX_FOUND)
    target_link_libraries(${target} PRIVATE OpenMP::OpenMP_CXX)
    target_compile_definitions(${target} PRIVATE PARLAB_BENCH_OPENMP=1)
    string(APPEND flags " ${OpenMP_CXX_FLAGS}")
  else()
    message(STATUS "${target}: OpenMP not found, its rows are skipped")
  endif()
  if(NOT TBB_FOUND)
    message(STATUS "${target}: oneTBB not found, the TBB and std::execution::par rows are skipped")
  else()
    target_link_libraries(${target} PRIVATE TBB::tbb)
    target_compile_definitions(${target} PRIVATE PARLAB_BENCH_TBB=1)
    # libstdc++'s parallel algorithms run on oneTBB when <tbb/tbb.h> is present: check that this
    # compiler/TBB pair really compiles and links them before adding the std::execution::par row.
    cmake_push_check_state(RESET)
    set(CMAKE_REQUIRED_LIBRARIES TBB::tbb Threads::Threads)
    set(CMAKE_REQUIRED_QUIET ON)
    check_cxx_source_compiles([=[
      #include <algorithm>
      #include <execution>
      #include <vector>
      #if !defined(_PSTL_PAR_BACKEND_TBB)
      #error "libstdc++ parallel algorithms have no TBB backend here"
      #endif
      int main() {
        std::vector<float> in(1000, 1.0f), out(1000);
        std::transform(std::execution::par, in.begin(), in.end(), out.begin(),
                       [](float x) { return x * 2.0f; });
        return out[0] == 2.0f ? 0 : 1;
      }]=] PARLAB_HAVE_STD_PAR)
    cmake_pop_check_state()
    if(PARLAB_HAVE_STD_PAR)
      target_compile_definitions(${target} PRIVATE PARLAB_BENCH_STD_PAR=1)
    else()
      message(STATUS "${target}: std::execution::par on oneTBB does not build here, its rows are skipped")
    endif()
  endif()
  if(arg_FLAGS_VAR)
    set(${arg_FLAGS_VAR} "${flags}" PARENT_SCOPE)
  endif()
endfunction()
