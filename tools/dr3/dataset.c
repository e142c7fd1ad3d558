/* --data: format detection and the HDF5 child process. */
#include "dataset.h"

#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPY_FILES                                                                              \
    "observations.npy, actions.npy, rewards.npy and terminals.npy (optional timeouts.npy, "    \
    "next_observations.npy, next_actions.npy)"

static int is_regular(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int ends_with(const char *s, const char *tail) {
    size_t n = strlen(s), t = strlen(tail);
    return n >= t && strcmp(s + n - t, tail) == 0;
}

static const char *base_name(const char *path) {
    const char *b = strrchr(path, '/');
    return b != NULL ? b + 1 : path;
}

/* Any "$store$_..._ckpt.N.gz" in dir. */
static int has_dqn_files(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return 0;
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(d)) != NULL;)
        found = strncmp(e->d_name, "$store$_", 8) == 0 && strstr(e->d_name, "_ckpt.") != NULL;
    closedir(d);
    return found;
}

data_kind data_detect(const char *path, unsigned suffix, char *file, size_t cap, char *why,
                      size_t why_cap) {
    (void)suffix;
    file[0] = '\0';
    why[0] = '\0';
    struct stat sb;
    if (stat(path, &sb) != 0) {
        snprintf(why, why_cap, "cannot read '%s': %s", path, strerror(errno));
        return DATA_NOT_A_DATASET;
    }
    if (S_ISDIR(sb.st_mode)) {
        char probe[4200];
        snprintf(probe, sizeof probe, "%s/observations.npy", path);
        if (access(probe, F_OK) == 0) return DATA_NPY;
        /* Minari: <dataset>/data/main_data.hdf5 (the directory minari.load_dataset uses), or
         * the data/ directory itself */
        const char *minari[2] = {"data/main_data.hdf5", "main_data.hdf5"};
        for (int i = 0; i < 2; i++) {
            snprintf(file, cap, "%s/%s", path, minari[i]);
            if (is_regular(file)) return DATA_MINARI;
        }
        file[0] = '\0';
        if (has_dqn_files(path)) return DATA_DQN;
        snprintf(why, why_cap,
                 "'%s' holds no dataset: expected a .npy dataset (" NPY_FILES
                 "), a DQN Replay directory ($store$_observation_ckpt.N.gz, ...) or a Minari "
                 "dataset (data/main_data.hdf5)",
                 path);
        return DATA_NOT_A_DATASET;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(why, why_cap, "'%s' is not a regular file or a directory", path);
        return DATA_NOT_A_DATASET;
    }
    unsigned char head[8] = {0};
    FILE *f = fopen(path, "rb");
    size_t got = f != NULL ? fread(head, 1, sizeof head, f) : 0;
    if (f != NULL) fclose(f);
    if (ends_with(path, ".npy") || (got >= 6 && memcmp(head, "\x93NUMPY", 6) == 0)) {
        snprintf(why, why_cap,
                 "'%s' is a single .npy file; --data takes the directory holding " NPY_FILES,
                 path);
        return DATA_NOT_A_DATASET;
    }
    if (ends_with(path, ".gz") || (got >= 2 && head[0] == 0x1f && head[1] == 0x8b)) {
        snprintf(why, why_cap,
                 "'%s' is a single gzip file; --data takes the DQN Replay directory holding "
                 "$store$_observation_ckpt.N.gz, $store$_action_ckpt.N.gz, ...",
                 path);
        return DATA_NOT_A_DATASET;
    }
    snprintf(file, cap, "%s", path);
    return strcmp(base_name(path), "main_data.hdf5") == 0 ? DATA_MINARI : DATA_HDF5;
}

/* ---- HDF5 in a child process ------------------------------------------------------------ */

/* Removes the files of the temporary .npy directory and the directory. */
static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d != NULL) {
        char p[4200];
        for (struct dirent *e; (e = readdir(d)) != NULL;) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            int n = snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            if (n > 0 && (size_t)n < sizeof p) unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* The child's exit status after a reported failure; any other nonzero status (a sanitizer's
 * abort, exit() inside libhdf5) means the reader did not get to report. */
enum { CHILD_REPORTED = 3 };

/* The child: read the HDF5 file with the library, write it as .npy files into tmp, report
 * failure as text on fd. Never returns. */
