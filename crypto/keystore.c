/* keystore — secret keys at rest under a passphrase. Three kinds of file share one format:
 * the keystore of a device ("MRFKS", a serialized struct mrf_secrets), the box keystore of the
 * escrow key ("MRFBK", pk || sk) and the officer key ("MRFOK", sign pk || sign sk). Version 1,
 * all integers little-endian:
 *
 *   magic[5] | u8 version=1 | u8 alg=1 | u64 opslimit | u64 memlimit | salt[16] | nonce[24]
 *   | ciphertext+tag
 *
 * alg 1 is Argon2id 1.3 (key derivation from the passphrase with the recorded limits and salt)
 * followed by XChaCha20-Poly1305-IETF, whose additional data is every header byte, so a changed
 * limit, salt or magic fails like a wrong passphrase. Limits are read back from the file, so
 * stronger parameters can be written later without a new version; absurd ones are refused
 * before any work is done. Files are written atomically with mode 0600 (file_write_atomic).
 * Derived keys and plaintext secrets sit in wiped stack arrays or sodium_malloc memory.
 *
 * A device keystore is written in version 2 (a version-1 one is read, and rewritten as 2 the
 * first time it opens):
 *
 *   magic[5] | u8 version=2 | u8 alg=1 | u64 opslimit | u64 memlimit | salt[16]
 *   | u32 max_failures | u32 failures
 *   | slot A: nonce[24] | secrets ciphertext+tag      (the passphrase)
 *   | slot B: nonce[24] | 32-byte ciphertext+tag      (the duress passphrase, or random bytes)
 *
 * Both slots are keyed by Argon2id over the same salt and limits, with the header up to the
 * salt and the slot's letter as additional data. Slot B is always there and looks the same
 * set or not. A try counts itself in `failures` (durably, before Argon2id runs), then one
 * derivation is checked against both slots; see ks_unlock for what follows.
 *
 * keystore_destroy overwrites before unlinking, but on journaling or flash storage the old
 * blocks may survive: crypto-shredding rests on the passphrase, which the overwrite backs up. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>

#include "mrfcrypto.h"

#define KS_MAGIC_LEN 5
#define KS_VERSION 1
#define KS_ALG_ARGON2ID_XCHACHA 1
#define KS_SALT crypto_pwhash_SALTBYTES
#define KS_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define KS_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define KS_KEY crypto_aead_xchacha20poly1305_ietf_KEYBYTES

/* Header offsets. */
#define OFF_VERSION KS_MAGIC_LEN
#define OFF_ALG (OFF_VERSION + 1)
#define OFF_OPS (OFF_ALG + 1)
#define OFF_MEM (OFF_OPS + 8)
#define OFF_SALT (OFF_MEM + 8)
#define OFF_NONCE (OFF_SALT + KS_SALT)
#define KS_HEADER (OFF_NONCE + KS_NONCE)

/* Limits accepted when reading: anything above is a damaged or hostile file, not a choice. */
#define KS_MAX_OPSLIMIT 16ULL
#define KS_MAX_MEMLIMIT (1024ULL * 1024 * 1024)

#define SECRETS_LEN (MRF_SIGN_SK + MRF_BOX_SK + MRF_SECRET + MRF_SIGN_PK + MRF_BOX_PK)
#define BOXKEY_LEN (MRF_BOX_PK + MRF_BOX_SK)
#define SIGNKEY_LEN (MRF_SIGN_PK + MRF_SIGN_SK)
#define MAX_PLAIN SECRETS_LEN
#define KS_FILE_CAP 4096 /* any key file is far smaller; a bigger one is not ours */

/* The two kinds of key file: same format, different magic and payload. */
struct kind {
    const char *magic; /* KS_MAGIC_LEN bytes */
    const char *what;  /* the subject of error messages */
    size_t plen;       /* plaintext length */
};

static const struct kind KEYSTORE = {"MRFKS", "keystore", SECRETS_LEN};
static const struct kind BOXKEY = {"MRFBK", "escrow key", BOXKEY_LEN};
static const struct kind SIGNKEY = {"MRFOK", "officer key", SIGNKEY_LEN};

