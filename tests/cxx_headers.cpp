// Every public header, included from C++ (built as C++11, 17 and 20 by tests/CMakeLists.txt
// with -Wall -Wextra -pedantic -Werror): C++ keywords used as field names (0.1's `unsigned
// requires;` in sys/backup.h) or C-only constructs in a header fail this build.
#define DR3_EXPERIMENTAL 1 // the experimental declarations too
#include <dr3/dr3.h>
#include <dr3/sys/backup.h>
#include <dr3/sys/collective.h>
#include <dr3/sys/continuous.h>
#include <dr3/sys/errors.h>
#include <dr3/sys/regularizer.h>

#include <cstdio>

int main() {
    // the _INIT macros are usable as C++ aggregate initializers
    dr3_learner_options lo = DR3_LEARNER_OPTIONS_INIT;
    dr3_backup_vtable bv = DR3_BACKUP_VTABLE_INIT;
    dr3_regularizer_vtable rv = DR3_REGULARIZER_VTABLE_INIT;
    dr3_collective_vtable cv = DR3_COLLECTIVE_VTABLE_INIT;
    dr3_batch b = DR3_BATCH_INIT;
    dr3_step_metrics m = DR3_STEP_METRICS_INIT;
    bv.needs = DR3_BACKUP_NEEDS_NEXT_ACTIONS;
    std::printf("%u %u %u %u %u %u %s\n", lo.version, bv.version, rv.version, cv.version,
                b.version, m.version, dr3_version());
    return dr3_version_number() == DR3_VERSION_NUMBER ? 0 : 1;
}
