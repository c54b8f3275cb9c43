package dev.jvmm.vmm.migration;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.sys.state.StateFormatException;
import dev.jvmm.vmm.snapshot.StateFile;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;

/**
 * The migration stream, source to destination, one frame after another, each a type (int) and its body:
 * <ul>
 * <li>{@code HELLO}: magic "JVMMMIGR", protocol version, the VM's config (the {@code --config} form, UTF-8) and
 * where its devices are (the state's "devices" section: the destination plugs them while the pages arrive);</li>
 * <li>{@code PAGES}: a run of guest pages: guest-physical address, page count, then the pages' bytes;</li>
 * <li>{@code SYNC}: the end of a round (its number): the destination answers {@code SYNCED} with it once it has
 * taken every page before it;</li>
 * <li>{@code STATE}: the {@link StateFile} (vCPUs, VM, devices), sent once the VM is paused and its last pages sent;</li>
 * <li>{@code ABANDON}: the source gives up (a reason); the destination exits with it.</li>
 * </ul>
 * The destination answers, on the same connection, {@code READY} after HELLO (the VM's RAM exists), {@code BUILT}
 * once its VM is built and waits for nothing but the state (the source does not pause its VM before), {@code
 * SYNCED} for each SYNC, and at the end {@code RESUMED} with the epoch nanoseconds of its vCPUs' start; or, at any point, {@code ERROR} with a message
 * (and nothing after it). The
 * reader checks every type, length, address and count against its bound and the VM's RAM before using it: a
 * hostile stream cannot make jvmm write outside guest RAM or allocate without bound.
 */
final class MigrationProtocol {
    /** "JVMMMIGR". */
    static final long MAGIC = 0x4A564D4D4D494752L;
    /** 4: SYNC and SYNCED. (3: the destination says BUILT; 2: HELLO also carries the devices' layout.) */
    static final int VERSION = 4;
    static final int HELLO = 1, PAGES = 2, STATE = 3, ABANDON = 4, SYNC = 5;
    static final int READY = 101, RESUMED = 102, ERROR = 103, BUILT = 104, SYNCED = 105;
    static final int PAGE = 4096;
    /** The most pages in one PAGES frame (1 MiB). */
    static final int MAX_RUN_PAGES = 256;
    static final int MAX_CONFIG_BYTES = 1 << 20;
    static final int MAX_MESSAGE_BYTES = 4096;

    private MigrationProtocol() {
    }

    /** What HELLO carries: the VM's config and its devices' layout (a state section). */
    record Hello(String config, byte[] layout) {
    }

    static void hello(DataOutputStream out, String configJson, byte[] layout) throws IOException {
        out.writeInt(HELLO);
        out.writeLong(MAGIC);
        out.writeInt(VERSION);
        StateCodec.string(out, configJson);
        StateCodec.blob(out, layout);
        out.flush();
    }

    /** Reads HELLO and returns what it carries; refuses another protocol or version, naming both. */
    static Hello readHello(DataInputStream in) throws IOException {
        StateCodec.Reader r = new StateCodec.Reader(in, "migration stream");
        int type = r.readInt("frame");
        if (type != HELLO) {
            throw r.bad("frame", "expected HELLO (" + HELLO + "), got " + type + ": not a jvmm migration");
        }
        long magic = r.readLong("magic");
        if (magic != MAGIC) {
            throw r.bad("magic", String.format("0x%016x: not a jvmm migration", magic));
        }
        int v = r.readInt("version");
        if (v != VERSION) {
            throw r.bad("version", "protocol version " + v + " is not supported (this jvmm speaks version " + VERSION
                    + ")");
        }
        String config = r.string("config", MAX_CONFIG_BYTES);
        return new Hello(config, r.blob("layout", 0, MAX_CONFIG_BYTES));
    }

    /**
     * Sends {@code pages} pages of guest RAM from {@code gpa}: the frame's header, then the pages straight from RAM
     * ({@link Connection#write}).
     */
    static void pages(Connection c, RamViews ram, long gpa, int pages) throws IOException {
        DataOutputStream out = c.out();
        out.writeInt(PAGES);
        out.writeLong(gpa);
        out.writeInt(pages);
        c.write(ram.of(gpa, pages * PAGE));
    }

    /** The end of round {@code round}: the destination says SYNCED with it once it has taken the pages before. */
    static void sync(DataOutputStream out, long round) throws IOException {
        out.writeInt(SYNC);
        out.writeLong(round);
        out.flush();
    }