static void child(const char *file, data_kind kind, const dr3_replay_options *o,
                  const char *tmp, int fd) {
    dr3_replay *r = NULL;
    dr3_status st;
    char msg[1024] = "";
    if (kind == DATA_MINARI) {
        st = dr3_replay_open_minari(&r, file, o);
        snprintf(msg, sizeof msg, "%s", dr3_last_error());
    } else {
        /* D4RL first. An HDF5 file without D4RL's root 'observations' may be Minari's
         * main_data.hdf5 under another name: try that, and keep its message unless it has
         * no episodes either (then the D4RL message says what was missing). */
        st = dr3_replay_open_d4rl(&r, file, o);
        if (st != DR3_OK) {
            snprintf(msg, sizeof msg, "%s", dr3_last_error());
            if (strstr(msg, "'observations' is missing") != NULL) {
                dr3_status st2 = dr3_replay_open_minari(&r, file, o);
                if (st2 == DR3_OK || strstr(dr3_last_error(), "'episode_0'") == NULL) {
                    st = st2;
                    snprintf(msg, sizeof msg, "%s", dr3_last_error());
                }
            }
        }
    }
    if (st == DR3_OK) {
        st = dr3_replay_save_npy(r, tmp);
        if (st != DR3_OK && snprintf(msg, sizeof msg, "converting to .npy in %s: %s", tmp,
                                     dr3_last_error()) < 0)
            msg[0] = '\0';
    }
    if (st != DR3_OK) {
        char line[1200];
        int n = snprintf(line, sizeof line, "%s (%s)", dr3_status_str(st), msg);
        if (n > 0 && write(fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0)
            _exit(3);
    }
    _exit(st == DR3_OK ? 0 : CHILD_REPORTED);
}

static int open_hdf5(const char *cmd, const char *path, const char *file, data_kind kind,
                     const dr3_replay_options *o, dr3_replay **out) {
    const char *tmpdir = getenv("TMPDIR");
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/dr3-hdf5-XXXXXX",
             tmpdir != NULL && tmpdir[0] != '\0' ? tmpdir : "/tmp");
    if (mkdtemp(tmp) == NULL) {
        fprintf(stderr, "dr3 %s: cannot create a temporary directory in %s: %s\n", cmd,
                tmpdir != NULL ? tmpdir : "/tmp", strerror(errno));
        return CLI_FAIL;
    }
    int p[2];
    if (pipe(p) != 0) {
        fprintf(stderr, "dr3 %s: pipe: %s\n", cmd, strerror(errno));
        rmdir(tmp);
        return CLI_FAIL;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "dr3 %s: fork: %s\n", cmd, strerror(errno));
        close(p[0]);
        close(p[1]);
        rmdir(tmp);
        return CLI_FAIL;
    }
    if (pid == 0) {
        close(p[0]);
        child(file, kind, o, tmp, p[1]);
    }
    close(p[1]);
    char msg[1200];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(p[0], msg + len, sizeof msg - 1 - len);
        if (n > 0 && len + (size_t)n < sizeof msg - 1) {
            len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n > 0) len += (size_t)n;
        break;
    }
    msg[len] = '\0';
    close(p[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    int rc = CLI_OK;
    if (WIFSIGNALED(status)) {
        fprintf(stderr, "dr3 %s: '%s': malformed HDF5 file (libhdf5 crashed reading it: %s)\n",
                cmd, path, strsignal(WTERMSIG(status)));
        rc = CLI_FAIL;
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == CHILD_REPORTED && len > 0) {
        fprintf(stderr, "dr3 %s: opening the dataset: %s\n", cmd, msg);
        rc = CLI_FAIL;
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr,
                "dr3 %s: '%s': malformed HDF5 file (libhdf5 crashed reading it: the reader "
                "exited with status %d)\n",
                cmd, path, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        rc = CLI_FAIL;
    } else {
        dr3_status st = dr3_replay_open_npy(out, tmp, o);
        if (st != DR3_OK) rc = cli_fail(cmd, "opening the converted dataset", st);
    }
    /* the observation files stay mapped after their names are gone */
    remove_dir(tmp);
    return rc;
}

int data_open(const char *cmd, const char *path, unsigned suffix, const dr3_replay_options *o,
              dr3_replay **out) {
    *out = NULL;
    char file[4200], why[1200];
    data_kind k = data_detect(path, suffix, file, sizeof file, why, sizeof why);
    dr3_status st;
    switch (k) {
    case DATA_NOT_A_DATASET:
        fprintf(stderr, "dr3 %s: %s\n", cmd, why);
        return CLI_FAIL;
    case DATA_NPY:
        st = dr3_replay_open_npy(out, path, o);
        break;
    case DATA_DQN:
        st = dr3_replay_open_dqn(out, path, suffix, o);
        break;
    default:
        return open_hdf5(cmd, path, file, k, o, out);
    }
    if (st != DR3_OK) return cli_fail(cmd, "opening the dataset", st);
    return CLI_OK;
}
