package dev.jvmm.sys;

import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.NotLinkException;

/**
 * Human text for file-system failures. {@code java.nio.file} reports EACCES, ENOENT and EEXIST as exception
 * classes whose message is the bare path ("/var/tmp/x"), which tells a user nothing; this names the path and the
 * reason ("/var/tmp/x: permission denied"). Other {@link FileSystemException}s carry the kernel's text (ENOSPC:
 * "No space left on device", EROFS: "Read-only file system"), which is kept.
 */
public final class FileErrors {
    private FileErrors() {
    }

    /** The message of {@code t}, with path and reason spelled out when it is a file-system failure. */
    public static String describe(Throwable t) {
        if (t instanceof FileSystemException f) {
            StringBuilder sb = new StringBuilder();
            if (f.getFile() != null) {
                sb.append(f.getFile());
            }
            if (f.getOtherFile() != null) {
                sb.append(" -> ").append(f.getOtherFile());
            }
            return sb.append(sb.length() > 0 ? ": " : "").append(reason(f)).toString();
        }
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
    }

    /** Why {@code e} happened without its path (for a message that names the path itself). */
    public static String reason(java.io.IOException e) {
        return e instanceof FileSystemException f ? reason(f) : describe(e);
    }

    /** Why a file-system operation failed, in the kernel's words (lower case). */
    public static String reason(FileSystemException f) {
        if (f.getReason() != null && !f.getReason().isBlank()) {
            return f.getReason().substring(0, 1).toLowerCase(java.util.Locale.ROOT) + f.getReason().substring(1);
        }
        if (f instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (f instanceof NoSuchFileException) {
            return "no such file or directory";
        }
        if (f instanceof FileAlreadyExistsException) {
            return "file exists";
        }
        if (f instanceof DirectoryNotEmptyException) {
            return "directory not empty";
        }
        if (f instanceof NotDirectoryException) {
            return "not a directory";
        }
        if (f instanceof NotLinkException) {
            return "not a symbolic link";
        }
        return f.getClass().getSimpleName();
    }
}