static void put_u64(uint8_t *p, uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int overwrite_random(int fd, off_t n);

/* MRF_E_STATE if path exists (a key file is never silently replaced), MRF_E_IO if that cannot
 * be told. */
static enum mrf_status refuse_existing(const struct kind *k, const char *path,
                                       struct mrf_error *err)
{
    struct stat st;

    if (lstat(path, &st) == 0)
        return mrf_error_set(err, MRF_E_STATE,
                             "%s %s: already exists; remove it first or choose another place",
                             k->what, path);
    if (errno != ENOENT)
        return mrf_error_set(err, MRF_E_IO, "%s %s: cannot check it: %s", k->what, path,
                             strerror(errno));
    return MRF_OK;
}

/* key = Argon2id(passphrase, salt, ops, mem). MRF_E_INTERNAL if the memory cannot be had. */
static enum mrf_status derive(uint8_t key[KS_KEY], const struct kind *k, const char *passphrase,
                              const uint8_t *salt, uint64_t ops, uint64_t mem,
                              struct mrf_error *err)
{
    if (crypto_pwhash(key, KS_KEY, passphrase, strlen(passphrase), salt, ops, (size_t)mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return mrf_error_set(err, MRF_E_INTERNAL,
                             "%s: deriving the key from the passphrase needs %llu MiB of memory "
                             "that could not be had; close other programs and try again",
                             k->what, (unsigned long long)(mem >> 20));
    return MRF_OK;
}

/* Writes plain[0..k->plen) to path as a key file of kind k under passphrase, with a fresh salt
 * and nonce, atomically and with mode 0600. Replaces path if it exists. */
static enum mrf_status write_keyfile(const struct kind *k, const char *path, const char *passphrase,
                                     const uint8_t *plain, struct mrf_error *err)
{
    uint8_t file[KS_HEADER + MAX_PLAIN + KS_TAG];
    uint8_t key[KS_KEY];
    unsigned long long clen = 0;
    enum mrf_status rc;

    assert(k->plen <= MAX_PLAIN);
    memcpy(file, k->magic, KS_MAGIC_LEN);
    file[OFF_VERSION] = KS_VERSION;
    file[OFF_ALG] = KS_ALG_ARGON2ID_XCHACHA;
    put_u64(file + OFF_OPS, crypto_pwhash_OPSLIMIT_INTERACTIVE);
    put_u64(file + OFF_MEM, crypto_pwhash_MEMLIMIT_INTERACTIVE);
    randombytes_buf(file + OFF_SALT, KS_SALT);
    randombytes_buf(file + OFF_NONCE, KS_NONCE);

    rc = derive(key, k, passphrase, file + OFF_SALT, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                crypto_pwhash_MEMLIMIT_INTERACTIVE, err);
    if (rc != MRF_OK)
        goto out;
    crypto_aead_xchacha20poly1305_ietf_encrypt(file + KS_HEADER, &clen, plain, k->plen, file,
                                               KS_HEADER, NULL, file + OFF_NONCE, key);
    assert(clen == k->plen + KS_TAG);
    rc = file_write_atomic(path, file, KS_HEADER + k->plen + KS_TAG, 0600, err);
out:
    sodium_memzero(key, sizeof key);
    return rc;
}

/* Reads the key file of kind k at path and decrypts it into plain[0..k->plen), which the
 * caller wipes. MRF_E_INVALID if the file is not such a key file (checked before any key is
 * derived), MRF_E_PASSPHRASE if it does not open under passphrase, MRF_E_NOTFOUND if it does
 * not exist, MRF_E_IO if it cannot be read. */
static enum mrf_status read_keyfile(const struct kind *k, const char *path, const char *passphrase,
                                    uint8_t *plain, struct mrf_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    uint8_t key[KS_KEY];
    uint64_t ops, mem;
    enum mrf_status rc;

    rc = file_read_all(path, KS_FILE_CAP, &data, &len, err);
    if (rc == MRF_E_TOOBIG)
        rc = mrf_error_set(err, MRF_E_INVALID, "%s %s: not a %s file (too large)", k->what, path,
                           k->what);
    else if (rc == MRF_E_NOTFOUND)
        rc = mrf_error_set(err, MRF_E_NOTFOUND, "%s %s: no such file; check the path", k->what,
                           path);
    else if (rc != MRF_OK && err != NULL) {
        char why[sizeof err->msg];
        str_copy(why, err->msg, sizeof why);
        rc = mrf_error_set(err, rc, "%s: %s", k->what, why);
    }
    if (rc != MRF_OK)
        goto out;
    if (len < KS_HEADER || memcmp(data, k->magic, KS_MAGIC_LEN) != 0) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "%s %s: not a %s file; check the path or restore it from a backup",
                           k->what, path, k->what);
        goto out;
    }
    if (data[OFF_VERSION] != KS_VERSION || data[OFF_ALG] != KS_ALG_ARGON2ID_XCHACHA) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "%s %s: format version %u, algorithm %u is not supported by this "
                           "mrf; use a newer one",
                           k->what, path, data[OFF_VERSION], data[OFF_ALG]);
        goto out;
    }
    ops = get_u64(data + OFF_OPS);
    mem = get_u64(data + OFF_MEM);
    if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > KS_MAX_OPSLIMIT ||
        mem < crypto_pwhash_MEMLIMIT_MIN || mem > KS_MAX_MEMLIMIT) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "%s %s: the file is damaged (key derivation limits out of range); "
                           "restore it from a backup",
                           k->what, path);
        goto out;
    }
    if (len != KS_HEADER + k->plen + KS_TAG) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "%s %s: the file is damaged (%zu bytes, expected %zu); restore it "
                           "from a backup",
                           k->what, path, len, (size_t)(KS_HEADER + k->plen + KS_TAG));
        goto out;
    }
    rc = derive(key, k, passphrase, data + OFF_SALT, ops, mem, err);
    if (rc != MRF_OK)
        goto out;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, data + KS_HEADER,
                                                   k->plen + KS_TAG, data, KS_HEADER,
                                                   data + OFF_NONCE, key) != 0)
        rc = mrf_error_set(err, MRF_E_PASSPHRASE,
                           "%s: the passphrase is wrong (or %s is damaged); try again", k->what,
                           path);
