/* keystore — secret keys at rest under a passphrase. Two kinds of file share one format: the
 * keystore of a device or of HQ ("MRFKS", a serialized struct mrf_secrets) and the box keystore
 * of the escrow key ("MRFBK", pk || sk). The layout, all integers little-endian:
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
 * keystore_destroy overwrites before unlinking, but on journaling or flash storage the old
 * blocks may survive: crypto-shredding rests on the passphrase, which the overwrite backs up. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Creates the keystore path holding s under passphrase. MRF_E_STATE if path exists. */
enum mrf_status keystore_create(const char *path, const char *passphrase,
                                const struct mrf_secrets *s, struct mrf_error *err)
{
    uint8_t plain[SECRETS_LEN];
    enum mrf_status rc;

    assert(path != NULL && passphrase != NULL && s != NULL);
    rc = refuse_existing(&KEYSTORE, path, err);
    if (rc != MRF_OK)
        return rc;
    secrets_serialize(plain, s);
    rc = write_keyfile(&KEYSTORE, path, passphrase, plain, err);
    sodium_memzero(plain, sizeof plain);
    return rc;
}

/* Opens the keystore path. On success *out is in sodium_malloc memory, owned by the caller
 * (mrf_secrets_free); on failure *out is NULL. A file whose public keys do not belong to its
 * secret keys is MRF_E_INVALID. */
enum mrf_status keystore_open(const char *path, const char *passphrase, struct mrf_secrets **out,
                              struct mrf_error *err)
{
    uint8_t plain[SECRETS_LEN];
    uint8_t sign_pk[MRF_SIGN_PK];
    struct mrf_secrets *s = NULL;
    enum mrf_status rc;

    assert(path != NULL && passphrase != NULL && out != NULL);
    *out = NULL;
    rc = read_keyfile(&KEYSTORE, path, passphrase, plain, err);
    if (rc != MRF_OK)
        goto out;
    s = xsecure_malloc(sizeof *s);
    secrets_deserialize(s, plain);
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
    sodium_memzero(plain, sizeof plain);
    return rc;
}

/* Re-encrypts path under new_pass with a fresh salt and nonce, replacing it atomically: a
 * crash leaves either the old or the new file. MRF_E_PASSPHRASE if old_pass is wrong. */
enum mrf_status keystore_rekey(const char *path, const char *old_pass, const char *new_pass,
                               struct mrf_error *err)
{
    uint8_t plain[SECRETS_LEN];
    enum mrf_status rc;

    assert(path != NULL && old_pass != NULL && new_pass != NULL);
    rc = read_keyfile(&KEYSTORE, path, old_pass, plain, err);
    if (rc == MRF_OK)
        rc = write_keyfile(&KEYSTORE, path, new_pass, plain, err);
    sodium_memzero(plain, sizeof plain);
    return rc;
}

/* Replaces the secrets of the keystore path, which passphrase must open, with s under the same
 * passphrase (fresh salt and nonce), atomically. */
enum mrf_status keystore_update(const char *path, const char *passphrase,
                                const struct mrf_secrets *s, struct mrf_error *err)
{
    uint8_t plain[SECRETS_LEN];
    enum mrf_status rc;

    assert(path != NULL && passphrase != NULL && s != NULL);
    rc = read_keyfile(&KEYSTORE, path, passphrase, plain, err);
    if (rc == MRF_OK) {
        secrets_serialize(plain, s);
        rc = write_keyfile(&KEYSTORE, path, passphrase, plain, err);
    }
    sodium_memzero(plain, sizeof plain);
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

/* Creates the box keystore path holding pk || sk under passphrase. MRF_E_STATE if path
 * exists: an escrow key is never silently replaced. */
enum mrf_status boxkey_store(const char *path, const char *passphrase, const uint8_t pk[MRF_BOX_PK],
                             const uint8_t *sk, struct mrf_error *err)
{
    uint8_t plain[BOXKEY_LEN];
    enum mrf_status rc;

    assert(path != NULL && passphrase != NULL && pk != NULL && sk != NULL);
    rc = refuse_existing(&BOXKEY, path, err);
    if (rc != MRF_OK)
        return rc;
    memcpy(plain, pk, MRF_BOX_PK);
    memcpy(plain + MRF_BOX_PK, sk, MRF_BOX_SK);
    rc = write_keyfile(&BOXKEY, path, passphrase, plain, err);
    sodium_memzero(plain, sizeof plain);
    return rc;
}

/* Opens the box keystore path: pk_out = its public key, *sk_out = its secret key in
 * sodium_malloc memory (MRF_BOX_SK bytes, the caller sodium_frees it). On failure pk_out is
 * zero and *sk_out NULL. A pair that does not match is MRF_E_INVALID. */
enum mrf_status boxkey_load(const char *path, const char *passphrase, uint8_t pk_out[MRF_BOX_PK],
                            uint8_t **sk_out, struct mrf_error *err)
{
    uint8_t plain[BOXKEY_LEN];
    uint8_t *sk = NULL;
    enum mrf_status rc;

    assert(path != NULL && passphrase != NULL && pk_out != NULL && sk_out != NULL);
    *sk_out = NULL;
    memset(pk_out, 0, MRF_BOX_PK);
    rc = read_keyfile(&BOXKEY, path, passphrase, plain, err);
    if (rc != MRF_OK)
        goto out;
    if (!box_pair_matches(plain, plain + MRF_BOX_PK)) {
        rc = mrf_error_set(err, MRF_E_INVALID,
                           "escrow key %s: its public key does not match its secret key; "
                           "restore it from a backup",
                           path);
        goto out;
    }
    sk = xsecure_malloc(MRF_BOX_SK);
    memcpy(sk, plain + MRF_BOX_PK, MRF_BOX_SK);
    memcpy(pk_out, plain, MRF_BOX_PK);
    *sk_out = sk;
out:
    sodium_memzero(plain, sizeof plain);
    return rc;
}
