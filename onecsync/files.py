"""Files in folders others may write to: ours are created new and whole, theirs opened safely.

Public API: `create_new(folder, prefix, suffix, mode)`, `atomic_file(target, mode)` (the one
writer of a whole local file), `replace_with(target, fill, mode)`, `fsync_folder(folder)`,
`write_private(path, data)`, `private_folder(folder)`,
`write_atomically(target, fill, mode, suffix="")`, `open_regular(path)`, `open_named(path)`,
`read_small(path, cap)`, `FdReader`, `FdWriter`, `open_ours(path, flags)`, `entry_kind(mode)`,
`is_ours(st)`, `NotRegular`, `TEMP_PREFIX`.

An exchange folder is writable by a base's users and by whoever mounts the share, so every file
onecsync makes there (and, the same way, in its own folders) is created by `create_new`:
`O_CREAT|O_EXCL|O_NOFOLLOW` under a name nobody can predict. Whatever sits under that name (a
planted link, a directory, a file) makes it pick another name; nothing is ever written through a
link, and a finished file only reaches its real name by a rename, which replaces a link instead of
following it. A file someone else left is opened by `open_regular`: never through a link, never
blocking (a FIFO would hang the run), and judged by `fstat` of the opened descriptor, so that
what is checked is what is read.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import secrets
import stat
from pathlib import Path
from typing import IO
from typing import Callable
from typing import Iterator
from typing import NoReturn

from onecsync.errors import ConfigError
from onecsync.i18n import N_

TEMP_PREFIX = ".onecsync-tmp-"
_NEW = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_THEIRS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_TRIES = 8


def create_new(folder: Path, prefix: str, suffix: str = "",
               mode: int | None = 0o600) -> tuple[int, Path]:
    """A new, empty file of ours in `folder`, open for writing (and reading back): (fd, path).

    The name is `prefix`, 16 random hex digits and `suffix`. An entry already there under the
    name is never opened: another name is drawn (an attacker cannot guess the next one either).
    A `mode` is set on the descriptor, so the umask does not widen or narrow it; `mode=None`
    (a message the base's user must read) leaves it to the umask, the admin's choice.
    """
    for _ in range(_TRIES):
        path = folder / f"{prefix}{secrets.token_hex(8)}{suffix}"
        try:
            fd = os.open(path, _NEW, 0o666 if mode is None else mode)
        except FileExistsError:
            continue
        if mode is not None:
            with contextlib.suppress(OSError):  # a share that keeps its own modes: still ours
                os.fchmod(fd, mode)
        return fd, path
    raise FileExistsError(errno.EEXIST, N_(f"no new file name could be made after {_TRIES} tries"),
                          str(folder))


@contextlib.contextmanager
def atomic_file(target: Path, mode: int | None = 0o600, *, suffix: str = "",
                prefix: str = TEMP_PREFIX) -> Iterator[IO[bytes]]:
    """The one writer of a whole local file: `with atomic_file(target, 0o644) as f: f.write(…)`.

    `f` is a new file beside `target` (create_new: O_EXCL|O_NOFOLLOW, a name nobody can
    predict); when the block ends, it is flushed, fsynced, renamed over `target` (a rename
    replaces a link there, never writes through it) and the folder fsynced. Any exception in
    the block or in those steps removes the new file and leaves `target` as it was; the
    clean-up itself never raises (on a full disk, closing the file fails again)."""
    folder = target.parent if str(target.parent) else Path(".")
    fd, tmp = create_new(folder, prefix, suffix, mode)
    f = io.BufferedWriter(FdWriter(fd))
    try:
        yield f
        f.flush()
        os.fsync(fd)
        f.close()
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError, ValueError):
            f.close()
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_folder(folder)


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` survive a power cut, where the folder lets us: one we may
    write but not list (mode 0300), or a share whose server refuses fsync on a folder, has the
    file in place all the same, and failing then would be a lie."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def replace_with(target: Path, fill: Callable[[IO[bytes]], object], mode: int,
                 suffix: str = "", prefix: str = TEMP_PREFIX) -> Path:
    """`atomic_file` with a function that fills the file; raises the OSError of a failure."""
    with atomic_file(target, mode, suffix=suffix, prefix=prefix) as f:
        fill(f)
    return target


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by us only, in full or not at all."""
    replace_with(path, lambda f: f.write(data), 0o600)


def private_folder(folder: Path) -> None:
    """Make `folder` (its parent exists) ours alone, 0700, whatever mode it was left with."""
    folder.mkdir(mode=0o700, exist_ok=True)
    if folder.stat().st_mode & 0o077:
        os.chmod(folder, 0o700)


def write_atomically(target: Path, fill: Callable[[IO[bytes]], object], mode: int,
                     suffix: str = "") -> Path:
    """`replace_with` for files a person or a 1C base reads at any moment (a config `init`
    writes, a settings-only message); a folder we cannot write to is the setup's problem:
    ConfigError, the one-line remedy kind."""
    try:
        return replace_with(target, fill, mode, suffix)
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror or exc}") from None