out:
    sodium_memzero(key, sizeof key);
    x_free(data);
    return rc;
}

/* 1 if pk is the public key of the X25519 secret key sk, else 0. */
static int box_pair_matches(const uint8_t *pk, const uint8_t *sk)
{
    uint8_t derived[MRF_BOX_PK];
    int ok;

    ok = crypto_scalarmult_base(derived, sk) == 0 && sodium_memcmp(derived, pk, MRF_BOX_PK) == 0;
    sodium_memzero(derived, sizeof derived);
    return ok;
}

static void secrets_serialize(uint8_t out[SECRETS_LEN], const struct mrf_secrets *s)
{
    uint8_t *p = out;

    memcpy(p, s->sign_sk, MRF_SIGN_SK);
    p += MRF_SIGN_SK;
    memcpy(p, s->box_sk, MRF_BOX_SK);
    p += MRF_BOX_SK;
    memcpy(p, s->enroll_secret, MRF_SECRET);
    p += MRF_SECRET;
    memcpy(p, s->pub.sign_pk, MRF_SIGN_PK);
    p += MRF_SIGN_PK;
    memcpy(p, s->pub.box_pk, MRF_BOX_PK);
}

static void secrets_deserialize(struct mrf_secrets *s, const uint8_t in[SECRETS_LEN])
{
    const uint8_t *p = in;

    memcpy(s->sign_sk, p, MRF_SIGN_SK);
    p += MRF_SIGN_SK;
    memcpy(s->box_sk, p, MRF_BOX_SK);
    p += MRF_BOX_SK;
    memcpy(s->enroll_secret, p, MRF_SECRET);
    p += MRF_SECRET;
    memcpy(s->pub.sign_pk, p, MRF_SIGN_PK);
    p += MRF_SIGN_PK;
    memcpy(s->pub.box_pk, p, MRF_BOX_PK);
}

/* ---- the device keystore, version 2: two slots and a failure counter -------------------- */

/* Version 2 of "MRFKS" (the layout is in the file's opening comment) keeps the header of
 * version 1 up to the salt, which is the associated data of both slots, then the policy,
 * which is not authenticated (it changes on every try, before the passphrase is known), then
 * the two slots. Both slots are encrypted under keys derived with the same salt and limits, so
 * one Argon2id run per try is checked against both. */
#define KS2_VERSION 2
#define KS_AUTH_LEN OFF_NONCE /* magic .. salt: the associated data of both slots */
#define KS2_OFF_MAX KS_AUTH_LEN
#define KS2_OFF_FAILS (KS2_OFF_MAX + 4)
#define KS2_OFF_A (KS2_OFF_FAILS + 4)
#define KS2_A_LEN (KS_NONCE + SECRETS_LEN + KS_TAG)
#define KS2_OFF_B (KS2_OFF_A + KS2_A_LEN)
#define KS2_DURESS_LEN 32
#define KS2_B_LEN (KS_NONCE + KS2_DURESS_LEN + KS_TAG)
#define KS2_LEN (KS2_OFF_B + KS2_B_LEN)
#define SLOT_A 'A'
#define SLOT_B 'B'

/* The plaintext of slot B when a duress passphrase is set: what it says does not matter, only
 * that it opens. */
static const uint8_t duress_mark[KS2_DURESS_LEN] = "mrf duress passphrase slot v2...";

