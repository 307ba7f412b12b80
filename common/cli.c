/* The command-line front of both programs: finds the command named by the words of argv in the
 * program's one table, parses its long options (--name V, --name=V, flags), and prints --help
 * and usage errors from the same table, so usage text and dispatch never drift. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static int word_count(const char *name)
{
    int n = 1;
    for (const char *p = name; *p; p++)
        if (*p == ' ')
            n++;
    return n;
}

/* 1 if the first n words of name equal argv[0..n). */
static int words_match(const char *name, char **argv, int argc, int n)
{
    const char *p = name;

    for (int i = 0; i < n; i++) {
        const char *sp = strchr(p, ' ');
        size_t len = sp ? (size_t)(sp - p) : strlen(p);
        if (i >= argc || strlen(argv[i]) != len || strncmp(argv[i], p, len) != 0)
            return 0;
        p = sp ? sp + 1 : p + len;
    }
    return 1;
}

static void print_program_usage(const struct cli_program *prog, FILE *out, const char *prefix)
{
    fprintf(out, "usage: %s [--home DIR] COMMAND [OPTIONS]\n\ncommands:\n", prog->name);
    for (size_t i = 0; i < prog->ncmds; i++) {
        const struct cmd_entry *c = prog->cmds[i];
        if (prefix && strncmp(c->name, prefix, strlen(prefix)) != 0)
            continue;
        fprintf(out, "  %-18s %s\n", c->name, c->summary);
    }
    fprintf(out, "\n'%s COMMAND --help' explains a command. --home DIR, else $%s, else ~/%s.\n",
            prog->name, prog->home_env, prog->home_default_leaf);
}

static void print_cmd_help(const struct cli_program *prog, const struct cmd_entry *c, FILE *out)
{
    fprintf(out, "usage: %s %s%s%s\n\n%s\n\noptions:\n", prog->name, c->name,
            c->usage[0] ? " " : "", c->usage, c->summary);
    for (const struct cli_opt *o = c->opts; o->name; o++)
        fprintf(out, "  --%s%s%*s %s\n", o->name, o->has_arg ? " V" : "",
                (int)(18 - strlen(o->name) - (o->has_arg ? 2 : 0)), "", o->help);
    fprintf(out, "  --home DIR           the home directory (else $%s, else ~/%s)\n",
            prog->home_env, prog->home_default_leaf);
    fprintf(out, "  --help               this text\n");
}

