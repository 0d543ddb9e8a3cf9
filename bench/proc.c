/*
 * proc.c - running other programs: the `weft` viewer and `lz4` for the json
 * figure, the `lttng` tools and the LTTng helper, and weft-bench itself in a
 * child mode when a figure needs a fresh process (recorder memory).
 *
 * wait4() gives the child's own peak RSS (ru_maxrss), which is what the json
 * figure's memory target is about; wall time runs from fork to reap.
 */
#define _GNU_SOURCE
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* In the child, between fork and exec: wire up stdout/stderr and exec. Only
 * async-signal-safe calls plus putenv (the child has one thread). */
static void child_exec(char *const argv[], char *const env[], const char *stdout_path, int pipe_w)
{
    int devnull = open("/dev/null", O_RDWR);
    int err_fd = pipe_w >= 0 ? pipe_w : devnull;
    int out_fd = err_fd;
    if (stdout_path) {
        out_fd = open(stdout_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out_fd < 0)
            _exit(126);
    }
    dup2(devnull, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    for (size_t i = 0; env && env[i]; i++)
        putenv(env[i]);
    execvp(argv[0], argv);
    _exit(127);
}

int bench_run(char *const argv[], char *const env[], const char *stdout_path, char *out,
              size_t cap, bench_child *res)
{
    res->status = -1;
    res->wall_s = 0;
    res->maxrss_kib = 0;
    if (out && cap)
        out[0] = 0;
    int pfd[2] = {-1, -1};
    if (out && pipe2(pfd, O_CLOEXEC) != 0)
        return -1;
    fflush(NULL); /* the child must not inherit and re-print our buffered output */
    uint64_t t0 = bench_now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        if (out)
            close(pfd[0]), close(pfd[1]);
        return -1;
    }
    if (pid == 0)
        child_exec(argv, env, stdout_path, pfd[1]);
    size_t len = 0;
    if (out) {
        close(pfd[1]);
        char sink[4096];
        for (;;) {
            /* Read everything so the child never blocks on a full pipe; keep
             * what fits. */
            char *dst = len + 1 < cap ? out + len : sink;
            size_t room = len + 1 < cap ? cap - 1 - len : sizeof sink;
            ssize_t n = read(pfd[0], dst, room);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            if (dst != sink)
                len += (size_t)n;
        }
        close(pfd[0]);
        out[len] = 0;
    }
    int status;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR)
            return -1;
    res->wall_s = (double)(bench_now_ns() - t0) / 1e9;
    res->status = status;
    res->maxrss_kib = ru.ru_maxrss;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

const char *bench_child_status(const bench_child *res, char *buf, size_t cap)
{
    if (res->status == -1)
        snprintf(buf, cap, "could not start");
    else if (WIFEXITED(res->status) && WEXITSTATUS(res->status) == 127)
        snprintf(buf, cap, "exit 127 (program not found)");
    else if (WIFEXITED(res->status))
        snprintf(buf, cap, "exit %d", WEXITSTATUS(res->status));
    else if (WIFSIGNALED(res->status))
        snprintf(buf, cap, "signal %d", WTERMSIG(res->status));
    else
        snprintf(buf, cap, "status 0x%x", res->status);
    return buf;
}

const char *bench_self_exe(void)
{
    static char exe[PATH_MAX];
    if (!exe[0]) {
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0)
            n = 0;
        exe[n] = 0;
    }
    return exe;
}

const char *bench_self_dir(void)
{
    static char dir[PATH_MAX];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s", bench_self_exe());
        char *slash = strrchr(dir, '/');
        if (slash && slash != dir)
            *slash = 0;
        else
            snprintf(dir, sizeof dir, ".");
    }
    return dir;
}

int bench_is_executable(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}