static void put_u32(uint8_t *p, uint32_t v)
{
    int i;
    for (i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* An unlocked version-2 keystore, for one command: the file image, the key slot A opened
 * with, its plaintext, and the lock on the keystore's directory. Wiped by ks_release. */
struct ks {
    uint8_t file[KS2_LEN];
    uint8_t key[KS_KEY];
    uint8_t plain[SECRETS_LEN];
    int lockfd;
};

static void ks_release(struct ks *ks)
{
    if (ks->lockfd >= 0)
        close(ks->lockfd); /* drops the flock */
    sodium_memzero(ks, sizeof *ks);
    ks->lockfd = -1;
}

/* Takes an exclusive flock on the directory holding path, so two processes never count or
 * rewrite the same keystore at once (parallel tries would otherwise lose counts). -1 if the
 * directory cannot be opened: reading the file will then say why. */
static int lock_dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash == NULL   ? xstrdup(".")
                : slash == path ? xstrdup("/")
                                : xstrndup(path, (size_t)(slash - path));
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    x_free(dir);
    if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* Encrypts plain[0..n) into the slot at off under key with a fresh nonce. */
static void slot_seal(uint8_t *file, size_t off, const uint8_t *plain, size_t n, uint8_t which,
                      const uint8_t key[KS_KEY])
{
    uint8_t ad[KS_AUTH_LEN + 1];
    unsigned long long clen = 0;

    memcpy(ad, file, KS_AUTH_LEN);
    ad[KS_AUTH_LEN] = which;
    randombytes_buf(file + off, KS_NONCE);
    crypto_aead_xchacha20poly1305_ietf_encrypt(file + off + KS_NONCE, &clen, plain, n, ad,
                                               sizeof ad, NULL, file + off, key);
    assert(clen == n + KS_TAG);
}

/* 1 if the slot at off opens under key (plaintext of n bytes into plain), else 0. */
static int slot_open(const uint8_t *file, size_t off, uint8_t *plain, size_t n, uint8_t which,
                     const uint8_t key[KS_KEY])
{
    uint8_t ad[KS_AUTH_LEN + 1];

    memcpy(ad, file, KS_AUTH_LEN);
    ad[KS_AUTH_LEN] = which;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, file + off + KS_NONCE,
                                                      n + KS_TAG, ad, sizeof ad, file + off,
                                                      key) == 0;
}

/* A fresh version-2 header (new salt, this build's limits, no policy) in file. */
static void ks2_header(uint8_t *file)
{
    memcpy(file, KEYSTORE.magic, KS_MAGIC_LEN);
    file[OFF_VERSION] = KS2_VERSION;
    file[OFF_ALG] = KS_ALG_ARGON2ID_XCHACHA;
    put_u64(file + OFF_OPS, crypto_pwhash_OPSLIMIT_INTERACTIVE);
    put_u64(file + OFF_MEM, crypto_pwhash_MEMLIMIT_INTERACTIVE);
    randombytes_buf(file + OFF_SALT, KS_SALT);
    put_u32(file + KS2_OFF_MAX, 0);
    put_u32(file + KS2_OFF_FAILS, 0);
}

/* Writes a new file (nothing at path before). */
static enum mrf_status ks2_write(const char *path, const uint8_t *file, struct mrf_error *err)
{
    return file_write_atomic(path, file, KS2_LEN, 0600, err);
}

/* Replaces the keystore at path with file atomically, then overwrites the replaced copy (still
 * open here, no longer named) with random bytes, so an older copy of slot A does not stay
 * behind in free blocks. */
static enum mrf_status ks2_replace(const char *path, const uint8_t *file, struct mrf_error *err)
{
    int old = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    enum mrf_status rc = ks2_write(path, file, err);
    struct stat st;

    if (old >= 0) {
        if (rc == MRF_OK && fstat(old, &st) == 0 && overwrite_random(old, st.st_size) == 0)
            (void)fsync(old);
        close(old);
    }
    return rc;
}

/* Writes the count of wrong passphrases into the keystore at path in place and syncs it. In
 * place, not by a new file: no copy of the slots is made, and the four bytes are not part of
 * what any key opens, so a torn write cannot cost a key. */
static enum mrf_status put_count(const char *path, uint32_t fails, struct mrf_error *err)
{
    uint8_t b[4];
    int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    int e;

    put_u32(b, fails);
    if (fd < 0)
        return mrf_error_set(err, MRF_E_IO, "cannot open %s: %s", path, strerror(errno));
    if (pwrite(fd, b, sizeof b, KS2_OFF_FAILS) != (ssize_t)sizeof b || fdatasync(fd) != 0) {
        e = errno;
        close(fd);
        return mrf_error_set(err, MRF_E_IO, "cannot write %s: %s", path, strerror(e));
    }
    if (close(fd) != 0)
        return mrf_error_set(err, MRF_E_IO, "cannot write %s: %s", path, strerror(errno));
    return MRF_OK;
}

/* Reads the keystore path into data (len bytes; the caller frees), with the messages of
 * read_keyfile for a missing, unreadable, oversized or foreign file. */
static enum mrf_status ks_read(const char *path, uint8_t **data, size_t *len, struct mrf_error *err)
{
    enum mrf_status rc = file_read_all(path, KS_FILE_CAP, data, len, err);

    if (rc == MRF_E_TOOBIG)
        rc =
            mrf_error_set(err, MRF_E_INVALID, "keystore %s: not a keystore file (too large)", path);
    else if (rc == MRF_E_NOTFOUND)
        rc = mrf_error_set(err, MRF_E_NOTFOUND, "keystore %s: no such file; check the path", path);
    else if (rc == MRF_OK && (*len < KS_HEADER || memcmp(*data, KEYSTORE.magic, KS_MAGIC_LEN)))
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "keystore %s: not a keystore file; check the path or restore it from "
                           "a backup",
                           path);
    return rc;
}

/* The Nth wrong passphrase in a row with a limit of N: the keystore goes as `mrf wipe` takes
 * it. Always MRF_E_PASSPHRASE, saying so. */
static enum mrf_status destroyed_after(const char *path, uint32_t n, struct mrf_error *err)
{
    struct mrf_error ignored;

    (void)keystore_destroy(path, &ignored);
    return mrf_error_set(err, MRF_E_PASSPHRASE,
                         "keystore: the passphrase is wrong, %u times in a row: the keystore %s "
                         "is destroyed, as 'mrf passwd --max-failures %u' set; nothing sealed "
                         "on this device opens any more. What was synced is safe at HQ; to use "
                         "this laptop again run 'mrf wipe --yes' and 'mrf init' with a new token",
                         (unsigned)n, path, (unsigned)n);
}

