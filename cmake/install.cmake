# Install the library, its headers, a CMake package (find_package(parlab)) and a pkg-config file.
# (The lab installs the parlab command and its data itself: apps/parlab, lab/brewery.)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(parlab_installed_targets parlab)
if(PARLAB_WITH_MPI)
  list(APPEND parlab_installed_targets parlab_mpi)
endif()
install(TARGETS ${parlab_installed_targets} EXPORT parlabTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(PARLAB_WITH_MPI)
  install(DIRECTORY include/parlab DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
else()
  install(DIRECTORY include/parlab DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} PATTERN mpi_pool.hpp EXCLUDE)
endif()

install(FILES ${PROJECT_BINARY_DIR}/include/parlab/version.hpp DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/parlab)

set(parlab_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/parlab)
install(EXPORT parlabTargets NAMESPACE parlab:: DESTINATION ${parlab_cmake_dir})
configure_package_config_file(cmake/parlabConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/parlabConfig.cmake INSTALL_DESTINATION ${parlab_cmake_dir})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/parlabConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/parlabConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/parlabConfigVersion.cmake
        DESTINATION ${parlab_cmake_dir})

# The .pc file finds its prefix relative to itself, so an install with `--prefix` works too.
set(parlab_pc_dir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
string(REGEX REPLACE "[^/]+" ".." parlab_pc_to_prefix "${parlab_pc_dir}")
configure_file(cmake/parlab.pc.in ${CMAKE_CURRENT_BINARY_DIR}/parlab.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/parlab.pc DESTINATION ${parlab_pc_dir})
if(PARLAB_WITH_MPI)
  configure_file(cmake/parlab-mpi.pc.in ${CMAKE_CURRENT_BINARY_DIR}/parlab-mpi.pc @ONLY)
  install(FILES ${CMAKE_CURRENT_BINARY_DIR}/parlab-mpi.pc DESTINATION ${parlab_pc_dir})
endif()
