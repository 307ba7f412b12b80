/* mrf — the post's program. Hardens the process, sets up libsodium, and dispatches the command
 * line through the one command table. */
#include <stdlib.h>

#include "client.h"

static const struct cmd_entry *const commands[] = {
    &cmd_init,         &cmd_theme_set,    &cmd_theme_list,     &cmd_partner_add, &cmd_partner_list,
    &cmd_partner_show, &cmd_partner_edit, &cmd_partner_remove, &cmd_grant_add,   &cmd_grant_set,
    &cmd_grant_list,   &cmd_allocation,   &cmd_status,         &cmd_sync,        &cmd_conflicts,
    &cmd_export,       &cmd_passwd,       &cmd_wipe,           &cmd_ui,          &cmd_pouch_out,
    &cmd_pouch_in,
};

int main(int argc, char **argv)
{
    static const struct cli_program prog = {"mrf", "MRF_HOME", ".mrf", commands,
                                            sizeof commands / sizeof commands[0]};
    const struct cmd_entry *cmd = NULL;
    struct cli_args args;
    struct cli_ctx ctx;
    int rc;

    process_harden();
    if (mrfcrypto_init() != MRF_OK) {
        fprintf(stderr, "mrf: cannot initialise libsodium\n");
        return 1;
    }
    rc = cli_parse(&prog, argc, argv, &cmd, &args);
    if (rc >= 0)
        return rc;
    client_init(&ctx, args.home);
    ctx.json = args.json;
    ctx.readonly = (cmd->flags & CMD_READONLY) != 0;
    if (home_check(ctx.home, client_home_files, !ctx.readonly, &ctx.err) != MRF_OK)
        rc = out_fail(cmd->name, &ctx, ctx.err.status);
    else
        rc = cmd->exec(&ctx, &args);
    client_close(&ctx);
    if (fflush(stdout) != 0 && rc == 0)
        rc = 1;
    return rc;
}