    static void state(DataOutputStream out, byte[] state) throws IOException {
        out.writeInt(STATE);
        StateCodec.blob(out, state);
        out.flush();
    }

    static void message(DataOutputStream out, int type, String text) throws IOException {
        out.writeInt(type);
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        StateCodec.blob(out, java.util.Arrays.copyOf(b, Math.min(b.length, MAX_MESSAGE_BYTES)));
        out.flush();
    }

    static void resumed(DataOutputStream out, long epochNanos) throws IOException {
        out.writeInt(RESUMED);
        out.writeLong(epochNanos);
        out.flush();
    }

    /**
     * Reads PAGES frames into {@code mem} until the STATE frame, whose bytes it returns; tells {@code synced} each
     * SYNC's round. Each run must be whole pages inside one RAM region; its bytes are read straight into guest RAM
     * ({@link Connection#read}).
     */
    static byte[] receivePages(Connection c, GuestMemory mem, long[] pagesReceived, IoLongConsumer synced)
            throws IOException {
        DataInputStream in = c.in();
        RamViews ram = new RamViews(mem);
        StateCodec.Reader r = new StateCodec.Reader(in, "migration stream");
        for (;;) {
            int type = r.readInt("frame");
            switch (type) {
                case PAGES -> {
                    long gpa = r.readLong("pages.gpa");
                    int n = r.readInt("pages.count", 1, MAX_RUN_PAGES);
                    long len = (long) n * PAGE;
                    if ((gpa & (PAGE - 1)) != 0 || !mem.contains(gpa, len)) {
                        throw r.bad("pages.gpa", String.format("0x%x+0x%x is not whole pages inside guest RAM", gpa, len));
                    }
                    c.read(ram.of(gpa, (int) len));
                    pagesReceived[0] += n;
                }
                case SYNC -> synced.accept(r.readLong("sync.round"));
                case STATE -> {
                    return r.blob("state", 20, StateFile.MAX_BYTES);
                }
                case ABANDON -> throw new IOException("the source abandoned the migration: "
                        + r.string("reason", MAX_MESSAGE_BYTES));
                default -> throw r.bad("frame", "unknown frame type " + type);
            }
        }
    }

    /** What the receiver does with a SYNC's round (it answers). */
    interface IoLongConsumer {
        void accept(long value) throws IOException;
    }

    /**
     * An answer of the destination after READY: BUILT, SYNCED with the round ({@code value}), or RESUMED with its
     * vCPUs' start time (epoch ns, {@code value}).
     */
    record Answer(int type, long value) {
    }

    /** The destination's next answer after READY: BUILT, SYNCED or RESUMED; an IOException with its error for ERROR. */
    static Answer readAnswer(DataInputStream in) throws IOException {
        StateCodec.Reader r = new StateCodec.Reader(in, "migration answer");
        int type = r.readInt("answer");
        switch (type) {
            case BUILT -> {
                return new Answer(BUILT, 0);
            }
            case SYNCED -> {
                return new Answer(SYNCED, r.readLong("synced_round"));
            }
            case RESUMED -> {
                return new Answer(RESUMED, r.readLong("resumed_at"));
            }
            case ERROR -> throw new IOException("the destination failed: " + r.string("error", MAX_MESSAGE_BYTES));
            default -> throw r.bad("answer", "unexpected answer " + type);
        }
    }

    static void readReady(DataInputStream in) throws IOException {
        StateCodec.Reader r = new StateCodec.Reader(in, "migration answer");
        int type = r.readInt("answer");
        if (type == ERROR) {
            throw new IOException("the destination refused the VM: " + r.string("error", MAX_MESSAGE_BYTES));
        }
        if (type != READY) {
            throw r.bad("answer", "expected READY, got " + type);
        }
    }

    static void synced(DataOutputStream out, long round) throws IOException {
        out.writeInt(SYNCED);
        out.writeLong(round);
        out.flush();
    }

    /** READY or BUILT: an answer without a body. */
    static void answer(DataOutputStream out, int type) throws IOException {
        out.writeInt(type);
        out.flush();
    }


    /** A StateFormatException's message, or any IOException's, for a report. */
    static String describe(IOException e) {
        return e instanceof StateFormatException || e.getMessage() != null ? e.getMessage() : e.toString();
    }
}
