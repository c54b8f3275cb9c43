package dev.jvmm.vmm.migration;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.state.StateFormatException;
import dev.jvmm.vmm.snapshot.StateFile;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Fuzz target: the incoming migration stream as a hostile or broken source sends it, read the way the destination
 * ({@link MigrationReceiver}) reads it: HELLO ({@link MigrationProtocol#readHello}: magic, version, config, the
 * devices' layout), then PAGES, SYNC, ABANDON and STATE frames ({@link MigrationProtocol#receivePages}) into a small
 * guest RAM of two 64 KiB regions with a hole between them, through a buffered {@link Connection} (as over TLS), and
 * the state it ends with decoded by {@link StateFile#decode} ({@code SavedStateFuzzTest} goes further into it).
 * <p>Invariants: the only exceptions are IOExceptions (the receiver reports them as HOST errors; a {@link
 * StateFormatException}, the refusal of a bad frame or field, as CONFIG) and every StateFormatException names the
 * stream and the field; nothing else escapes (no runtime exception, no OutOfMemoryError from a length or count:
 * each is bounded before use); the pages counted are at most what the input carries; a HELLO's config and layout
 * and a STATE's bytes are no longer than the input.
 */
class MigrationStreamFuzzTest {
    private static final int REGION = 0x10000;
    private static final long HIGH = 0x100000;

    @FuzzTest(maxDuration = "5m")
    void incomingStream(byte[] input) throws IOException {
        try (GuestMemory mem = GuestMemory.create(List.of(new GuestMemory.Range(0, REGION),
                new GuestMemory.Range(HIGH, REGION)));
                Connection c = new Connection(new ByteArrayInputStream(input), OutputStream.nullOutputStream(),
                        "fuzz", false)) {
            long[] pages = new long[1];
            List<Long> rounds = new ArrayList<>();
            try {
                MigrationProtocol.Hello hello = MigrationProtocol.readHello(c.in());
                assertNotNull(hello.config());
                assertTrue(hello.config().length() + hello.layout().length <= input.length);
                byte[] state = MigrationProtocol.receivePages(c, mem, pages, rounds::add);
                assertTrue(state.length >= 20 && state.length <= input.length, "state of " + state.length + " bytes");
                StateFile.decode(state, "the migration's state");
            } catch (StateFormatException e) {
                assertTrue(e.getMessage().startsWith("migration stream field " + e.field() + ": ")
                        || e.getMessage().startsWith("the migration's state field " + e.field() + ": "),
                        e.getMessage());
            } catch (IOException e) {
                assertNotNull(e.getMessage() != null ? e.getMessage() : e.toString()); // reported as a HOST error
            }
            assertTrue(pages[0] * MigrationProtocol.PAGE <= input.length, pages[0] + " pages from " + input.length
                    + " bytes");
            assertTrue(rounds.size() * 12 <= input.length);
        }
    }

}
