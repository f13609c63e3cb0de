/*
 * util/file.h — whole files: one capped read, one atomic replace, one
 * exclusive create, each with fsync of the file and of its directory.
 *
 * Every failure fills the caller's struct dt_error with a message that
 * starts with the file's name.
 */
#ifndef DT_UTIL_FILE_H
#define DT_UTIL_FILE_H

#include <stddef.h>
#include <sys/stat.h>

#include "util/error.h"

/* Where dt_file_read puts the bytes: e.g. sodium_malloc/sodium_free for a
 * secret (util/ does not link libsodium itself). */
struct dt_file_mem {
	void *(*alloc)(size_t);
	void (*release)(void *);
};

/*
 * Reads the whole regular file PATH, of at most MAX bytes, into a new
 * buffer of *LEN + 1 bytes whose last byte is NUL.  MEM allocates it (NULL:
 * malloc, freed with free); on failure nothing stays allocated (what was
 * read is wiped first).  When ST is not NULL it receives the file's fstat
 * (for a mode check).  Errors: DT_E_IO (open, stat, read; not a regular
 * file), DT_E_FORMAT (larger than MAX), DT_E_NOMEM.
 */
int dt_file_read(const char *path, size_t max, const struct dt_file_mem *mem,
    char **buf, size_t *len, struct stat *st, struct dt_error *err);

/* How dt_file_open makes the file. */
enum dt_file_how {
	DT_FILE_REPLACE,	/* write PATH.tmp, rename it over PATH */
	DT_FILE_EXCL,		/* create PATH itself; refuse if it exists */
};

/* A file being written: opened, written, then committed or aborted. */
struct dt_file_out {
	int fd;
	enum dt_file_how how;
	char *path, *tmp;	/* tmp == path for DT_FILE_EXCL */
};

/*
 * Opens the file: DT_FILE_REPLACE creates PATH.tmp (truncated; MODE as
 * masked by the umask), DT_FILE_EXCL creates PATH with O_EXCL|O_NOFOLLOW
 * and then sets exactly MODE whatever the umask (DT_E_EXISTS if it is
 * there: "PATH: already exists (refusing to overwrite it)").
 */
int dt_file_open(struct dt_file_out *f, const char *path,
    enum dt_file_how how, int mode, struct dt_error *err);
/* Writes all N bytes (EINTR and short writes retried). */
int dt_file_write(struct dt_file_out *f, const void *p, size_t n,
    struct dt_error *err);
/*
 * fsyncs and closes the file, renames PATH.tmp over PATH (REPLACE), then
 * fsyncs the directory so that the new name is durable.  On failure the
 * file is removed (aborted) as if dt_file_abort had been called.  After a
 * crash at any point PATH is either the old file or the whole new one.
 */
int dt_file_commit(struct dt_file_out *f, struct dt_error *err);
/* Closes and removes what was written (idempotent; fine after commit). */
void dt_file_abort(struct dt_file_out *f);

/* Atomic replace of PATH by the LEN bytes at BUF (open+write+commit). */
int dt_file_replace(const char *path, const void *buf, size_t len, int mode,
    struct dt_error *err);
/* Exclusive create of PATH holding the LEN bytes at BUF, durable. */
int dt_file_create(const char *path, const void *buf, size_t len, int mode,
    struct dt_error *err);
/* fsyncs the directory that holds PATH (the directory of a name). */
int dt_file_sync_dir(const char *path, struct dt_error *err);

#endif /* DT_UTIL_FILE_H */
