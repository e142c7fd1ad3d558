/* Opening dataset files safely: a FIFO, socket or device named like a dataset file would
 * block open() forever (a FIFO without a writer) or stream without end, so every reader
 * goes through these checks before it reads a byte. */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind_of(mode_t m) {
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO";
    if (S_ISSOCK(m)) return "a socket";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    return "not a regular file";
}

dr3_status dr3i_open_regular(const char *path, int *fd, int *missing, const char *who) {
    *fd = -1;
    if (missing != NULL) *missing = 0;
    /* O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting; it
     * has no effect on reading a regular file, and is cleared below anyway. */
    int f = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (f < 0) {
        int e = errno;
        if (e == ENOENT && missing != NULL) {
            *missing = 1;
            return DR3_OK;
        }
        return dr3i_fail(DR3_ERR_IO, "%s: cannot open '%s': %s", who, path, strerror(e));
    }
    struct stat sb;
    if (fstat(f, &sb) != 0) {
        int e = errno;
        close(f);
        return dr3i_fail(DR3_ERR_IO, "%s: cannot stat '%s': %s", who, path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(f);
        return dr3i_fail(DR3_ERR_IO, "%s: '%s' is %s, not a regular file", who, path,
                         kind_of(sb.st_mode));
    }
    int fl = fcntl(f, F_GETFL);
    if (fl < 0 || fcntl(f, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(f);
        return dr3i_fail(DR3_ERR_IO, "%s: cannot read '%s': %s", who, path, strerror(e));
    }
    *fd = f;
    return DR3_OK;
}

dr3_status dr3i_check_regular(const char *path, uint64_t *size, const char *who) {
    struct stat sb;
    if (stat(path, &sb) != 0)
        return dr3i_fail(DR3_ERR_IO, "%s: cannot read '%s': %s", who, path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return dr3i_fail(DR3_ERR_IO, "%s: '%s' is %s, not a regular file", who, path,
                         kind_of(sb.st_mode));
    if (size != NULL) *size = (uint64_t)sb.st_size;
    return DR3_OK;
}

dr3_status dr3i_infer_num_actions(int64_t max_action, size_t *num_actions, const char *file,
                                  const char *who) {
    if (max_action < 0) {
        *num_actions = 1;
        return DR3_OK;
    }
    if ((uint64_t)max_action >= DR3I_MAX_INFERRED_ACTIONS)
        return dr3i_fail(DR3_ERR_RANGE,
                         "%s: %s: the largest action is %lld, which would mean %lld actions; "
                         "more than %u are only accepted when opts->num_actions says so "
                         "(a corrupt file?)",
                         who, file, (long long)max_action, (long long)max_action + 1,
                         (unsigned)DR3I_MAX_INFERRED_ACTIONS);
    *num_actions = (size_t)max_action + 1;
    return DR3_OK;
}
