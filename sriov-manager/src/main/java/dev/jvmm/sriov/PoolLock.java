package dev.jvmm.sriov;

import dev.jvmm.sys.FileErrors;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The exclusive lock of one VF pool (one PF): a {@link FileLock} on {@code <pool dir>/.lock}, which excludes other
 * processes, taken under a per-file lock of this JVM, because file locks belong to the whole process: the JVM
 * refuses a second overlapping lock ({@code OverlappingFileLockException}) instead of making a second thread wait.
 * The kernel drops the file lock when its process dies, so a killed holder never leaves the pool locked. The lock
 * file is never deleted: a process waiting on a deleted file's lock would not exclude one that locks the new file.
 */
final class PoolLock implements AutoCloseable {
    static final String FILE = ".lock";
    private static final ConcurrentHashMap<Path, ReentrantLock> IN_JVM = new ConcurrentHashMap<>();
    private static final long POLL_MS = 20;
    private final ReentrantLock inJvm;
    private final FileChannel channel;
    private boolean closed;

    private PoolLock(ReentrantLock inJvm, FileChannel channel) {
        this.inJvm = inJvm;
        this.channel = channel;
    }

    /**
     * Takes the lock of the pool in {@code dir} (created if missing), waiting up to {@code timeout} for another thread
     * or process that holds it; TIMEOUT after that, naming the lock file.
     */
    static PoolLock take(Path dir, Duration timeout) {
        return take(dir, timeout, "VF pool lock", "a VF being taken or given back takes seconds");
    }

    /**
     * {@link #take(Path, Duration)} for another lock of this kind: {@code what} names it in errors ("SR-IOV apply
     * lock"), {@code usual} says how long its holder usually keeps it.
     */
    static PoolLock take(Path dir, Duration timeout, String what, String usual) {
        Path file;
        try {
            Files.createDirectories(dir);
            file = dir.toRealPath().resolve(FILE);
        } catch (IOException e) {
            throw new SriovException(SriovException.Reason.LEASE, "cannot create the directory " + dir + " of the "
                    + what + ": " + FileErrors.describe(e), e);
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        ReentrantLock inJvm = IN_JVM.computeIfAbsent(file, k -> new ReentrantLock());
        if (inJvm.isHeldByCurrentThread()) {
            throw new IllegalStateException("pool lock " + file + " taken twice by one thread");
        }
        try {
            if (!inJvm.tryLock(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
                throw busy(what, usual, file, timeout, "another thread of this process");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SriovException(SriovException.Reason.TIMEOUT, "interrupted waiting for the " + what + " " + file, e);
        }
        FileChannel ch = null;
        try {
            ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            while (true) {
                FileLock l = ch.tryLock();
                if (l != null) {
                    return new PoolLock(inJvm, ch);
                }
                if (System.nanoTime() > deadline) {
                    throw busy(what, usual, file, timeout, "another process ('fuser -v " + file + "' lists the processes that have it open)");
                }
                Thread.sleep(POLL_MS);
            }
        } catch (IOException e) {
            release(inJvm, ch);
            throw new SriovException(SriovException.Reason.LEASE, "cannot lock " + file + ": " + FileErrors.describe(e), e);
        } catch (InterruptedException e) {
            release(inJvm, ch);
            Thread.currentThread().interrupt();
            throw new SriovException(SriovException.Reason.TIMEOUT, "interrupted waiting for the " + what + " " + file, e);
        } catch (RuntimeException e) {
            release(inJvm, ch);
            throw e;
        }
    }

    private static SriovException busy(String what, String usual, Path file, Duration timeout, String who) {
        return new SriovException(SriovException.Reason.TIMEOUT, "the " + what + " " + file + " is still held by " + who
                + " after " + (timeout.toMillis() < 1000 ? timeout.toMillis() + " ms" : timeout.toSeconds() + " s") + " ("
                + usual + "; a longer wait means that process hangs)");
    }

    private static void release(ReentrantLock inJvm, FileChannel ch) {
        try {
            if (ch != null) {
                ch.close(); // also releases the file lock
            }
        } catch (IOException e) {
            // nothing was locked through it, or the lock goes with the channel anyway
        } finally {
            inJvm.unlock();
        }
    }

    /** Releases the file lock, then this JVM's. */
    @Override
    public void close() {
        if (!closed) {
            closed = true;
            release(inJvm, channel);
        }
    }
}