/* After a try that did not open slot A: the same file work whether the passphrase was the
 * duress one or only wrong, so neither the time nor the message tells them apart. duress: the
 * keystore is destroyed as `mrf wipe` destroys it and replaced by a decoy of the same form
 * (same header and count, random slots) that no passphrase opens; else a scratch file of the
 * same size is written and destroyed the same way. Errors are not reported: either answer
 * would tell the two apart. */
static void after_wrong(const char *path, uint8_t *file, int duress)
{
    struct mrf_error ignored;
    char *pad;

    if (duress) {
        (void)keystore_destroy(path, &ignored);
        randombytes_buf(file + KS2_OFF_A, KS2_LEN - KS2_OFF_A);
        (void)ks2_write(path, file, &ignored);
        return;
    }
    pad = xasprintf("%s.pad", path);
    {
        uint8_t junk[KS2_LEN];
        randombytes_buf(junk, sizeof junk);
        (void)ks2_write(pad, junk, &ignored);
    }
    (void)keystore_destroy(pad, &ignored);
    x_free(pad);
}

/* Unlocks the keystore path with passphrase into ks (the caller ks_releases it, also on
 * failure). A version-1 file is opened as before and upgraded to version 2 in place (same
 * salt, so the same key; a failed upgrade is tried again next time). Version 2: the try is
 * counted durably before the key is derived, both slots are tried, and then
 *   slot A opens:  the count goes back to 0; MRF_OK;
 *   slot B opens:  the duress passphrase: the keystore is destroyed (after_wrong);
 *   neither:       a wrong passphrase;
 * both of the last two are MRF_E_PASSPHRASE with the same message, unless the count reached
 * the limit: then the keystore is destroyed before the key is derived, written back only if
 * slot A opens, and the message says so. MRF_E_IO if a limit is
 * set and the try cannot be counted (nothing is tried then). */
static enum mrf_status ks_unlock(const char *path, const char *passphrase, struct ks *ks,
                                 struct mrf_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    uint8_t duress[KS2_DURESS_LEN];
    uint64_t ops, mem;
    uint32_t max, fails;
    int a, b, last;
    struct mrf_error werr;
    enum mrf_status rc;

    memset(ks, 0, sizeof *ks);
    ks->lockfd = lock_dir_of(path);
    rc = ks_read(path, &data, &len, err);
    if (rc != MRF_OK)
        goto out;
    if (data[OFF_VERSION] == KS_VERSION) { /* version 1: no counter, no duress slot */
        rc = read_keyfile(&KEYSTORE, path, passphrase, ks->plain, err);
        if (rc != MRF_OK)
            goto out;
        rc = derive(ks->key, &KEYSTORE, passphrase, data + OFF_SALT, get_u64(data + OFF_OPS),
                    get_u64(data + OFF_MEM), err);
        if (rc != MRF_OK)
            goto out;
        memcpy(ks->file, data, KS_AUTH_LEN);
        ks->file[OFF_VERSION] = KS2_VERSION;
        put_u32(ks->file + KS2_OFF_MAX, 0);
        put_u32(ks->file + KS2_OFF_FAILS, 0);
        slot_seal(ks->file, KS2_OFF_A, ks->plain, SECRETS_LEN, SLOT_A, ks->key);
        randombytes_buf(ks->file + KS2_OFF_B, KS2_B_LEN);
        (void)ks2_replace(path, ks->file, &werr);
        goto out;
    }
    if (data[OFF_VERSION] != KS2_VERSION || data[OFF_ALG] != KS_ALG_ARGON2ID_XCHACHA) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "keystore %s: format version %u, algorithm %u is not supported by "
                           "this mrf; use a newer one",
                           path, data[OFF_VERSION], data[OFF_ALG]);
        goto out;
    }
    ops = get_u64(data + OFF_OPS);
    mem = get_u64(data + OFF_MEM);
    if (ops < crypto_pwhash_OPSLIMIT_MIN || ops > KS_MAX_OPSLIMIT ||
        mem < crypto_pwhash_MEMLIMIT_MIN || mem > KS_MAX_MEMLIMIT || len != KS2_LEN) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "keystore %s: the file is damaged (%s); restore it from a backup", path,
                           len != KS2_LEN ? "wrong size" : "key derivation limits out of range");
        goto out;
    }
    memcpy(ks->file, data, KS2_LEN);
    max = get_u32(ks->file + KS2_OFF_MAX);
    fails = get_u32(ks->file + KS2_OFF_FAILS);
    if (fails < UINT32_MAX)
        fails++;
    put_u32(ks->file + KS2_OFF_FAILS, fails);
    /* Counted before the passphrase is tried: a process killed during the derivation has
     * used up its try. */
    rc = put_count(path, fails, &werr);
    if (rc != MRF_OK && max > 0) {
        rc = mrf_error_set(err, MRF_E_IO,
                           "keystore %s: cannot count this try (%s), and a limit of wrong "
                           "passphrases is set, so nothing was tried; make the home writable",
                           path, werr.msg);
        goto out;
    }
    /* The last try allowed destroys the keystore before it is made and puts it back only if
     * the passphrase is right: killing the process once the derivation is done, before it
     * could act on a wrong answer, saves nothing. */
    last = max > 0 && fails >= max;
    if (last && keystore_destroy(path, &werr) != MRF_OK) {
        rc = mrf_error_set(err, MRF_E_IO, "keystore: %s", werr.msg);
        goto out;
    }
    rc = derive(ks->key, &KEYSTORE, passphrase, ks->file + OFF_SALT, ops, mem, err);
    if (rc != MRF_OK)
        goto out;
    a = slot_open(ks->file, KS2_OFF_A, ks->plain, SECRETS_LEN, SLOT_A, ks->key);
    b = slot_open(ks->file, KS2_OFF_B, duress, KS2_DURESS_LEN, SLOT_B, ks->key);
    if (a) {
        put_u32(ks->file + KS2_OFF_FAILS, 0);
        rc = last ? ks2_write(path, ks->file, err) : put_count(path, 0, err);
        if (max == 0)
            rc = MRF_OK; /* a read-only home: nothing to count against */
        goto out;
    }
    if (last) {
        rc = destroyed_after(path, max, err);
        goto out;
    }
    after_wrong(path, ks->file, b);
    rc = mrf_error_set(err, MRF_E_PASSPHRASE,
                       "keystore: the passphrase is wrong (or %s is damaged); try again", path);
