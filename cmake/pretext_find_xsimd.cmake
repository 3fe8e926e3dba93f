# SPDX-License-Identifier: Apache-2.0
# Finds xsimd 8.1. Debian's package exports a target named plain `xsimd` whose interface links
# `xtl` (xsimd was built with xtl support), but pretext uses none of xtl. If xtl's own package
# config is installed we use it; otherwise an empty stand-in target keeps the link line valid.
find_package(xsimd 8.1 REQUIRED)
if(NOT TARGET xtl)
  find_package(xtl QUIET)
endif()
if(NOT TARGET xtl)
  get_target_property(_pretext_xsimd_links xsimd INTERFACE_LINK_LIBRARIES)
  if(_pretext_xsimd_links MATCHES "(^|;)xtl(;|$)")
    add_library(xtl INTERFACE IMPORTED)
  endif()
  unset(_pretext_xsimd_links)
endif()
