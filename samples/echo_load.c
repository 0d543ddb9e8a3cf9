/*
 * echo_load.c - load generator for samples/echo_server.c.
 *
 * Opens N connections to 127.0.0.1:PORT and on each sends a message of S
 * bytes, waits for all of it to come back, checks it byte for byte and sends
 * the next: M round trips per connection (or as many as fit in -d SECONDS).
 * N connections keep N requests in flight, so the server sees concurrent
 * load while every latency stays a real round trip. It prints the requests
 * per second over the whole run and the p50/p90/p99/max round-trip latency.
 *
 * It links no weft: it is the measuring side of bench/echo_bench.c, which
 * compares the server's throughput recorded and not recorded, and must not
 * cost either run anything.
 *
 * Usage: echo_load -p PORT [-c CONNECTIONS] [-m MESSAGES | -d SECONDS] [-z SIZE]
 *   defaults: 16 connections, 2000 messages each, 64 bytes.
 * Exit status 1 if a connection fails or an echo differs from what was sent.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

typedef struct client {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    char *msg;        /* this connection's message, distinct per connection */
    size_t got;       /* bytes of the current echo received so far */
    uint64_t sent_at; /* uv_hrtime() of the current request */
    long done;        /* round trips completed */
    char rbuf[65536];
} client;

static uv_loop_t *loop;
static client *clients;
static int nconns = 16;
static long msgs = 2000;
static size_t size = 64;
static uint64_t end_at; /* uv_hrtime() deadline with -d, else 0 */
static int failed;
static uint64_t *lat; /* round-trip latencies in ns, every request */
static size_t nlat, lat_cap;

static void fail(client *c, const char *what, int err)
{
    if (!failed)
        fprintf(stderr, "echo_load: connection %ld: %s: %s\n", (long)(c - clients), what,
                err ? uv_strerror(err) : "mismatch");
    failed = 1;
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, NULL);
}

static void on_written(uv_write_t *w, int status)
{
    if (status < 0)
        fail(w->data, "write", status);
}

static void send_request(client *c)
{
    c->got = 0;
    c->sent_at = uv_hrtime();
    uv_buf_t b = uv_buf_init(c->msg, (unsigned)size);
    /* Most messages fit in the socket buffer at once; queue only the rest. */
    int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (n == (int)size)
        return;
    if (n < 0 && n != UV_EAGAIN) {
        fail(c, "write", n);
        return;
    }
    if (n > 0)
        b = uv_buf_init(c->msg + n, (unsigned)(size - (size_t)n));
    c->write.data = c;
    int rc = uv_write(&c->write, (uv_stream_t *)&c->tcp, &b, 1, on_written);
    if (rc)
        fail(c, "write", rc);
}

static void record_latency(uint64_t ns)
{
    if (nlat == lat_cap) {
        lat_cap = lat_cap ? lat_cap * 2 : 65536;
        uint64_t *l = realloc(lat, lat_cap * sizeof *l);
        if (!l) {
            fprintf(stderr, "echo_load: out of memory for latencies\n");
            exit(1);
        }
        lat = l;
    }
    lat[nlat++] = ns;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    client *c = h->data;
    *buf = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    client *c = s->data;
    if (nread == 0)
        return;
    if (nread < 0) {
        fail(c, "read", (int)nread);
        return;
    }
    /* The server may only echo: more than one message's worth, or different
     * bytes, is a bug in it. */
    if (c->got + (size_t)nread > size || memcmp(buf->base, c->msg + c->got, (size_t)nread) != 0) {
        fail(c, "echo", 0);
        return;
    }
    c->got += (size_t)nread;
    if (c->got < size)
        return;
    uint64_t now = uv_hrtime();
    record_latency(now - c->sent_at);
    c->done++;
    if (end_at ? now < end_at : c->done < msgs)
        send_request(c);
    else
        uv_close((uv_handle_t *)&c->tcp, NULL);
}

static void on_connect(uv_connect_t *req, int status)
{
    client *c = req->data;
    if (status < 0) {
        fail(c, "connect", status);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    send_request(c);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of the sorted latencies, in milliseconds. */
static double pct(double p)
{
    size_t i = (size_t)(p / 100 * (double)nlat);
    if (i >= nlat)
        i = nlat - 1;
    return (double)lat[i] / 1e6;
}

int main(int argc, char **argv)
{
    int port = 0;
    double seconds = 0;
    int opt;
    while ((opt = getopt(argc, argv, "p:c:m:d:z:h")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'c': nconns = atoi(optarg); break;
        case 'm': msgs = atol(optarg); break;
        case 'd': seconds = atof(optarg); break;
        case 'z': size = (size_t)atol(optarg); break;
        default:
            fprintf(stderr, "usage: %s -p PORT [-c CONNECTIONS] [-m MESSAGES | -d SECONDS] [-z SIZE]\n",
                    argv[0]);
            return opt == 'h' ? 0 : 2;
        }
    }
    if (port <= 0 || port > 65535 || nconns < 1 || msgs < 1 || seconds < 0 || size < 1 ||
        size > 1u << 20) {
        fprintf(stderr, "echo_load: need -p PORT, and positive connections, messages and size "
                        "(size at most 1 MiB)\n");
        return 2;
    }
    loop = uv_default_loop();
    clients = calloc((size_t)nconns, sizeof *clients);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", port, &addr);
    uint64_t t0 = uv_hrtime();
    if (seconds > 0)
        end_at = t0 + (uint64_t)(seconds * 1e9);
    for (int i = 0; i < nconns; i++) {
        client *c = &clients[i];
        c->msg = malloc(size);
        for (size_t j = 0; j < size; j++)
            c->msg[j] = (char)('a' + (i * 7 + j) % 26);
        uv_tcp_init(loop, &c->tcp);
        c->tcp.data = c;
        c->connect.data = c;
        int rc = uv_tcp_connect(&c->connect, &c->tcp, (const struct sockaddr *)&addr, on_connect);
        if (rc)
            fail(c, "connect", rc);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    double wall = (double)(uv_hrtime() - t0) / 1e9;
    uv_loop_close(loop);
    if (failed || nlat == 0) {
        if (!failed)
            fprintf(stderr, "echo_load: no request completed\n");
        return 1;
    }
    qsort(lat, nlat, sizeof *lat, cmp_u64);
    printf("echo_load: %d connections x %zu-byte messages: %zu requests in %.3f s = %.0f requests/s; "
           "latency p50 %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms\n",
           nconns, size, nlat, wall, (double)nlat / wall, pct(50), pct(90), pct(99),
           (double)lat[nlat - 1] / 1e6);
    for (int i = 0; i < nconns; i++)
        free(clients[i].msg);
    free(clients);
    free(lat);
    return 0;
}