out:
    sodium_memzero(duress, sizeof duress);
    if (data != NULL) {
        sodium_memzero(data, len);
        x_free(data);
    }
    return rc;
}

/* Creates the keystore path holding s under passphrase, in version 2 with a random slot B.
 * MRF_E_STATE if path exists. */
enum mrf_status keystore_create(const char *path, const char *passphrase,
                                const struct mrf_secrets *s, struct mrf_error *err)
{
    struct ks ks;
    enum mrf_status rc;

    assert(path != NULL && passphrase != NULL && s != NULL);
    memset(&ks, 0, sizeof ks);
    ks.lockfd = -1;
    rc = refuse_existing(&KEYSTORE, path, err);
    if (rc != MRF_OK)
        goto out;
    ks2_header(ks.file);
    rc = derive(ks.key, &KEYSTORE, passphrase, ks.file + OFF_SALT,
                crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE, err);
    if (rc != MRF_OK)
        goto out;
    secrets_serialize(ks.plain, s);
    slot_seal(ks.file, KS2_OFF_A, ks.plain, SECRETS_LEN, SLOT_A, ks.key);
    randombytes_buf(ks.file + KS2_OFF_B, KS2_B_LEN);
    rc = ks2_write(path, ks.file, err);
out:
    ks_release(&ks);
    return rc;
}

/* Opens the keystore path. On success *out is in sodium_malloc memory, owned by the caller
 * (mrf_secrets_free); on failure *out is NULL. A file whose public keys do not belong to its
 * secret keys is MRF_E_INVALID. */
enum mrf_status keystore_open(const char *path, const char *passphrase, struct mrf_secrets **out,
                              struct mrf_error *err)
{
    struct ks ks;
    uint8_t sign_pk[MRF_SIGN_PK];
    struct mrf_secrets *s = NULL;
    enum mrf_status rc;

    assert(path != NULL && passphrase != NULL && out != NULL);
    *out = NULL;
    rc = ks_unlock(path, passphrase, &ks, err);
    if (rc != MRF_OK)
        goto out;
    s = xsecure_malloc(sizeof *s);
    secrets_deserialize(s, ks.plain);
    crypto_sign_ed25519_sk_to_pk(sign_pk, s->sign_sk);
    if (sodium_memcmp(sign_pk, s->pub.sign_pk, MRF_SIGN_PK) != 0 ||
        !box_pair_matches(s->pub.box_pk, s->box_sk)) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "keystore %s: its public keys do not match its secret keys; restore "
                           "it from a backup",
                           path);
        goto out;
    }
    *out = s;
    s = NULL;
out:
    mrf_secrets_free(s);
    ks_release(&ks);
    return rc;
}

/* Re-encrypts slot A of path under new_pass (same salt, so slot B, the duress passphrase,
 * still opens under its own), atomically. MRF_E_PASSPHRASE if old_pass is wrong; MRF_E_RULE
 * if new_pass is the duress passphrase. */
enum mrf_status keystore_rekey(const char *path, const char *old_pass, const char *new_pass,
                               struct mrf_error *err)
{
    struct ks ks;
    uint8_t key[KS_KEY], mark[KS2_DURESS_LEN];
    enum mrf_status rc;

    assert(path != NULL && old_pass != NULL && new_pass != NULL);
    rc = ks_unlock(path, old_pass, &ks, err);
    if (rc == MRF_OK)
        rc = derive(key, &KEYSTORE, new_pass, ks.file + OFF_SALT, get_u64(ks.file + OFF_OPS),
                    get_u64(ks.file + OFF_MEM), err);
    if (rc == MRF_OK && slot_open(ks.file, KS2_OFF_B, mark, sizeof mark, SLOT_B, key))
        rc = mrf_error_set(err, MRF_E_RULE,
                           "passwd: the new passphrase is this device's duress passphrase; "
                           "choose another (or set another duress passphrase first)");
    if (rc == MRF_OK) {
        slot_seal(ks.file, KS2_OFF_A, ks.plain, SECRETS_LEN, SLOT_A, key);
        rc = ks2_replace(path, ks.file, err);
    }
    sodium_memzero(key, sizeof key);
    sodium_memzero(mark, sizeof mark);
    ks_release(&ks);
    return rc;
}