static const struct cli_opt *find_opt(const struct cmd_entry *c, const char *name, size_t len)
{
    for (const struct cli_opt *o = c->opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

const char *cli_get(const struct cli_args *a, const char *name)
{
    const char *v = NULL;
    for (int i = 0; i < a->nvals; i++)
        if (strcmp(a->val_names[i], name) == 0)
            v = a->vals[i];
    return v;
}

int cli_has(const struct cli_args *a, const char *name)
{
    for (int i = 0; i < a->nvals; i++)
        if (strcmp(a->val_names[i], name) == 0)
            return 1;
    return 0;
}

static void usage_error(const struct cli_program *prog, const struct cmd_entry *c, const char *what)
{
    fprintf(stderr, "%s %s: %s\nusage: %s %s %s\n'%s %s --help' lists the options.\n", prog->name,
            c->name, what, prog->name, c->name, c->usage, prog->name, c->name);
}

int cli_parse(const struct cli_program *prog, int argc, char **argv, const struct cmd_entry **found,
              struct cli_args *a)
{
    const struct cmd_entry *best = NULL;
    int best_words = 0, i = 1;
    const char *home = NULL;

    memset(a, 0, sizeof *a);
    *found = NULL;

    /* Global options before the command words. */
    while (i < argc && strncmp(argv[i], "--home", 6) == 0) {
        if (argv[i][6] == '=') {
            home = argv[i] + 7;
            i++;
        } else if (argv[i][6] == '\0' && i + 1 < argc) {
            home = argv[i + 1];
            i += 2;
        } else {
            fprintf(stderr, "%s: --home needs a directory\n", prog->name);
            return 2;
        }
    }
    if (i >= argc) {
        print_program_usage(prog, stderr, NULL);
        return 2;
    }
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
        strcmp(argv[i], "help") == 0) {
        print_program_usage(prog, stdout, NULL);
        return 0;
    }
    for (size_t k = 0; k < prog->ncmds; k++) {
        const struct cmd_entry *c = prog->cmds[k];
        int n = word_count(c->name);
        if (n > best_words && words_match(c->name, argv + i, argc - i, n)) {
            best = c;
            best_words = n;
        }
    }
    if (best == NULL) {
        int group = 0;
        for (size_t k = 0; k < prog->ncmds; k++) {
            const char *name = prog->cmds[k]->name;
            size_t len = strlen(argv[i]);
            if (strncmp(name, argv[i], len) == 0 && name[len] == ' ')
                group = 1;
        }
        if (group) {
            fprintf(stderr, "%s %s: say which one:\n", prog->name, argv[i]);
            print_program_usage(prog, stderr, argv[i]);
        } else {
            fprintf(stderr, "%s: unknown command '%s'; '%s --help' lists the commands\n",
                    prog->name, argv[i], prog->name);
        }
        return 2;
    }
    i += best_words;

    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_cmd_help(prog, best, stdout);
            return 0;
        }
        if (strcmp(arg, "--") == 0) {
            for (i++; i < argc; i++) {
                if (a->nargs >= CLI_MAX_ARGS || a->nargs >= best->max_args) {
                    usage_error(prog, best, "too many arguments");
                    return 2;
                }
                a->args[a->nargs++] = argv[i];
            }
            break;
        }
        if (strncmp(arg, "--", 2) == 0) {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            size_t len = eq ? (size_t)(eq - name) : strlen(name);
            const char *val = NULL;
            const struct cli_opt *o;

            if (len == 4 && strncmp(name, "home", 4) == 0) {
                if (eq)
                    home = eq + 1;
                else if (i + 1 < argc)
                    home = argv[++i];
                else {
                    usage_error(prog, best, "--home needs a directory");
                    return 2;
                }
                continue;
            }
            o = find_opt(best, name, len);
            if (o == NULL) {
                char what[160];
                snprintf(what, sizeof what, "unknown option --%.*s", (int)(len > 60 ? 60 : len),
                         name);
                usage_error(prog, best, what);
                return 2;
            }
            if (o->has_arg) {
                if (eq)
                    val = eq + 1;
                else if (i + 1 < argc)
                    val = argv[++i];
                else {
                    char what[120];
                    snprintf(what, sizeof what, "--%s needs a value", o->name);
                    usage_error(prog, best, what);
                    return 2;
                }
            } else if (eq) {
                char what[120];
                snprintf(what, sizeof what, "--%s takes no value", o->name);
                usage_error(prog, best, what);
                return 2;
            }
            if (a->nvals >= CLI_MAX_OPTS * 2) {
                usage_error(prog, best, "too many options");
                return 2;
            }
            a->val_names[a->nvals] = o->name;
            a->vals[a->nvals++] = val;
            if (strcmp(o->name, "json") == 0)
                a->json = 1;
            continue;
        }
        if (a->nargs >= CLI_MAX_ARGS || a->nargs >= best->max_args) {
            usage_error(prog, best, "too many arguments");
            return 2;
        }
        a->args[a->nargs++] = arg;
    }
    if (a->nargs < best->min_args) {
        usage_error(prog, best, "missing arguments");
        return 2;
    }

    if (home == NULL || *home == '\0')
        home = getenv(prog->home_env);
    if (home == NULL || *home == '\0') {
        const char *h = getenv("HOME");
        if (h == NULL || *h == '\0') {
            fprintf(stderr, "%s: no home directory: give --home DIR or set $%s\n", prog->name,
                    prog->home_env);
            return 2;
        }
        snprintf(a->home_buf, sizeof a->home_buf, "%s/%s", h, prog->home_default_leaf);
        home = a->home_buf;
    }
    a->home = home;
    *found = best;
    return -1;
}
