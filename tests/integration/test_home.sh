#!/usr/bin/env bash
# Homes other users can touch, and homes on a read-only medium, for both programs: a home (or
# one of its files) that group or others can write, or that another user owns, is refused with
# exit 3 and the chmod/chown to run, by every command and by init on an existing directory; a
# 0700 home works; a directory above the home that others can write (and is not sticky, as
# /tmp is) is refused the same way; on a read-only home the commands that only read work and one that writes
# is refused with exit 3 and changes nothing.
. "$(dirname "$0")/lib.sh"

HQ_HOME=$T/hq
DEV=$T/dev
setup_device || {
    fail "set-up" "HQ and the device could not be set up"
    finish
}

# refused NAME WHAT CMD... : CMD exits 3 and its message holds WHAT (the command to run).
refused() {
    local name=$1 what=$2
    shift 2
    expect_exit "$name: exit 3" 3 "$@"
    if has "$what" "$ERR"; then pass "$name: says '$what'"; else fail "$name: says '$what'"; fi
}

# ---- a correct home works ------------------------------------------------------------------
check "new device home is 0700" [ "$(stat -c %a "$DEV")" = 700 ]
check "new HQ home is 0700" [ "$(stat -c %a "$HQ_HOME")" = 700 ]
expect_exit "mrf status on a 0700 home" 0 dev status
expect_exit "mrf-hq post list on a 0700 home" 0 hq post list
run dev theme set 2026 HRD
check "a 0700 home takes writes" [ "$LAST_RC" -eq 0 ]
chmod 755 "$DEV"
expect_exit "a 0755 home (read by others, written by none) works" 0 dev status
chmod 700 "$DEV"

# ---- a directory above the home that others can write ---------------------------------------
# whoever can write it can rename the home away and put another in its place
mkdir -p "$T/shared"
chmod 777 "$T/shared"
mv "$DEV" "$T/shared/dev"
refused "mrf status under a 0777 directory" "chmod go-w $T/shared" "$MRF" --home "$T/shared/dev" status
refused "mrf init under a 0777 directory" "chmod go-w $T/shared" "$MRF" --home "$T/shared/new" init --token x
check "init created nothing there" test ! -e "$T/shared/new"
chmod 1777 "$T/shared"
expect_exit "a sticky shared directory above the home (like /tmp) is fine" 0 "$MRF" --home "$T/shared/dev" status
chmod 755 "$T/shared"
mv "$T/shared/dev" "$DEV"

# ---- writable by others --------------------------------------------------------------------
chmod 777 "$DEV"
refused "mrf status on a 0777 home" "chmod 700 $DEV" dev status
refused "mrf theme set on a 0777 home" "chmod 700 $DEV" dev theme set 2026 FOE
chmod 770 "$DEV"
refused "mrf on a group-writable home" "chmod 700 $DEV" dev grant list
chmod 700 "$DEV"
chmod 660 "$DEV/keystore"
refused "mrf with a group-writable keystore" "chmod 600 $DEV/keystore" dev partner list
chmod 600 "$DEV/keystore"
chmod 622 "$DEV/post.db"
refused "mrf with an other-writable store" "chmod 600 $DEV/post.db" dev status
chmod 600 "$DEV/post.db"
expect_exit "mrf works again once fixed" 0 dev status

chmod 777 "$HQ_HOME"
refused "mrf-hq post list on a 0777 home" "chmod 700 $HQ_HOME" hq post list
refused "mrf-hq enroll on a 0777 home" "chmod 700 $HQ_HOME" hq enroll NAI
chmod 700 "$HQ_HOME"
chmod 660 "$HQ_HOME/hq.keys"
refused "mrf-hq with a group-writable hq.keys" "chmod 600 $HQ_HOME/hq.keys" hq device list
chmod 600 "$HQ_HOME/hq.keys"
chmod 777 "$HQ_HOME/tls"
refused "mrf-hq with a 0777 tls/" "chmod 700 $HQ_HOME/tls" hq post list
chmod 700 "$HQ_HOME/tls"
expect_exit "mrf-hq works again once fixed" 0 hq post list

