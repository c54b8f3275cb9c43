package dev.jvmm.sriov;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * A process as a lease names it: its pid and its start time ({@code starttime}, field 22 of {@code /proc/PID/stat},
 * clock ticks after boot). A pid alone is not enough: after the holder died the kernel may give its pid to another
 * process, which then has another start time. {@code state} and {@code comm} come from the same line.
 */
record ProcessIdentity(long pid, char state, long starttime, String comm) {

    /** The process {@code pid} as {@code proc/PID/stat} shows it, or null when there is no such process. */
    static ProcessIdentity read(Path proc, long pid) {
        String line;
        try {
            line = Files.readString(proc.resolve(Long.toString(pid)).resolve("stat"), StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return null;
        } catch (IOException e) {
            throw new SriovException(SriovException.Reason.LEASE, "cannot read " + proc + "/" + pid + "/stat: " + e.getMessage(), e);
        }
        // "PID (COMM) S PPID ...": comm may hold blanks and parentheses, so the fields start after the last ')'
        int open = line.indexOf('(');
        int close = line.lastIndexOf(')');
        String[] f = close < 0 ? new String[0] : line.substring(close + 1).trim().split("\\s+");
        if (open < 0 || f.length < 20) {
            throw new SriovException(SriovException.Reason.LEASE, proc + "/" + pid + "/stat is not a stat line: " + line.trim());
        }
        try {
            // f[0] is field 3 (state), so field 22 (starttime) is f[19]
            return new ProcessIdentity(pid, f[0].charAt(0), Long.parseLong(f[19]), line.substring(open + 1, close));
        } catch (NumberFormatException e) {
            throw new SriovException(SriovException.Reason.LEASE, proc + "/" + pid + "/stat has no start time: " + line.trim(), e);
        }
    }

    /** This JVM's process. */
    static ProcessIdentity current(Path proc) {
        long pid = ProcessHandle.current().pid();
        ProcessIdentity me = read(proc, pid);
        if (me == null) {
            throw new SriovException(SriovException.Reason.LEASE, "cannot find this process (" + proc + "/" + pid
                    + "/stat is missing): is procfs mounted there?");
        }
        return me;
    }

    /**
     * Why a lease held by {@code pid} started at {@code starttime} is stale, read from {@code proc}; null while that
     * process still runs. A zombie has exited already (it only waits for its parent to collect its status).
     */
    static String stale(Path proc, long pid, long starttime) {
        ProcessIdentity now = read(proc, pid);
        if (now == null) {
            return "process " + pid + " is gone";
        }
        if (now.starttime() != starttime) {
            return "pid " + pid + " now belongs to another process (" + now.comm() + ")";
        }
        if (now.state() == 'Z' || now.state() == 'X') {
            return "process " + pid + " has exited (a zombie its parent has not reaped)";
        }
        return null;
    }
}
