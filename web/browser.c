/* Opening the printed address in the user's browser with xdg-open, for both programs' faces:
 * spawned without waiting, its output discarded, with SIGINT and SIGTERM unblocked again in
 * the child (web_start blocks them in the caller). */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>

#include "mrfweb.h"

extern char **environ;

int web_open_browser(const char *url)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none;
    pid_t pid;
    char *argv[] = {"xdg-open", (char *)url, NULL};
    int rc;

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_init(&at);
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
    rc = posix_spawnp(&pid, "xdg-open", &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc == 0;
}
