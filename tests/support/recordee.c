/*
 * recordee.c - the programs the session and thread tests run as children.
 *
 * Running each scenario in its own process lets a test kill it, set its
 * environment, watch it exit - and, in the ThreadSanitizer build, run it
 * instrumented while the Criterion runner (which cannot start under TSan,
 * Criterion issue #274) checks its trace and exit status from outside.
 *
 *   recordee env                 relies on WEFT_OUT/WEFT_SECONDS, logs 400 ms
 *   recordee exit PATH           records, returns from main() without weft_stop()
 *   recordee kill PATH           records for 300 ms, then dies by SIGKILL
 *   recordee concurrent PATH     8 threads x 20000 region+counter, no drops
 *   recordee flood PATH          2 threads x 2 M regions into 2 chunks: drops
 *   recordee exits PATH          50 short-lived threads, one log each
 *   recordee racestop PATH PATH2 stop and restart while 3 threads record
 *   recordee fork PATH           fork while recording; the child must not record
 *
 * Exit status 0 means the scenario ran as planned; the caller checks the trace.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"

static int start(const char *path, size_t buffer_bytes)
{
    weft_config cfg = {0};
    cfg.path = path;
    cfg.buffer_bytes = buffer_bytes;
    int rc = weft_start(&cfg);
    if (rc)
        fprintf(stderr, "recordee: weft_start(%s): %s\n", path, weft_strerror(rc));
    return rc;
}

static int stop(void)
{
    int rc = weft_stop();
    if (rc)
        fprintf(stderr, "recordee: weft_stop: %s\n", weft_strerror(rc));
    return rc ? 1 : 0;
}

static void log_for(int ms)
{
    struct timespec step = {0, 1000000};
    for (int i = 0; i < ms; i++) {
        weft_logf(0, "tick", "%d", i);
        nanosleep(&step, NULL);
    }
}

static void run_threads(int n, void *(*fn)(void *))
{
    pthread_t th[16];
    for (intptr_t i = 0; i < n; i++)
        pthread_create(&th[i], NULL, fn, (void *)i);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
}

/* ---- concurrent --------------------------------------------------------- */

static void *busy(void *arg)
{
    char name[16];
    snprintf(name, sizeof name, "busy-%d", (int)(intptr_t)arg);
    weft_thread_name(name);
    for (int i = 0; i < 20000; i++) {
        weft_region r = weft_region_begin(0, "unit");
        weft_counter("i", i);
        weft_region_end(r);
    }
    return NULL;
}

/* ---- flood ----------------------------------------------------------------- */

static atomic_int go;

static void *flood(void *arg)
{
    while (!atomic_load(&go))
        ;
    for (int i = 0; i < 2000000; i++) {
        weft_region r = weft_region_begin(0, "flood");
        weft_region_end(r);
    }
    return arg;
}

/* ---- exits, racestop ----------------------------------------------------------- */

static void *short_lived(void *arg)
{
    weft_log(0, "short", "hello");
    return arg;
}

static atomic_int running = 1;

static void *until_stopped(void *arg)
{
    while (atomic_load(&running)) {
        weft_region r = weft_region_begin(0, "spin");
        weft_region_end(r);
    }
    return arg;
}

static int racestop(const char *path, const char *path2)
{
    if (start(path, 0))
        return 3;
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, until_stopped, NULL);
    usleep(50000);
    int rc = stop();
    /* The threads keep calling in while stopped: no-ops. Then a new recording. */
    if (start(path2, 0))
        return 3;
    usleep(20000);
    atomic_store(&running, 0);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    return rc | stop();
}

/* ---- fork ---------------------------------------------------------------------- */

static int forked(const char *path)
{
    if (start(path, 0))
        return 3;
    weft_log(0, "who", "parent-before");
    pid_t pid = fork();
    if (pid == 0) {
        weft_log(0, "who", "child");
        _exit(weft_enabled() ? 4 : 0);
    }
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "recordee: the forked child was still recording\n");
        return 4;
    }
    weft_log(0, "who", "parent-after");
    return stop();
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    const char *path = argc > 2 ? argv[2] : NULL;
    if (strcmp(mode, "env") == 0) {
        log_for(400);
        printf("enabled-at-end=%d\n", weft_enabled());
        return 7; /* a distinctive status for the caller to check */
    }
    if (!path)
        return 2;
    if (strcmp(mode, "racestop") == 0)
        return argc > 3 ? racestop(path, argv[3]) : 2;
    if (strcmp(mode, "fork") == 0)
        return forked(path);
    size_t buffer = strcmp(mode, "concurrent") == 0 ? 8u << 20 : strcmp(mode, "flood") == 0 ? 1 : 0;
    if (start(path, buffer))
        return 3;
    if (strcmp(mode, "exit") == 0) {
        log_for(20);
        return 0;
    } else if (strcmp(mode, "kill") == 0) {
        log_for(300);
        raise(SIGKILL);
    } else if (strcmp(mode, "concurrent") == 0) {
        run_threads(8, busy);
    } else if (strcmp(mode, "flood") == 0) {
        pthread_t th[2];
        for (int i = 0; i < 2; i++)
            pthread_create(&th[i], NULL, flood, NULL);
        atomic_store(&go, 1);
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
    } else if (strcmp(mode, "exits") == 0) {
        for (int round = 0; round < 50; round++)
            run_threads(1, short_lived);
    } else {
        fprintf(stderr, "recordee: unknown mode '%s'\n", mode);
        return 2;
    }
    return stop();
}
