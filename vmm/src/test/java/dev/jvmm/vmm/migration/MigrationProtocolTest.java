package dev.jvmm.vmm.migration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.sys.state.StateFormatException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The migration stream's frames: pages land where they belong; a hostile stream is refused before it writes. */
class MigrationProtocolTest {
    private final GuestMemory src = GuestMemory.create(List.of(new GuestMemory.Range(0, 2 << 20),
            new GuestMemory.Range(1L << 30, 2 << 20)));
    private final GuestMemory dst = GuestMemory.create(List.of(new GuestMemory.Range(0, 2 << 20),
            new GuestMemory.Range(1L << 30, 2 << 20)));

    @AfterEach
    void close() {
        src.close();
        dst.close();
    }

    private static final MigrationProtocol.IoLongConsumer NO_SYNC = round -> {
        throw new AssertionError("no SYNC in this stream");
    };

    private static DataInputStream in(byte[] b) {
        return new DataInputStream(new ByteArrayInputStream(b));
    }

    /** A connection (streams through a buffer, as over TLS) that reads {@code b}. */
    private static Connection conn(byte[] b) {
        return new Connection(new ByteArrayInputStream(b), java.io.OutputStream.nullOutputStream(), "test", false);
    }

    /** The frames a source writes, through {@code out}, with pages at 0x3000 and just under 1 GiB + 8 KiB. */
    private void writeFrames(Connection out) throws IOException {
        src.putLong(0x3000, 0x1122334455667788L);
        src.putLong((1L << 30) + 0x1ff8, -1L);
        src.putLong((1L << 30) + 0x2000, 0x55aa55aa55aa55aaL);
        RamViews ram = new RamViews(src);
        MigrationProtocol.hello(out.out(), "{\"cpus\": 1}", new byte[] {1, 2, 3});
        MigrationProtocol.pages(out, ram, 0x3000, 1);
        MigrationProtocol.pages(out, ram, (1L << 30) + 0x1000, 2);
        MigrationProtocol.pages(out, ram, 0, MigrationProtocol.MAX_RUN_PAGES); // a whole frame, the page at 0x3000 again
        MigrationProtocol.sync(out.out(), 7);
        MigrationProtocol.state(out.out(), new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
                19, 20});
    }

    private void checkReceived(Connection in) throws IOException {
        MigrationProtocol.Hello hello = MigrationProtocol.readHello(in.in());
        assertEquals("{\"cpus\": 1}", hello.config());
        org.junit.jupiter.api.Assertions.assertArrayEquals(new byte[] {1, 2, 3}, hello.layout());
        long[] n = new long[1];
        List<Long> syncs = new java.util.ArrayList<>();
        byte[] state = MigrationProtocol.receivePages(in, dst, n, round -> {
            assertEquals(3 + MigrationProtocol.MAX_RUN_PAGES, n[0], "SYNC comes after every page before it");
            syncs.add(round);
        });
        assertEquals(List.of(7L), syncs, "the end of the round, told once");
        assertEquals(3 + MigrationProtocol.MAX_RUN_PAGES, n[0]);
        assertEquals(20, state.length);
        assertEquals(0x1122334455667788L, dst.getLong(0x3000));
        assertEquals(-1L, dst.getLong((1L << 30) + 0x1ff8));
        assertEquals(0x55aa55aa55aa55aaL, dst.getLong((1L << 30) + 0x2000));
        assertEquals(0, dst.getLong(0x2000));
        assertEquals(0, dst.getLong((1L << 30) + 0x3000));
    }

    @Test
    void helloPagesAndStateRoundTripThroughABuffer() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        Connection w = new Connection(java.io.InputStream.nullInputStream(), b, "test", false);
        writeFrames(w);
        w.out().flush();
        checkReceived(conn(b.toByteArray()));
    }

    /** A plain socket: pages go from RAM to the socket and from the socket to RAM, with no buffer between. */
    @Test
    void helloPagesAndStateRoundTripOverASocket(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.net.UnixDomainSocketAddress a = java.net.UnixDomainSocketAddress.of(dir.resolve("s"));
        try (java.nio.channels.ServerSocketChannel ss = java.nio.channels.ServerSocketChannel.open(
                java.net.StandardProtocolFamily.UNIX).bind(a);
                Connection w = Connection.of(java.nio.channels.SocketChannel.open(a), "test");
                Connection r = Connection.of(ss.accept(), "test")) {
            assertTrue(w.direct() && r.direct());
            java.util.concurrent.CompletableFuture<Void> sent = java.util.concurrent.CompletableFuture.runAsync(() -> {
                try {
                    writeFrames(w);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            checkReceived(r);
            sent.get();
        }
    }

    /** A PAGES frame as a hostile source would write it. */
    private static byte[] pagesFrame(long gpa, int count, int bytes) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(b);
        out.writeInt(MigrationProtocol.PAGES);
        out.writeLong(gpa);
        out.writeInt(count);
        out.write(new byte[bytes]);
        return b.toByteArray();
    }

    @Test
    void pagesOutsideRamOrOfAbsurdCountsAreRefusedBeforeAnyWrite() throws IOException {
        long[] n = new long[1];
        String[][] cases = {
            {Long.toString(2 << 20), "1", "is not whole pages inside guest RAM"}, // the hole between the regions
            {Long.toString((1L << 30) + (2 << 20) - 4096), "2", "is not whole pages inside guest RAM"}, // past the end
            {"4097", "1", "is not whole pages inside guest RAM"}, // not page aligned
            {Long.toString(-4096), "1", "is not whole pages inside guest RAM"},
            {"0", "257", "pages.count"},
            {"0", "0", "pages.count"},
            {"0", Integer.toString(Integer.MAX_VALUE), "pages.count"},
        };
        for (String[] c : cases) {
            StateFormatException e = assertThrows(StateFormatException.class, () -> MigrationProtocol.receivePages(
                    conn(pagesFrame(Long.parseLong(c[0]), Integer.parseInt(c[1]), 8192)), dst, n, NO_SYNC),
                    c[0] + "/" + c[1]);
            assertTrue(e.getMessage().contains(c[2]), e.getMessage());
        }
        assertEquals(0, n[0]);
        StateFormatException unknown = assertThrows(StateFormatException.class, () -> MigrationProtocol.receivePages(
                conn(new byte[] {0, 0, 0, 77}), dst, n, NO_SYNC));
        assertTrue(unknown.getMessage().contains("unknown frame type 77"), unknown.getMessage());
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(b);
        out.writeInt(MigrationProtocol.STATE);
        out.writeInt(Integer.MAX_VALUE);
        StateFormatException big = assertThrows(StateFormatException.class,
                () -> MigrationProtocol.receivePages(conn(b.toByteArray()), dst, n, NO_SYNC));
        assertTrue(big.getMessage().contains("above the limit"), big.getMessage());
    }

    @Test
    void truncatedPagesAndAbandonAreErrors() throws IOException {
        byte[] frame = pagesFrame(0x1000, 2, 4096); // promises 2 pages, carries 1
        assertThrows(java.io.EOFException.class,
                () -> MigrationProtocol.receivePages(conn(frame), dst, new long[1], NO_SYNC));
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        MigrationProtocol.message(new DataOutputStream(b), MigrationProtocol.ABANDON, "did not converge");
        IOException e = assertThrows(IOException.class, () -> MigrationProtocol.receivePages(conn(b.toByteArray()), dst,
                new long[1], NO_SYNC));
        assertEquals("the source abandoned the migration: did not converge", e.getMessage());
    }

    @Test
    void helloOfAnotherProtocolOrVersionIsNamed() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(b);
        out.writeInt(MigrationProtocol.HELLO);
        out.writeLong(MigrationProtocol.MAGIC);
        out.writeInt(99);
        assertTrue(assertThrows(StateFormatException.class, () -> MigrationProtocol.readHello(in(b.toByteArray())))
                .getMessage().contains("protocol version 99 is not supported"));
        assertTrue(assertThrows(StateFormatException.class, () -> MigrationProtocol.readHello(in("GET / HTTP/1.1\r\n"
                .getBytes()))).getMessage().contains("not a jvmm migration"));
        ByteArrayOutputStream ok = new ByteArrayOutputStream();
        MigrationProtocol.answer(new DataOutputStream(ok), MigrationProtocol.BUILT);
        MigrationProtocol.synced(new DataOutputStream(ok), 3);
        MigrationProtocol.resumed(new DataOutputStream(ok), 123456789L);
        DataInputStream answers = in(ok.toByteArray());
        assertEquals(MigrationProtocol.BUILT, MigrationProtocol.readAnswer(answers).type());
        MigrationProtocol.Answer synced = MigrationProtocol.readAnswer(answers);
        assertEquals(MigrationProtocol.SYNCED, synced.type());
        assertEquals(3, synced.value());
        MigrationProtocol.Answer resumed = MigrationProtocol.readAnswer(answers);
        assertEquals(MigrationProtocol.RESUMED, resumed.type());
        assertEquals(123456789L, resumed.value());
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        MigrationProtocol.message(new DataOutputStream(err), MigrationProtocol.ERROR, "CPUID 0x7.0 EBX bit 5 (avx2)");
        assertEquals("the destination failed: CPUID 0x7.0 EBX bit 5 (avx2)", assertThrows(IOException.class,
                () -> MigrationProtocol.readAnswer(in(err.toByteArray()))).getMessage());
    }
}
