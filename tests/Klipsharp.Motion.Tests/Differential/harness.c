// Differential test driver for upstream Klipper's chelper motion code.
// Reads a scenario script on stdin and prints what the C code produces, in the
// same text format as ScenarioRunner.cs. Build and use: see README.md here.
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "itersolve.h"
#include "list.h"
#include "msgblock.h"
#include "pyhelper.h"
#include "serialqueue.h"
#include "stepcompress.h"
#include "steppersync.h"
#include "trapq.h"

// ---- stand-ins for msgblock.c / serialqueue.c: keep raw words, print batches

struct queue_message *
message_alloc_and_encode(uint32_t *data, int len)
{
    struct queue_message *qm = calloc(1, sizeof(*qm));
    memcpy(qm->msg, data, len * sizeof(uint32_t));
    qm->len = len;
    return qm;
}

void
message_free(struct queue_message *qm)
{
    free(qm);
}

void
message_queue_free(struct list_head *root)
{
    while (!list_empty(root)) {
        struct queue_message *qm = list_first_entry(
            root, struct queue_message, node);
        list_del(&qm->node);
        message_free(qm);
    }
}

uint64_t
clock_from_time(struct clock_estimate *ce, double time)
{
    return (int64_t)((time - ce->conv_time)*ce->est_freq + .5) + ce->conv_clock;
}

void
clock_fill(struct clock_estimate *ce, double est_freq, double conv_time
           , uint64_t conv_clock)
{
    ce->est_freq = est_freq;
    ce->conv_time = conv_time;
    ce->conv_clock = conv_clock;
}

struct command_queue *
serialqueue_alloc_commandqueue(void)
{
    return calloc(1, 16);
}

void
serialqueue_free_commandqueue(struct command_queue *cq)
{
    free(cq);
}

void
serialqueue_send_batch(struct serialqueue *sq, struct command_queue *cq
                       , struct list_head *msgs)
{
    printf("batch %d\n", (int)(intptr_t)sq - 1);
    while (!list_empty(msgs)) {
        struct queue_message *qm = list_first_entry(
            msgs, struct queue_message, node);
        list_del(&qm->node);
        printf("m %" PRIu64 " %" PRIu64, qm->min_clock, qm->req_clock);
        uint32_t *w = (uint32_t*)qm->msg;
        int i;
        for (i=0; i<qm->len; i++)
            printf(" %u", w[i]);
        printf("\n");
        free(qm);
    }
}

// ---- kinematics allocators (from kin_*.c)
struct stepper_kinematics *cartesian_stepper_alloc(char axis);
struct stepper_kinematics *corexy_stepper_alloc(char type);
struct stepper_kinematics *corexz_stepper_alloc(char type);
struct stepper_kinematics *extruder_stepper_alloc(void);
void extruder_set_pressure_advance(struct stepper_kinematics *sk
    , double print_time, double pressure_advance, double smooth_time);

#define MAXOBJ 64
static struct trapq *tqs[MAXOBJ];
static struct steppersync *sss[MAXOBJ];
static struct syncemitter *ses[MAXOBJ];
static struct stepper_kinematics *sks[MAXOBJ];
static struct steppersyncmgr *ssm;

// Errors are collected (from the step generation threads) and printed sorted
// before the "gen" line, so the output does not depend on thread timing.
#define MAXERR 64
static char *errs[MAXERR];
static int nerr;
static pthread_mutex_t err_lock = PTHREAD_MUTEX_INITIALIZER;

static void
log_cb(const char *msg)
{
    pthread_mutex_lock(&err_lock);
    if (nerr < MAXERR)
        errs[nerr++] = strdup(msg);
    pthread_mutex_unlock(&err_lock);
}

static int
cmpstr(const void *a, const void *b)
{
    return strcmp(*(char**)a, *(char**)b);
}

// Klippy shuts down on a step compression error and upstream's state after one
// is not well defined (later calls may even overrun the step queue), so a
// scenario ends at its first error.
static void
print_errors(void)
{
    pthread_mutex_lock(&err_lock);
    qsort(errs, nerr, sizeof(errs[0]), cmpstr);
    int i;
    for (i=0; i<nerr; i++) {
        printf("error %s\n", errs[i]);
        free(errs[i]);
    }
    int had_errors = nerr;
    nerr = 0;
    pthread_mutex_unlock(&err_lock);
    if (had_errors) {
        printf("halt\n");
        fflush(stdout);
        exit(0);
    }
}

static void
pd(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof(b));
    printf(" %016" PRIx64, b);
}

