/* mrf-hq: the headquarters program. main() does the one-time process set-up (no core dumps,
 * libsodium), then hands the command line to the one command table below, which drives
 * dispatch, --help and usage errors (common/cli.c). Each command prints its own error and
 * returns its exit code (hq_finish). */
#include <stdio.h>

#include "hq.h"

static const struct cmd_entry *const hq_cmds[] = {
    &hq_cmd_init,         &hq_cmd_post_add,     &hq_cmd_post_list,     &hq_cmd_enroll,
    &hq_cmd_serve,        &hq_cmd_device_list,  &hq_cmd_device_revoke, &hq_cmd_allocate,
    &hq_cmd_grant_list,   &hq_cmd_conflicts,    &hq_cmd_conflict_show, &hq_cmd_resolve,
    &hq_cmd_history,      &hq_cmd_audit_verify, &hq_cmd_audit_list,    &hq_cmd_reveal,
    &hq_cmd_report,       &hq_cmd_limits,       &hq_cmd_limits_set,    &hq_cmd_pouch_in,
    &hq_cmd_officer_init, &hq_cmd_ui,
};

int main(int argc, char **argv)
{
    static const struct cli_program prog = {
        "mrf-hq", "MRF_HQ_HOME", ".mrf-hq", hq_cmds, sizeof hq_cmds / sizeof hq_cmds[0],
    };
    const struct cmd_entry *cmd = NULL;
    struct cli_args args;
    struct cli_ctx ctx;
    int code;

    process_harden();
    if (mrfcrypto_init() != MRF_OK) {
        fprintf(stderr, "mrf-hq: cannot initialise libsodium\n");
        code = mrf_status_exit(MRF_E_INTERNAL);
        goto out;
    }
    code = cli_parse(&prog, argc, argv, &cmd, &args);
    if (code >= 0)
        goto out;

    ctx.prog = prog.name;
    ctx.home = args.home;
    ctx.json = args.json;
    ctx.cmd = cmd;
    mrf_error_clear(&ctx.err);
    if (home_check(ctx.home, hq_home_files, !(cmd->flags & CMD_READONLY), &ctx.err) != MRF_OK)
        code = hq_finish(&ctx, ctx.err.status);
    else
        code = cmd->exec(&ctx, &args);
out:
    return code;
}