/* Replaces the secrets of the keystore path, which passphrase must open, with s under the same
 * passphrase (fresh nonce; slot B and the policy kept), atomically. */
enum mrf_status keystore_update(const char *path, const char *passphrase,
                                const struct mrf_secrets *s, struct mrf_error *err)
{
    struct ks ks;
    enum mrf_status rc;

    assert(path != NULL && passphrase != NULL && s != NULL);
    rc = ks_unlock(path, passphrase, &ks, err);
    if (rc == MRF_OK) {
        secrets_serialize(ks.plain, s);
        slot_seal(ks.file, KS2_OFF_A, ks.plain, SECRETS_LEN, SLOT_A, ks.key);
        rc = ks2_replace(path, ks.file, err);
    }
    ks_release(&ks);
    return rc;
}

enum mrf_status keystore_set_duress(const char *path, const char *passphrase, const char *duress,
                                    struct mrf_error *err)
{
    struct ks ks;
    uint8_t key[KS_KEY], probe[SECRETS_LEN];
    enum mrf_status rc;

    assert(path != NULL && passphrase != NULL);
    rc = ks_unlock(path, passphrase, &ks, err);
    if (rc == MRF_OK && duress != NULL && strcmp(duress, passphrase) == 0)
        rc = mrf_error_set(err, MRF_E_RULE,
                           "passwd: the duress passphrase must differ from the passphrase; "
                           "choose another");
    if (rc == MRF_OK && duress != NULL)
        rc = derive(key, &KEYSTORE, duress, ks.file + OFF_SALT, get_u64(ks.file + OFF_OPS),
                    get_u64(ks.file + OFF_MEM), err);
    if (rc == MRF_OK && duress != NULL &&
        slot_open(ks.file, KS2_OFF_A, probe, SECRETS_LEN, SLOT_A, key))
        rc = mrf_error_set(err, MRF_E_RULE,
                           "passwd: the duress passphrase must differ from the passphrase; "
                           "choose another");
    if (rc == MRF_OK) {
        if (duress != NULL)
            slot_seal(ks.file, KS2_OFF_B, duress_mark, KS2_DURESS_LEN, SLOT_B, key);
        else
            randombytes_buf(ks.file + KS2_OFF_B, KS2_B_LEN);
        rc = ks2_replace(path, ks.file, err);
    }
    sodium_memzero(key, sizeof key);
    sodium_memzero(probe, sizeof probe);
    ks_release(&ks);
    return rc;
}

enum mrf_status keystore_set_max_failures(const char *path, const char *passphrase, uint32_t n,
                                          struct mrf_error *err)
{
    struct ks ks;
    enum mrf_status rc;

    assert(path != NULL && passphrase != NULL);
    if (n > KEYSTORE_MAX_FAILURES)
        return mrf_error_set(err, MRF_E_INVALID,
                             "passwd: --max-failures takes 0 (off) to %d; choose a number in "
                             "that range",
                             KEYSTORE_MAX_FAILURES);
    rc = ks_unlock(path, passphrase, &ks, err);
    if (rc == MRF_OK) {
        put_u32(ks.file + KS2_OFF_MAX, n);
        put_u32(ks.file + KS2_OFF_FAILS, 0);
        rc = ks2_replace(path, ks.file, err);
    }
    ks_release(&ks);
    return rc;
}

enum mrf_status keystore_policy(const char *path, struct keystore_policy *p, struct mrf_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    enum mrf_status rc;

    memset(p, 0, sizeof *p);
    rc = ks_read(path, &data, &len, err);
    if (rc == MRF_OK && data[OFF_VERSION] == KS2_VERSION && len == KS2_LEN) {
        p->max_failures = get_u32(data + KS2_OFF_MAX);
        p->failures = get_u32(data + KS2_OFF_FAILS);
    }
    x_free(data);
    return rc;
}

/* Writes n random bytes to fd from its start. */
static int overwrite_random(int fd, off_t n)
{
    uint8_t chunk[4096];
    off_t done = 0;

    if (lseek(fd, 0, SEEK_SET) != 0)
        return -1;
    while (done < n) {
        size_t want = (size_t)(n - done) < sizeof chunk ? (size_t)(n - done) : sizeof chunk;
        ssize_t w;

        randombytes_buf(chunk, want);
        w = write(fd, chunk, want);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        done += w;
    }
    return 0;
}

/* fsyncs the directory holding path, so the unlink itself is durable. Best effort. */
static void sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int fd;

    if (slash == NULL)
        dir = xstrdup(".");
    else if (slash == path)
        dir = xstrdup("/");
    else
        dir = xstrndup(path, (size_t)(slash - path));
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    x_free(dir);
}

/* Overwrites path with random bytes of its own length, fsyncs, unlinks it. MRF_OK if it did
 * not exist. Refuses to follow a symbolic link (MRF_E_IO). */
enum mrf_status keystore_destroy(const char *path, struct mrf_error *err)
{
    struct stat st;
    int fd;

