/* A fixed one-way delay for the packets iptables hands to an NFQUEUE, for bench/link.sh's
 * satellite-like link between two network namespaces. This machine's kernel has no netem
 * (CONFIG_NET_SCH_NETEM unset), so rate is left to `tc tbf`, loss to iptables `statistic`, and
 * the delay is this program: every packet queued to QUEUE is held DELAY_MS milliseconds and
 * then accepted, in arrival order (a constant delay keeps them FIFO). From
 * shared/tools/badlink/nfqdelay.c, where the recipe it belongs to is measured.
 *
 * build (bench/link.sh does it): cc -O2 -o nfqdelay nfqdelay.c -lnetfilter_queue -lnfnetlink
 * run:   ip netns exec NS ./nfqdelay QUEUE DELAY_MS   (SIGTERM: accepts what it holds, exits) */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define RING 65536u /* packets that may be held at once; past that they pass undelayed */

static uint32_t ids[RING];
static uint64_t due[RING];
static unsigned head, tail; /* ring: [head, tail) are waiting */
static uint64_t delay_ns;
static unsigned long held, overflow;
static volatile sig_atomic_t stop;

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *m, struct nfq_data *nfa, void *data)
{
    struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
    uint32_t id;

    (void)m;
    (void)data;
    if (!ph)
        return 0;
    id = ntohl(ph->packet_id);
    if (tail - head >= RING) { /* ring full: pass it at once */
        overflow++;
        return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
    }
    ids[tail % RING] = id;
    due[tail % RING] = now_ns() + delay_ns;
    tail++;
    held++;
    return 0; /* the verdict is given when it is due */
}

static void on_signal(int s)
{
    (void)s;
    stop = 1;
}

int main(int argc, char **argv)
{
    struct nfq_handle *h;
    struct nfq_q_handle *qh;
    unsigned qnum;
    char buf[65536];
    int fd;

    if (argc != 3) {
        fprintf(stderr, "usage: %s QUEUE DELAY_MS\n", argv[0]);
        return 2;
    }
    qnum = (unsigned)atoi(argv[1]);
    delay_ns = (uint64_t)atoll(argv[2]) * 1000000ull;
    h = nfq_open();
    if (!h) {
        perror("nfqdelay: nfq_open");
        return 1;
    }
    qh = nfq_create_queue(h, qnum, on_packet, NULL);
    if (!qh) {
        perror("nfqdelay: nfq_create_queue");
        return 1;
    }
    if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) {
        perror("nfqdelay: nfq_set_mode");
        return 1;
    }
    nfq_set_queue_maxlen(qh, RING);
    fd = nfq_fd(h);
    nfnl_rcvbufsiz(nfq_nfnlh(h), 8 * 1024 * 1024);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    fprintf(stderr, "nfqdelay: queue %u, delay %llu ms\n", qnum,
            (unsigned long long)(delay_ns / 1000000ull));
    while (!stop) {
        uint64_t t = now_ns();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        int timeout = -1, r;

        while (head != tail && due[head % RING] <= t) { /* release everything that is due */
            nfq_set_verdict(qh, ids[head % RING], NF_ACCEPT, 0, NULL);
            head++;
        }
        if (head != tail)
            timeout = (int)((due[head % RING] - t) / 1000000ull) + 1;
        r = poll(&p, 1, timeout);
        if (r < 0 && errno != EINTR) {
            perror("nfqdelay: poll");
            break;
        }
        if (r > 0) {
            ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);

            if (n > 0)
                nfq_handle_packet(h, buf, (int)n);
            else if (n < 0 && errno == ENOBUFS)
                fprintf(stderr, "nfqdelay: ENOBUFS (netlink overrun)\n");
        }
    }
    while (head != tail) { /* accept whatever is still held, then leave */
        nfq_set_verdict(qh, ids[head % RING], NF_ACCEPT, 0, NULL);
        head++;
    }
    fprintf(stderr, "nfqdelay: held %lu packets, %lu passed undelayed\n", held, overflow);
    nfq_destroy_queue(qh);
    nfq_close(h);
    return 0;
}
