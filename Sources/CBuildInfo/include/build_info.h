#ifndef DSAMPLER_BUILD_INFO_H
#define DSAMPLER_BUILD_INFO_H
// The commit the binary was built from, as Scripts/swiftflags recorded it in the git-ignored .build-info.h at the
// package root before building ("<12 hex digits>", with "-dirty" when Sources/, Package.swift or Targets/ had
// uncommitted changes), or "unknown" for a build that did not go through the scripts.
const char *dsn_build_commit(void);
#endif