    assert(path != NULL);
    fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return MRF_OK;
        return mrf_error_set(err, MRF_E_IO, "keystore %s: cannot open it to destroy it: %s", path,
                             strerror(errno));
    }
    if (fstat(fd, &st) != 0 || overwrite_random(fd, st.st_size) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        return mrf_error_set(err, MRF_E_IO, "keystore %s: cannot overwrite it: %s", path,
                             strerror(e));
    }
    if (close(fd) != 0)
        return mrf_error_set(err, MRF_E_IO, "keystore %s: cannot overwrite it: %s", path,
                             strerror(errno));
    if (unlink(path) != 0 && errno != ENOENT)
        return mrf_error_set(err, MRF_E_IO, "keystore %s: overwritten but cannot remove it: %s",
                             path, strerror(errno));
    sync_parent(path);
    return MRF_OK;
}

/* 1 if pk is the public key of the Ed25519 secret key sk, else 0. */
static int sign_pair_matches(const uint8_t *pk, const uint8_t *sk)
{
    uint8_t derived[MRF_SIGN_PK];
    int ok;

    crypto_sign_ed25519_sk_to_pk(derived, sk);
    ok = sodium_memcmp(derived, pk, MRF_SIGN_PK) == 0;
    sodium_memzero(derived, sizeof derived);
    return ok;
}

/* A key file holding one key pair, pk || sk: the escrow key (box) and the officer key (sign). */
struct pair {
    const struct kind *file;
    size_t pk_len, sk_len;
    int (*matches)(const uint8_t *pk, const uint8_t *sk);
};

static const struct pair BOXPAIR = {&BOXKEY, MRF_BOX_PK, MRF_BOX_SK, box_pair_matches};
static const struct pair SIGNPAIR = {&SIGNKEY, MRF_SIGN_PK, MRF_SIGN_SK, sign_pair_matches};

/* Creates the key file path of kind k holding pk || sk under passphrase. MRF_E_STATE if
 * path exists: a key is never silently replaced. */
static enum mrf_status pair_store(const struct pair *k, const char *path, const char *passphrase,
                                  const uint8_t *pk, const uint8_t *sk, struct mrf_error *err)
{
    uint8_t plain[MAX_PLAIN];
    enum mrf_status rc;

    assert(path != NULL && passphrase != NULL && pk != NULL && sk != NULL);
    rc = refuse_existing(k->file, path, err);
    if (rc != MRF_OK)
        return rc;
    memcpy(plain, pk, k->pk_len);
    memcpy(plain + k->pk_len, sk, k->sk_len);
    rc = write_keyfile(k->file, path, passphrase, plain, err);
    sodium_memzero(plain, sizeof plain);
    return rc;
}

/* Opens the key file path of kind k: pk_out = its public key, *sk_out = its secret key in
 * sodium_malloc memory (k->sk_len bytes, the caller sodium_frees it). On failure pk_out is
 * zero and *sk_out NULL. A pair that does not match is MRF_E_INVALID. */
static enum mrf_status pair_load(const struct pair *k, const char *path, const char *passphrase,
                                 uint8_t *pk_out, uint8_t **sk_out, struct mrf_error *err)
{
    uint8_t plain[MAX_PLAIN];
    enum mrf_status rc;

    assert(path != NULL && passphrase != NULL && pk_out != NULL && sk_out != NULL);
    *sk_out = NULL;
    memset(pk_out, 0, k->pk_len);
    rc = read_keyfile(k->file, path, passphrase, plain, err);
    if (rc != MRF_OK)
        goto out;
    if (!k->matches(plain, plain + k->pk_len)) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "%s %s: its public key does not match its secret key; restore it "
                           "from a backup",
                           k->file->what, path);
        goto out;
    }
    *sk_out = xsecure_malloc(k->sk_len);
    memcpy(*sk_out, plain + k->pk_len, k->sk_len);
    memcpy(pk_out, plain, k->pk_len);
out:
    sodium_memzero(plain, sizeof plain);
    return rc;
}

enum mrf_status boxkey_store(const char *path, const char *passphrase, const uint8_t pk[MRF_BOX_PK],
                             const uint8_t *sk, struct mrf_error *err)
{
    return pair_store(&BOXPAIR, path, passphrase, pk, sk, err);
}

enum mrf_status boxkey_load(const char *path, const char *passphrase, uint8_t pk_out[MRF_BOX_PK],
                            uint8_t **sk_out, struct mrf_error *err)
{
    return pair_load(&BOXPAIR, path, passphrase, pk_out, sk_out, err);
}

enum mrf_status signkey_store(const char *path, const char *passphrase,
                              const uint8_t pk[MRF_SIGN_PK], const uint8_t *sk,
                              struct mrf_error *err)
{
    return pair_store(&SIGNPAIR, path, passphrase, pk, sk, err);
}

enum mrf_status signkey_load(const char *path, const char *passphrase, uint8_t pk_out[MRF_SIGN_PK],
                             uint8_t **sk_out, struct mrf_error *err)
{
    return pair_load(&SIGNPAIR, path, passphrase, pk_out, sk_out, err);
}