# init on an existing directory others can write: refused before anything is made in it.
mkdir -m 777 "$T/open-dev" "$T/open-hq"
chmod 777 "$T/open-dev" "$T/open-hq" # whatever the umask
refused "mrf init into a 0777 directory" "chmod 700 $T/open-dev" \
    "$MRF" --home "$T/open-dev" init --token "$TOKEN"
check "nothing made in it" empty_or_absent "$T/open-dev"
refused "mrf-hq init into a 0777 directory" "chmod 700 $T/open-hq" \
    "$MRF_HQ" --home "$T/open-hq" init --url https://127.0.0.1:9
check "nothing made in it (HQ)" empty_or_absent "$T/open-hq"

# ---- owned by another user -----------------------------------------------------------------
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
    chown nobody "$DEV"
    refused "mrf on a home owned by nobody" "chown -R $(id -un) $DEV" dev status
    chown "$(id -u)" "$DEV"
    chown nobody "$DEV/post.db"
    refused "mrf with a store owned by nobody" "chown -R $(id -un) $DEV/post.db" dev grant list
    chown "$(id -u)" "$DEV/post.db"
    chown -R nobody "$HQ_HOME"
    refused "mrf-hq on a home owned by nobody" "chown -R $(id -un) $HQ_HOME" hq post list
    chown -R "$(id -u)" "$HQ_HOME"
    expect_exit "both work again once given back" 0 dev status
    expect_exit "both work again once given back (HQ)" 0 hq post list
else
    skip "homes owned by another user" "needs root (to chown) and a user named nobody"
fi

# ---- a read-only home ----------------------------------------------------------------------
# Copies of both homes on a read-only medium: a read-only bind mount in a private mount
# namespace (root, unshare), else as a non-root user on directories without write permission.
RO_DEV=$T/ro/dev
RO_HQ=$T/ro/hq
mkdir -p "$T/ro"
cp -a "$DEV" "$RO_DEV"
cp -a "$HQ_HOME" "$RO_HQ"
RO_MODE=""
if [ "$(id -u)" -eq 0 ] && unshare -m sh -c "mount --bind '$T/ro' '$T/ro' &&
        mount -o remount,ro,bind '$T/ro' '$T/ro' && ! touch '$T/ro/x'" 2>/dev/null; then
    RO_MODE=mount
elif [ "$(id -u)" -ne 0 ]; then
    chmod -R a-w "$T/ro"
    RO_MODE="chmod"
fi
# ro CMD... : runs CMD with $T/ro read-only.
ro() {
    if [ "$RO_MODE" = mount ]; then
        unshare -m sh -c "mount --bind '$T/ro' '$T/ro' && mount -o remount,ro,bind '$T/ro' '$T/ro' &&
            exec \"\$@\"" ro "$@"
    else
        "$@"
    fi
}
if [ -n "$RO_MODE" ]; then
    before=$(cd "$T/ro" && find . -printf '%p %s %T@\n' | sort | md5sum)
    for c in "status" "theme list" "partner list" "grant list" "allocation" "conflicts" \
        "export --format csv"; do
        # shellcheck disable=SC2086 # the words of the command
        expect_exit "read-only home: mrf $c works" 0 ro "$MRF" --home "$RO_DEV" $c
    done
    expect_exit "read-only home: mrf partner list --reveal works" 0 \
        ro "$MRF" --home "$RO_DEV" partner list --reveal
    for c in "post list" "device list" "grant list" "conflicts" "report" "audit list" \
        "audit verify"; do
        # shellcheck disable=SC2086
        expect_exit "read-only home: mrf-hq $c works" 0 ro "$MRF_HQ" --home "$RO_HQ" $c
    done
    refused "read-only home: mrf theme set is refused" "cannot be written" \
        ro "$MRF" --home "$RO_DEV" theme set 2026 FOE
    refused "read-only home: mrf-hq allocate is refused" "cannot be written" \
        ro "$MRF_HQ" --home "$RO_HQ" allocate NAI 2026 1000.00
    after=$(cd "$T/ro" && find . -printf '%p %s %T@\n' | sort | md5sum)
    check "read-only home: nothing in it changed" [ "$before" = "$after" ]
    [ "$RO_MODE" = chmod ] && chmod -R u+w "$T/ro"
else
    skip "read-only home" "root without a mount namespace (unshare -m) to make one"
fi

finish
