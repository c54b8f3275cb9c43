package dev.jvmm.vmm.snapshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.state.StateFormatException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/** The saved-state container: sections round trip in order; damaged, truncated or hostile files are refused whole. */
class StateFileTest {
    private static Map<String, byte[]> sample() {
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put("vm", new byte[] {1, 2, 3});
        m.put("vcpu.0", new byte[1000]);
        m.put("virtio-blk-0", "queue state".getBytes());
        m.put("empty", new byte[0]);
        return m;
    }

    @Test
    void sectionsRoundTripInOrder() throws Exception {
        Map<String, byte[]> in = sample();
        Map<String, byte[]> out = StateFile.decode(StateFile.encode(in), "test");
        assertEquals(List.copyOf(in.keySet()), List.copyOf(out.keySet()));
        for (String k : in.keySet()) {
            assertArrayEquals(in.get(k), out.get(k), k);
        }
        assertEquals(3, StateFile.section(out, "vm").readByte("x") + 2);
        StateFormatException e = assertThrows(StateFormatException.class, () -> StateFile.section(out, "pit"));
        assertTrue(e.getMessage().contains("pit") && e.getMessage().contains("missing"), e.getMessage());
    }

    @Test
    void everyFlippedByteIsCaughtByTheChecksum() {
        byte[] good = StateFile.encode(sample());
        for (int i = 12; i < good.length; i++) { // after magic and version, which have their own messages
            byte[] bad = good.clone();
            bad[i] ^= 0x5a;
            StateFormatException e = assertThrows(StateFormatException.class, () -> StateFile.decode(bad, "state.bin"),
                    "byte " + i);
            assertTrue(e.getMessage().contains("checksum"), e.getMessage());
        }
    }

    @Test
    void truncationMagicAndVersionAreNamed() {
        byte[] good = StateFile.encode(sample());
        for (int n : new int[] {0, 8, 19, good.length / 2, good.length - 1}) {
            StateFormatException e = assertThrows(StateFormatException.class,
                    () -> StateFile.decode(Arrays.copyOf(good, n), "state.bin"));
            assertTrue(e.getMessage().contains("too short") || e.getMessage().contains("checksum"), e.getMessage());
        }
        byte[] magic = good.clone();
        magic[0] = 'X';
        assertTrue(assertThrows(StateFormatException.class, () -> StateFile.decode(magic, "s")).getMessage()
                .contains("not a jvmm saved state"));
        byte[] version = good.clone();
        version[11] = 9;
        assertTrue(assertThrows(StateFormatException.class, () -> StateFile.decode(version, "s")).getMessage()
                .contains("format version 9 is not supported"));
    }

    /** A hostile file with a valid checksum: absurd counts and lengths are refused before anything is allocated. */
    @Test
    void hostileCountsAndLengthsWithAValidChecksum() {
        ByteBuffer b = ByteBuffer.allocate(64);
        b.putLong(StateFile.MAGIC).putInt(StateFile.VERSION).putInt(Integer.MAX_VALUE);
        assertTrue(assertThrows(StateFormatException.class, () -> StateFile.decode(sealed(b), "s")).getMessage()
                .contains("sections: count 2147483647 is outside 0..1024"));
        ByteBuffer c = ByteBuffer.allocate(64);
        c.putLong(StateFile.MAGIC).putInt(StateFile.VERSION).putInt(1).putInt(2).put((byte) 'v').put((byte) 'm')
                .putInt(0x7fff_0000);
        assertTrue(assertThrows(StateFormatException.class, () -> StateFile.decode(sealed(c), "s")).getMessage()
                .contains("section vm: length 2147418112 is above the limit"));
        ByteBuffer d = ByteBuffer.allocate(64);
        d.putLong(StateFile.MAGIC).putInt(StateFile.VERSION).putInt(2);
        for (int i = 0; i < 2; i++) {
            d.putInt(2).put((byte) 'v').put((byte) 'm').putInt(0);
        }
        assertTrue(assertThrows(StateFormatException.class, () -> StateFile.decode(sealed(d), "s")).getMessage()
                .contains("appears twice"));
    }

    /** The buffer's content so far with a correct CRC32C after it. */
    private static byte[] sealed(ByteBuffer b) {
        byte[] body = Arrays.copyOf(b.array(), b.position());
        CRC32C crc = new CRC32C();
        crc.update(body);
        return ByteBuffer.allocate(body.length + 4).put(body).putInt((int) crc.getValue()).array();
    }
}