def entry_kind(mode: int) -> str:
    """What a folder entry is, in the words of the error lines."""
    for test, name in ((stat.S_ISLNK, "symbolic link"), (stat.S_ISDIR, "directory"),
                       (stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "device"), (stat.S_ISBLK, "device")):
        if test(mode):
            return name
    return "regular file" if stat.S_ISREG(mode) else "special file"


def is_ours(st: os.stat_result) -> bool:
    """Could we have made this entry? Only a regular file (not a link) of our own user."""
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid()


class NotRegular(OSError):
    """The entry is not a regular file (`kind` says what it is); nothing of it was read."""

    def __init__(self, path: Path, kind: str) -> None:
        super().__init__(errno.EINVAL, f"a {kind}, not a regular file", str(path))
        self.kind = kind


def _refused_open(path: Path, exc: OSError, not_regular: tuple[int, ...]) -> NoReturn:
    """Raise what a failed open of `path` means: NotRegular naming what is there where the
    errno says the name is no regular file (a link, a FIFO without a writer, a socket...),
    else the OSError itself."""
    if exc.errno in not_regular:
        try:
            kind = entry_kind(os.lstat(path).st_mode)
        except OSError:
            raise exc from None
        raise NotRegular(path, kind) from None
    raise exc


def open_regular(path: Path) -> tuple[int, os.stat_result]:
    """Open a file someone else wrote, for reading: (fd, its fstat).

    A link (ELOOP), a FIFO, a socket, a device or a directory raises NotRegular; the open never
    blocks, and the check is made on the descriptor itself, not on the name.
    """
    try:
        fd = os.open(path, _THEIRS)
    except OSError as exc:
        _refused_open(path, exc, (errno.ELOOP, errno.ENXIO, errno.EOPNOTSUPP))
    try:
        st = os.fstat(fd)
    except BaseException:
        os.close(fd)
        raise
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotRegular(path, entry_kind(st.st_mode))
    return fd, st


def open_ours(path: Path, flags: int = os.O_RDWR | os.O_CREAT, mode: int = 0o600) -> int:
    """Open (or create) a file of ours under a fixed name (the run lock, a spool file) in a
    folder others might write to: never through a link, never blocking on a FIFO, and only a
    regular file, judged on the descriptor. Anything else raises NotRegular and is left as it is
    (nothing truncated or written through it)."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    except OSError as exc:
        _refused_open(path, exc, (errno.ELOOP, errno.ENXIO, errno.EOPNOTSUPP, errno.EISDIR))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegular(path, entry_kind(st.st_mode))
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_named(path: Path, buffering: int = 1 << 20) -> IO[bytes]:
    """A file an admin names (`validate FILE`) or one of our own folders holds, for reading:
    links are followed, but the open never blocks and only a regular file is read (a FIFO
    hung `validate` until killed); anything else raises NotRegular."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegular(path, entry_kind(st.st_mode))
        os.set_blocking(fd, True)
        return open(fd, "rb", buffering=buffering)  # noqa: SIM115 (the caller closes it)
    except BaseException:
        os.close(fd)
        raise


class TooBig(OSError):
    """The file is larger than its cap; nothing of it was kept."""

    def __init__(self, path: Path, cap: int) -> None:
        super().__init__(errno.EFBIG, f"larger than {cap // 1024} KiB", str(path))


def read_small(path: Path, cap: int) -> bytes:
    """The whole of a small file an admin names (a secret, the config): at most `cap` bytes.

    Links are followed (the admin chose the path), but the open never blocks and only a regular
    file is read, judged on the descriptor; a FIFO, a device (/dev/zero), a directory raise
    NotRegular, a file over `cap` TooBig, so that neither a hang nor a memory blow-up is possible.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegular(path, entry_kind(st.st_mode))
        if st.st_size > cap:
            raise TooBig(path, cap)
        chunks, size = [], 0
        while size <= cap:  # the file may grow after fstat: read at most cap + 1
            chunk = os.read(fd, cap + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > cap:
            raise TooBig(path, cap)
        return b"".join(chunks)
    finally:
        os.close(fd)


class FdWriter(io.RawIOBase):
    """The raw layer of a file we write: plain os.write on the descriptor (closed with it)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        return os.write(self._fd, b)

    def fileno(self) -> int:
        return self._fd

    def close(self) -> None:
        if not self.closed:
            try:
                os.close(self._fd)
            finally:
                super().close()


class FdReader(io.RawIOBase):
    """A seekable binary stream over a descriptor that it does not own: each reader keeps its
    own position (pread), so one open file serves the fingerprint, the parse and the copy."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def readinto(self, b) -> int:
        if self.closed:
            raise ValueError("read of a closed file")
        n = os.preadv(self._fd, [b], self._pos)
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 1:
            offset += self._pos
        elif whence == 2:
            offset += os.fstat(self._fd).st_size
        if offset < 0:
            raise OSError(errno.EINVAL, "negative seek position")
        self._pos = offset
        return offset

    def tell(self) -> int:
        return self._pos
