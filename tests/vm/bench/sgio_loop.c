/* The baseline for prfence's batch fence: a plain sequential SG_IO loop, one device after the
 * other, each getting the same three commands as `prfence fence` (READ KEYS, PREEMPT AND ABORT,
 * READ RESERVATION), one ioctl(SG_IO) at a time. A command answered with UNIT ATTENTION is sent
 * again (at most 3 times), as prfence does. No INQUIRY, no device grouping, no verification beyond
 * the SCSI status.
 *
 *   sgio_loop --key K --victim V [--type T] DEVICE...     (K, V in hex like sg_persist; T default
 * 3)
 *
 * Prints one line per device (status of each command) unless -q, then
 *   sgio_loop: N devices, N ok, N failed in W ms (3N commands, R unit attentions re-sent)
 * Exit status: 0 when every command of every device was GOOD, 1 otherwise, 2 for a usage error.
 * Built on the host by tests/vm/bench (gcc -O2 -static); used by tests/vm/suite/engine_bench.sh. */
#include <errno.h>
#include <fcntl.h>
#include <scsi/sg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static int ua_resent;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* One command; returns the SCSI status (0 GOOD), 0x100 + sense key for CHECK CONDITION, -1 for an
 * ioctl or transport failure. */
static int sgio(int fd, unsigned char* cdb, int cdb_len, int dir, void* buf, unsigned len) {
    for (int attempt = 0; attempt < 4; attempt++) {
        unsigned char sense[64] = {0};
        struct sg_io_hdr h;
        memset(&h, 0, sizeof h);
        h.interface_id = 'S';
        h.cmdp = cdb;
        h.cmd_len = (unsigned char)cdb_len;
        h.dxfer_direction = dir;
        h.dxferp = buf;
        h.dxfer_len = len;
        h.sbp = sense;
        h.mx_sb_len = sizeof sense;
        h.timeout = 60000;
        if (ioctl(fd, SG_IO, &h) < 0) return -1;
        if (h.host_status || (h.driver_status & 0x0f & ~0x08)) return -1;
        if (h.status == 0) return 0;
        if (h.status == 2) { /* CHECK CONDITION */
            int key = (sense[0] & 0x7f) >= 0x72 ? sense[1] & 0x0f : sense[2] & 0x0f;
            if (key == 6 && attempt < 3) {
                ua_resent++;
                continue;
            }
            return 0x100 + key;
        }
        return h.status;
    }
    return -1;
}

static int pr_in(int fd, int sa, unsigned char* buf, unsigned len) {
    unsigned char cdb[10] = {
        0x5e, (unsigned char)sa, 0, 0, 0, 0, 0, (unsigned char)(len >> 8), (unsigned char)len, 0};
    return sgio(fd, cdb, sizeof cdb, SG_DXFER_FROM_DEV, buf, len);
}

static void put_be64(unsigned char* p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (unsigned char)v;
}

static int preempt_abort(int fd, uint64_t key, uint64_t victim, int type) {
    unsigned char par[24] = {0};
    put_be64(par, key);
    put_be64(par + 8, victim);
    unsigned char cdb[10] = {0x5f,       0x05, (unsigned char)(type & 0x0f), 0, 0, 0, 0, 0,
                             sizeof par, 0};
    return sgio(fd, cdb, sizeof cdb, SG_DXFER_TO_DEV, par, sizeof par);
}

static void usage(int rc) {
    fprintf(rc ? stderr : stdout,
            "usage: sgio_loop [-q] --key K --victim V [--type T] DEVICE...\n");
    exit(rc);
}

int main(int argc, char** argv) {
    uint64_t key = 0, victim = 0;
    int type = 3, quiet = 0, i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            usage(0);
        else if (!strcmp(argv[i], "-q"))
            quiet = 1;
        else if (!strcmp(argv[i], "--key") && i + 1 < argc)
            key = strtoull(argv[++i], NULL, 16);
        else if (!strcmp(argv[i], "--victim") && i + 1 < argc)
            victim = strtoull(argv[++i], NULL, 16);
        else if (!strcmp(argv[i], "--type") && i + 1 < argc)
            type = atoi(argv[++i]);
        else
            usage(2);
    }
    if (i >= argc || !key || !victim) usage(2);
    int ndev = argc - i, ok = 0;
    static unsigned char buf[8192];
    double t0 = now_ms();
    for (; i < argc; i++) {
        int fd = open(argv[i], O_RDWR | O_NONBLOCK);
        if (fd < 0) {
            printf("%s: %s\n", argv[i], strerror(errno));
            continue;
        }
        int rk = pr_in(fd, 0, buf, sizeof buf);
        int pa = preempt_abort(fd, key, victim, type);
        int rr = pr_in(fd, 1, buf, sizeof buf);
        close(fd);
        int good = rk == 0 && pa == 0 && rr == 0;
        ok += good;
        if (!quiet || !good)
            printf("%s: READ KEYS 0x%x, PREEMPT AND ABORT 0x%x, READ RESERVATION 0x%x%s\n", argv[i],
                   rk, pa, rr, good ? "" : " FAILED");
    }
    double wall = now_ms() - t0;
    printf(
        "sgio_loop: %d devices, %d ok, %d failed in %.1f ms (%d commands, %d unit attentions "
        "re-sent)\n",
        ndev, ok, ndev - ok, wall, 3 * ndev, ua_resent);
    return ok == ndev ? 0 : 1;
}
