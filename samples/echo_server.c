/*
 * echo_server.c - a libuv TCP echo server on 127.0.0.1, recorded with
 * weft_uv_instrument(): each loop iteration's time blocked in epoll (Go's
 * "network wait"), the I/O callbacks that followed and the timers/prepare
 * part, beside a "connection" task per client (its bytes logged when it
 * closes) and a "connections" counter. There is deliberately no region per
 * message: at ~100k messages/s that would be the largest part of the
 * recording's cost, and the loop phases already show where the time goes.
 *
 * Load it with samples/echo_load.c (N connections, M messages of S bytes
 * each, requests/s and latency percentiles). bench/echo_bench.c runs the two
 * to measure the cost of recording everything on a real server.
 *
 * The server reads into one buffer per connection and answers with
 * uv_try_write(), queueing a copy with uv_write() only for what the socket
 * does not take at once: the usual shape of a fast libuv server, with no
 * allocation per message on the common path. A connection whose peer stops
 * reading is paused once 1 MiB of echo is queued for it, so a slow client
 * cannot make the server buffer without bound.
 *
 * Usage: echo_server [-o FILE | -N] [-p PORT] [-s SECONDS] [--once]
 *   -o FILE     trace file (default echo_server.weft)
 *   -N          do not record (the uninstrumented baseline of the benchmark)
 *   -p PORT     port on 127.0.0.1 (default 7000; 0 picks a free one); the
 *               server prints "echo_server: listening on 127.0.0.1:PORT"
 *   -s SECONDS  stop after SECONDS (default 5; 0: only on SIGINT/SIGTERM)
 *   --once      stop when the last client disconnects (after at least one)
 * Record and view:
 *   build/samples/echo_server -p 7000 --once -o echo.weft &
 *   build/samples/echo_load -p 7000 -c 16 -m 5000; wait
 *   build/viewer/weft stats echo.weft
 * Under `weft record -o FILE -- echo_server ...` the preload library also
 * records the server's reads, writes, epoll waits, allocations and context
 * switches; the program then records into that file and ignores -o.
 */
#include "sample.h"

#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <uv.h>

#define READ_BUF 65536
#define MAX_QUEUED (1u << 20) /* bytes of echo queued before reading pauses */

typedef struct conn {
    uv_tcp_t tcp;
    weft_task task;  /* the "connection" task, accept to close */
    uint64_t bytes;  /* echoed on this connection */
    int paused;      /* reading stopped until the queued echo drains */
    char buf[READ_BUF];
} conn;

typedef struct pending_write {
    uv_write_t req;
    char data[];
} pending_write;

static uv_loop_t *loop;
static uv_tcp_t server;
static uv_timer_t stop_timer;
static uv_signal_t sigint, sigterm;
static int once;
static int stopping;
static long live, accepted;
static uint64_t echoed_bytes, reads;

static void stop(void);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn *c = h->data;
    *buf = uv_buf_init(c->buf, sizeof c->buf);
}

static void on_conn_closed(uv_handle_t *h)
{
    conn *c = h->data;
    weft_logf(c->task, "closed", "%llu bytes echoed", (unsigned long long)c->bytes);
    weft_task_end(c->task);
    free(c);
    weft_counter("connections", --live);
    if (once && live == 0)
        stop();
}

static void on_written(uv_write_t *req, int status)
{
    uv_stream_t *s = req->handle;
    free(req->data);
    if (status < 0) {
        if (!uv_is_closing((uv_handle_t *)s))
            uv_close((uv_handle_t *)s, on_conn_closed);
        return;
    }
    /* Reading was paused by the queue limit: resume once half of it drained. */
    conn *c = s->data;
    if (c->paused && s->write_queue_size <= MAX_QUEUED / 2 && !uv_is_closing((uv_handle_t *)s)) {
        c->paused = 0;
        uv_read_start(s, on_alloc, on_read);
    }
}

/* Sends back what the socket takes now and queues a copy of the rest. */
static int echo(uv_stream_t *s, const char *data, size_t n)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)n);
    int sent = uv_try_write(s, &b, 1);
    if (sent == (int)n)
        return 0;
    if (sent < 0 && sent != UV_EAGAIN)
        return sent;
    size_t off = sent > 0 ? (size_t)sent : 0;
    pending_write *w = malloc(sizeof *w + (n - off));
    if (!w)
        return UV_ENOMEM;
    memcpy(w->data, data + off, n - off);
    w->req.data = w;
    b = uv_buf_init(w->data, (unsigned)(n - off));
    int rc = uv_write(&w->req, s, &b, 1, on_written);
    if (rc) {
        free(w);
        return rc;
    }
    if (s->write_queue_size > MAX_QUEUED) {
        ((conn *)s->data)->paused = 1;
        uv_read_stop(s);
    }
    return 0;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    if (nread == 0)
        return; /* EAGAIN: libuv read nothing this time */
    if (nread < 0) {
        if (!uv_is_closing((uv_handle_t *)s))
            uv_close((uv_handle_t *)s, on_conn_closed);
        return;
    }
    int rc = echo(s, buf->base, (size_t)nread);
    reads++;
    echoed_bytes += (uint64_t)nread;
    ((conn *)s->data)->bytes += (uint64_t)nread;
    if (rc && !uv_is_closing((uv_handle_t *)s))
        uv_close((uv_handle_t *)s, on_conn_closed);
}

