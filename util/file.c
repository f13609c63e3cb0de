/* util/file.c — see file.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/file.h"

int
dt_file_read(const char *path, size_t max, const struct dt_file_mem *mem,
    char **buf, size_t *len, struct stat *st, struct dt_error *err)
{
	struct stat sb;
	char *b = NULL;
	size_t got = 0, size = 0;
	ssize_t r;
	int fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return dt_error_set(err, DT_E_IO, "%s: %s", path,
		    strerror(errno));
	if (fstat(fd, &sb) != 0) {
		dt_error_set(err, DT_E_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		dt_error_set(err, DT_E_IO, "%s: not a regular file", path);
		goto out;
	}
	if (sb.st_size < 0 || (uintmax_t)sb.st_size > max) {
		dt_error_set(err, DT_E_FORMAT, "%s: %jd bytes, more than the "
		    "limit of %zu", path, (intmax_t)sb.st_size, max);
		goto out;
	}
	size = (size_t)sb.st_size;
	if ((b = mem != NULL ? mem->alloc(size + 1) : malloc(size + 1)) ==
	    NULL) {
		dt_error_set(err, DT_E_NOMEM, "%s: out of memory", path);
		goto out;
	}
	/* to the size fstat said; a file that shrank meanwhile is shorter */
	while (got < size) {
		r = read(fd, b + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			dt_error_set(err, DT_E_IO, "%s: %s", path,
			    strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	b[got] = '\0';
	*buf = b;
	*len = got;
	if (st != NULL)
		*st = sb;
	b = NULL;
	rc = 0;
out:
	if (b != NULL) {
		explicit_bzero(b, size + 1);
		if (mem != NULL)
			mem->release(b);
		else
			free(b);
	}
	close(fd);
	return rc;
}

int
dt_file_sync_dir(const char *path, struct dt_error *err)
{
	char *dir;
	const char *slash = strrchr(path, '/');
	int dfd, rc = -1;

	if (slash == NULL)
		dir = strdup(".");
	else if (slash == path)
		dir = strdup("/");
	else
		dir = strndup(path, (size_t)(slash - path));
	if (dir == NULL)
		return dt_error_set(err, DT_E_NOMEM, "%s: out of memory",
		    path);
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		dt_error_set(err, DT_E_IO, "%s: %s", dir, strerror(errno));
		goto out;
	}
	/* some file systems cannot sync a directory: nothing more to do */
	if (fsync(dfd) != 0 && errno != EINVAL && errno != EROFS) {
		dt_error_set(err, DT_E_IO, "%s: fsync: %s", dir,
		    strerror(errno));
		close(dfd);
		goto out;
	}
	close(dfd);
	rc = 0;
out:
	free(dir);
	return rc;
}

int
dt_file_open(struct dt_file_out *f, const char *path, enum dt_file_how how,
    int mode, struct dt_error *err)
{
	int e;

	f->fd = -1;
	f->how = how;
	f->tmp = NULL;
	if ((f->path = strdup(path)) == NULL)
		return dt_error_set(err, DT_E_NOMEM, "%s: out of memory",
		    path);
	if (how == DT_FILE_EXCL)
		f->tmp = f->path;
	else if (asprintf(&f->tmp, "%s.tmp", path) < 0) {
		f->tmp = NULL;
		dt_error_set(err, DT_E_NOMEM, "%s: out of memory", path);
		goto fail;
	}
	f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC |
	    (how == DT_FILE_EXCL ? O_EXCL : O_TRUNC), mode);
	if (f->fd == -1) {
		e = errno;
		if (e == EEXIST && how == DT_FILE_EXCL)
			dt_error_set(err, DT_E_EXISTS, "%s: already exists "
			    "(refusing to overwrite it)", path);
		else
			dt_error_set(err, DT_E_IO, "%s: %s", f->tmp,
			    strerror(e));
		/* nothing of ours to remove */
		goto fail;
	}
	/* the mode asked for, whatever the umask */
	if (how == DT_FILE_EXCL && fchmod(f->fd, (mode_t)mode) != 0) {
		dt_error_set(err, DT_E_IO, "%s: %s", path, strerror(errno));
		dt_file_abort(f);
		return -1;
	}
	return 0;
fail:
	if (f->tmp != f->path)
		free(f->tmp);
	free(f->path);
	f->tmp = f->path = NULL;
	return -1;
}

int
dt_file_write(struct dt_file_out *f, const void *p, size_t n,
    struct dt_error *err)
{
	const char *b = p;
	ssize_t w;

	while (n > 0) {
		w = write(f->fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return dt_error_set(err, DT_E_IO, "%s: %s", f->tmp,
			    w < 0 ? strerror(errno) : "short write");
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

int
dt_file_commit(struct dt_file_out *f, struct dt_error *err)
{
	int fd = f->fd;

	f->fd = -1;
	if (fsync(fd) != 0) {
		dt_error_set(err, DT_E_IO, "%s: %s", f->tmp, strerror(errno));
		close(fd);
		goto fail;
	}
	if (close(fd) != 0) {
		dt_error_set(err, DT_E_IO, "%s: %s", f->tmp, strerror(errno));
		goto fail;
	}
	if (f->how == DT_FILE_REPLACE && rename(f->tmp, f->path) != 0) {
		dt_error_set(err, DT_E_IO, "%s: rename: %s", f->path,
		    strerror(errno));
		goto fail;
	}
	/* the file is in place; now its name is made durable */
	if (f->tmp != f->path)
		free(f->tmp);
	f->tmp = NULL;
	if (dt_file_sync_dir(f->path, err) != 0) {
		free(f->path);
		f->path = NULL;
		return -1;
	}
	free(f->path);
	f->path = NULL;
	return 0;
fail:
	dt_file_abort(f);
	return -1;
}

void
dt_file_abort(struct dt_file_out *f)
{
	if (f->fd != -1)
		close(f->fd);
	f->fd = -1;
	if (f->tmp != NULL)
		(void)unlink(f->tmp);
	if (f->tmp != f->path)
		free(f->tmp);
	free(f->path);
	f->tmp = f->path = NULL;
}

static int
write_whole(const char *path, enum dt_file_how how, const void *buf,
    size_t len, int mode, struct dt_error *err)
{
	struct dt_file_out f;

	if (dt_file_open(&f, path, how, mode, err) != 0)
		return -1;
	if (dt_file_write(&f, buf, len, err) != 0) {
		dt_file_abort(&f);
		return -1;
	}
	return dt_file_commit(&f, err);
}

int
dt_file_replace(const char *path, const void *buf, size_t len, int mode,
    struct dt_error *err)
{
	return write_whole(path, DT_FILE_REPLACE, buf, len, mode, err);
}

int
dt_file_create(const char *path, const void *buf, size_t len, int mode,
    struct dt_error *err)
{
	return write_whole(path, DT_FILE_EXCL, buf, len, mode, err);
}