int
main(void)
{
    set_python_logging_callback(log_cb);
    ssm = steppersyncmgr_alloc();
    char line[4096];
    while (fgets(line, sizeof(line), stdin)) {
        char cmd[64];
        int n = 0;
        if (sscanf(line, "%63s%n", cmd, &n) != 1 || cmd[0] == '#')
            continue;
        char *a = line + n;
        if (!strcmp(cmd, "trapq")) {
            int t;
            sscanf(a, "%d", &t);
            tqs[t] = trapq_alloc();
        } else if (!strcmp(cmd, "append")) {
            int t;
            double v[13];
            sscanf(a, "%d %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf"
                   , &t, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]
                   , &v[7], &v[8], &v[9], &v[10], &v[11], &v[12]);
            trapq_append(tqs[t], v[0], v[1], v[2], v[3], v[4], v[5], v[6]
                         , v[7], v[8], v[9], v[10], v[11], v[12]);
        } else if (!strcmp(cmd, "finalize")) {
            int t;
            double pt, clear;
            sscanf(a, "%d %lf %lf", &t, &pt, &clear);
            trapq_finalize_moves(tqs[t], pt, clear);
        } else if (!strcmp(cmd, "tq_setpos")) {
            int t;
            double pt, x, y, z;
            sscanf(a, "%d %lf %lf %lf %lf", &t, &pt, &x, &y, &z);
            trapq_set_position(tqs[t], pt, x, y, z);
        } else if (!strcmp(cmd, "extract_tq")) {
            int t, max;
            double st, et;
            sscanf(a, "%d %d %lf %lf", &t, &max, &st, &et);
            struct pull_move p[256];
            int cnt = trapq_extract_old(tqs[t], p, max, st, et);
            printf("pull %d\n", cnt);
            int i;
            for (i=0; i<cnt; i++) {
                printf("pm");
                pd(p[i].print_time); pd(p[i].move_t); pd(p[i].start_v);
                pd(p[i].accel); pd(p[i].start_x); pd(p[i].start_y);
                pd(p[i].start_z); pd(p[i].x_r); pd(p[i].y_r); pd(p[i].z_r);
                printf("\n");
            }
        } else if (!strcmp(cmd, "mcu")) {
            int s, move_num;
            sscanf(a, "%d %d", &s, &move_num);
            sss[s] = steppersyncmgr_alloc_steppersync(ssm);
            steppersync_setup_movequeue(sss[s], (void*)(intptr_t)(s + 1)
                                        , move_num);
        } else if (!strcmp(cmd, "settime")) {
            int s;
            double offset, freq;
            sscanf(a, "%d %lf %lf", &s, &offset, &freq);
            steppersync_set_time(sss[s], offset, freq);
        } else if (!strcmp(cmd, "stepper")) {
            int id, s, invert, t;
            char kin[32], arg[8];
            unsigned oid, max_error;
            double step_dist;
            sscanf(a, "%d %d %31s %7s %u %u %d %lf %d", &id, &s, kin, arg
                   , &oid, &max_error, &invert, &step_dist, &t);
            char name[16];
            snprintf(name, sizeof(name), "s%d", id);
            ses[id] = steppersync_alloc_syncemitter(sss[s], name, 1);
            struct stepcompress *sc = syncemitter_get_stepcompress(ses[id]);
            stepcompress_fill(sc, oid, max_error, 10, 11);
            stepcompress_set_invert_sdir(sc, invert);
            struct stepper_kinematics *sk;
            if (!strcmp(kin, "cart"))
                sk = cartesian_stepper_alloc(arg[0]);
            else if (!strcmp(kin, "corexy"))
                sk = corexy_stepper_alloc(arg[0]);
            else if (!strcmp(kin, "corexz"))
                sk = corexz_stepper_alloc(arg[0]);
            else
                sk = extruder_stepper_alloc();
            sks[id] = sk;
            syncemitter_set_stepper_kinematics(ses[id], sk);
            itersolve_set_trapq(sk, t >= 0 ? tqs[t] : NULL, step_dist);
        } else if (!strcmp(cmd, "emitter")) {
            int id, s;
            sscanf(a, "%d %d", &id, &s);
            char name[16];
            snprintf(name, sizeof(name), "e%d", id);
            ses[id] = steppersync_alloc_syncemitter(sss[s], name, 0);
        } else if (!strcmp(cmd, "settrapq")) {
            int id, t;
            double step_dist;
            sscanf(a, "%d %d %lf", &id, &t, &step_dist);
            itersolve_set_trapq(sks[id], t >= 0 ? tqs[t] : NULL, step_dist);
        } else if (!strcmp(cmd, "pa")) {
            int id;
            double pt, pa, smooth;
            sscanf(a, "%d %lf %lf %lf", &id, &pt, &pa, &smooth);
            extruder_set_pressure_advance(sks[id], pt, pa, smooth);
        } else if (!strcmp(cmd, "skpos")) {
            int id;
            double x, y, z;
            sscanf(a, "%d %lf %lf %lf", &id, &x, &y, &z);
            itersolve_set_position(sks[id], x, y, z);
        } else if (!strcmp(cmd, "invert")) {
            int id, v;
            sscanf(a, "%d %d", &id, &v);
            stepcompress_set_invert_sdir(
                syncemitter_get_stepcompress(ses[id]), v);
        } else if (!strcmp(cmd, "queue_msg")) {
            int id, k = 0, off;
            uint64_t req;
            uint32_t w[16];
            sscanf(a, "%d %" SCNu64 "%n", &id, &req, &off);
            a += off;
            while (k < 16 && sscanf(a, "%u%n", &w[k], &off) == 1) {
                a += off;
                k++;
            }
            syncemitter_queue_msg(ses[id], req, w, k);
        } else if (!strcmp(cmd, "gen")) {
            double ft, gt, ct;
            sscanf(a, "%lf %lf %lf", &ft, &gt, &ct);
            struct syncemitter *f = steppersyncmgr_gen_steps(ssm, ft, gt, ct);
            int i, fid = -1;
            for (i=0; i<MAXOBJ; i++)
                if (f && ses[i] == f)
                    fid = i;
            printf("gen %d\n", fid);
        } else if (!strcmp(cmd, "sc_append")) {
            int id, dir;
            double pt, st;
            sscanf(a, "%d %d %lf %lf", &id, &dir, &pt, &st);
            int ret = stepcompress_append(
                syncemitter_get_stepcompress(ses[id]), dir, pt, st);
            if (ret)
                printf("append %d\n", ret);
        } else if (!strcmp(cmd, "sc_commit")) {
            int id;
            sscanf(a, "%d", &id);
            int ret = stepcompress_commit(syncemitter_get_stepcompress(ses[id]));
            printf("commit %d\n", ret);
        } else if (!strcmp(cmd, "sc_flush")) {
            int id;
            uint64_t clock;
            sscanf(a, "%d %" SCNu64, &id, &clock);
            int ret = stepcompress_flush(
                syncemitter_get_stepcompress(ses[id]), clock);
            printf("flush %d\n", ret);
        } else if (!strcmp(cmd, "reset")) {
            int id;
            uint64_t clock;
            sscanf(a, "%d %" SCNu64, &id, &clock);
            int ret = stepcompress_reset(
                syncemitter_get_stepcompress(ses[id]), clock);
            printf("reset %d\n", ret);
        } else if (!strcmp(cmd, "setlastpos")) {
            int id;
            uint64_t clock;
            int64_t pos;
            sscanf(a, "%d %" SCNu64 " %" SCNd64, &id, &clock, &pos);
            int ret = stepcompress_set_last_position(
                syncemitter_get_stepcompress(ses[id]), clock, pos);
            printf("setlastpos %d\n", ret);
        } else if (!strcmp(cmd, "find")) {
            int id;
            uint64_t clock;
            sscanf(a, "%d %" SCNu64, &id, &clock);
            int64_t pos = stepcompress_find_past_position(
                syncemitter_get_stepcompress(ses[id]), clock);
            printf("pos %" PRId64 "\n", pos);
        } else if (!strcmp(cmd, "extract_sc")) {
            int id, max;
            uint64_t sc_, ec;
            sscanf(a, "%d %d %" SCNu64 " %" SCNu64, &id, &max, &sc_, &ec);
            struct pull_history_steps p[256];
            int cnt = stepcompress_extract_old(
                syncemitter_get_stepcompress(ses[id]), p, max, sc_, ec);
            printf("hist %d\n", cnt);
            int i;
            for (i=0; i<cnt; i++)
                printf("h %" PRIu64 " %" PRIu64 " %" PRId64 " %d %d %d\n"
                       , p[i].first_clock, p[i].last_clock, p[i].start_position
                       , p[i].step_count, p[i].interval, p[i].add);
        } else if (!strcmp(cmd, "cmdpos")) {
            int id;
            sscanf(a, "%d", &id);
            printf("cmdpos");
            pd(itersolve_get_commanded_pos(sks[id]));
            printf("\n");
        } else if (!strcmp(cmd, "active")) {
            int id;
            double ft;
            sscanf(a, "%d %lf", &id, &ft);
            printf("active");
            pd(itersolve_check_active(sks[id], ft));
            printf("\n");
        } else {
            printf("unknown %s\n", cmd);
        }
        print_errors();
        fflush(stdout);
    }
    return 0;
}
