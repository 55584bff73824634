/*
 * main: the syncline command line: finds the command in the table, installs
 * the signal handlers and turns error codes into exit codes. The only place
 * that exits; the only global is the stop flag set by signals.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/log.h"

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* one command per line (clang-format would pack them) */
/* clang-format off */
static const cli_command_t *const commands[] = {
    &cli_run_command,
    &cli_status_command,
    &cli_drop_command,
    &cli_capture_command,
    &cli_apply_command,
    &cli_check_command,
    &cli_lag_command,
    &cli_verify_command,
    &cli_sequences_command,
    &cli_cutover_command,
    &cli_unfence_command,
    &cli_fallback_command,
};
/* clang-format on */

#define NCOMMANDS ((int)(sizeof(commands) / sizeof(commands[0])))

static void usage(FILE *out)
{
    fprintf(out, "usage: syncline [--help] [--version] COMMAND -c FILE [options]\n\n"
                 "Keeps a PostgreSQL target continuously in sync with a PostgreSQL source\n"
                 "(logical replication, pgoutput) until cutover.\n\ncommands:\n");
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\nRun 'syncline COMMAND --help' for its options. Exit codes: 0 ok, 1 runtime\n"
                 "failure, 2 usage, 3 configuration, 4 connection, 5 source precondition,\n"
                 "6 target schema mismatch, 7 threshold exceeded.\n"
                 "After 'cutover --fence --fallback', check, status, lag, verify, sequences,\n"
                 "unfence and drop take --fallback: they then work on the fallback direction\n"
                 "(target -> source).\n");
}

/* Takes --fallback out of argv (the command then runs on the fallback
 * direction); 1 when it was there. */
static int take_fallback(int *argc, char **argv)
{
    int found = 0, out = 0;
    for (int i = 0; i < *argc; i++) {
        if (strcmp(argv[i], "--") == 0) { /* operands after it stay */
            while (i < *argc)
                argv[out++] = argv[i++];
            break;
        }
        if (strcmp(argv[i], "--fallback") == 0)
            found = 1;
        else
            argv[out++] = argv[i];
    }
    *argc = out;
    argv[out] = NULL;
    return found;
}

/* A key that no other process is likely to hold: two positive int4. */
static void session_key(int32_t key[2])
{
    uint32_t r[2];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r)) { /* no entropy source: pid and time */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        r[0] = (uint32_t)getpid() * 2654435761u ^ (uint32_t)ts.tv_nsec;
        r[1] = (uint32_t)ts.tv_sec * 2246822519u ^ (uint32_t)getppid();
    }
    key[0] = (int32_t)(r[0] & 0x7fffffff) | 1; /* never {0, 0}: that means unmarked */
    key[1] = (int32_t)(r[1] & 0x7fffffff);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* a supervisor's reload or a closed terminal must not stop a run; there
     * is nothing to reload: the configuration is read at start only */
    signal(SIGHUP, SIG_IGN);
}

int main(int argc, char **argv)
{
    setvbuf(stderr, NULL, _IOLBF, 0);
    if (argc < 2) {
        usage(stderr);
        return ERR_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return ERR_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("syncline %s\n", SYNCLINE_VERSION);
        return ERR_OK;
    }
    for (int i = 0; i < NCOMMANDS; i++) {
        if (strcmp(argv[1], commands[i]->name) != 0)
            continue;
        cli_ctx_t ctx = {.stop = &stop_requested};
        session_key(ctx.session_key);
        int cargc = argc - 1;
        if (commands[i]->takes_fallback)
            ctx.fallback = take_fallback(&cargc, argv + 1);
        install_signals();
        err_t err = commands[i]->run(&ctx, cargc, argv + 1);
        if (err != ERR_OK && err != ERR_USAGE && ctx.errbuf[0] != '\0')
            log_error("%s failed (%s): %s", commands[i]->name, err_name(err), ctx.errbuf);
        return (int)err;
    }
    fprintf(stderr, "syncline: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return ERR_USAGE;
}