static void on_connection(uv_stream_t *srv, int status)
{
    if (status < 0)
        return;
    conn *c = malloc(sizeof *c);
    if (!c)
        return;
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    c->task = 0, c->bytes = 0, c->paused = 0;
    if (uv_accept(srv, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        live++; /* balanced by the close callback */
        return;
    }
    live++, accepted++;
    c->task = weft_task_begin(0, "connection");
    weft_counter("connections", live);
    /* Requests are small and answered at once: do not let Nagle hold them. */
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

/* Closes the server's own handles. The prepare and check handles that
 * weft_uv_instrument() added belong to weft and are left alone; they are
 * unreferenced, so they do not keep uv_run() going. */
static void close_handle(uv_handle_t *h, void *arg)
{
    if (uv_is_closing(h))
        return;
    if (h == (uv_handle_t *)&server || h == (uv_handle_t *)&stop_timer ||
        h == (uv_handle_t *)&sigint || h == (uv_handle_t *)&sigterm)
        uv_close(h, NULL);
    else if (h->type == UV_TCP) /* a client connection */
        uv_close(h, on_conn_closed);
}

/* Closes every handle of ours, so uv_run() returns once their callbacks ran. */
static void stop(void)
{
    if (stopping)
        return;
    stopping = 1;
    uv_walk(loop, close_handle, NULL);
}

static void on_stop_timer(uv_timer_t *t) { stop(); }
static void on_signal(uv_signal_t *s, int signum) { stop(); }

int main(int argc, char **argv)
{
    const char *out = "echo_server.weft";
    int port = 7000, record = 1;
    double seconds = 5;
    static const struct option longopts[] = {
        {"once", no_argument, NULL, 'O'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "o:Np:s:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o': out = optarg; break;
        case 'N': record = 0; break;
        case 'p': port = atoi(optarg); break;
        case 's': seconds = atof(optarg); break;
        case 'O': once = 1; break;
        default:
            fprintf(stderr, "usage: %s [-o FILE | -N] [-p PORT] [-s SECONDS] [--once]\n", argv[0]);
            return opt == 'h' ? 0 : 2;
        }
    }
    if (port < 0 || port > 65535 || seconds < 0) {
        fprintf(stderr, "echo_server: bad port or seconds\n");
        return 2;
    }
    /* A client that disconnects while we write must not kill the server. */
    signal(SIGPIPE, SIG_IGN);

    if (record) {
        out = sample_start("echo_server", out);
    }
    weft_thread_name("echo-loop");

    loop = uv_default_loop();
    /* The baseline (-N) runs the same loop with no weft handles at all. */
    if (weft_enabled()) {
        int rc = weft_uv_instrument(loop);
        if (rc) {
            fprintf(stderr, "echo_server: weft_uv_instrument: %s\n", uv_strerror(rc));
            return 1;
        }
    }
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    uv_tcp_init(loop, &server);
    int rc = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0);
    if (!rc)
        rc = uv_listen((uv_stream_t *)&server, 511, on_connection);
    if (rc) {
        fprintf(stderr, "echo_server: cannot listen on 127.0.0.1:%d: %s\n", port, uv_strerror(rc));
        return 1;
    }
    struct sockaddr_storage bound;
    int len = sizeof bound;
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len);
    port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    /* Scripts and the benchmark read this line to find an ephemeral port. */
    printf("echo_server: listening on 127.0.0.1:%d\n", port);
    fflush(stdout);

    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_timer_init(loop, &stop_timer);
    if (seconds > 0)
        uv_timer_start(&stop_timer, on_stop_timer, (uint64_t)(seconds * 1000), 0);
    weft_logf(0, "server", "listening on 127.0.0.1:%d", port);

    uv_run(loop, UV_RUN_DEFAULT);
    /* Not uv_loop_close(): weft's handles stay open until the process exits. */

    weft_logf(0, "server", "%ld connections, %llu bytes echoed", accepted,
              (unsigned long long)echoed_bytes);
    if (record)
        sample_stop("echo_server");
    printf("echo_server: %ld connections, %llu reads, %llu bytes echoed, trace in %s\n", accepted,
           (unsigned long long)reads, (unsigned long long)echoed_bytes,
           record ? out : "(none)");
    /* The process's CPU time, every thread (weft's writer and sampler too):
     * bench/echo_bench divides it by the requests served. */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("echo_server: cpu %.6f s\n", (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                                            (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
    return 0;
}
