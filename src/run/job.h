// Joining a job of several processes from the command line's config: the launch from the
// environment (dist/launch.h), the process group (dist/group.h), and the check that every rank
// runs the same pdiff with the same settings. What each stage splits: docs/distributed.md.
#pragma once

#include "core/config.h"

namespace pdiff {

// With one process (no launcher's variables, or a world of 1): nothing. Otherwise joins the
// group and stops every rank with one line naming the first setting (or the version) that
// differs between ranks. The `threads` key may differ: it is per machine.
void join_job(const Config& cfg);

// The same for commands that read several configs (`pdiff table`, `pdiff sweep`): the group
// with the default dist.* settings, and the check that every rank got the same command line.
void join_job(const std::string& command_line);

}  // namespace pdiff
