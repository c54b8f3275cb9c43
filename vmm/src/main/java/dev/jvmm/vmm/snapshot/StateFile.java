package dev.jvmm.vmm.snapshot;

import dev.jvmm.sys.state.StateCodec;
import dev.jvmm.sys.state.StateFormatException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The saved state of a VM as one checksummed blob ({@code state.bin} of a snapshot; the State message of a
 * migration): magic "JVMMSTAT", format version, a count of named sections ("vm", "vcpu.0", "serial",
 * "virtio-blk-0", ...), each a name and a blob, and a CRC32C of everything before it. Each section is one
 * component's own versioned state. Decoding checks the checksum before anything else and bounds every count and
 * length, so a corrupt or hostile file is refused whole, with an error naming what is wrong.
 */
public final class StateFile {
    /** "JVMMSTAT". */
    static final long MAGIC = 0x4A564D4D53544154L;
    /** The format of the container; a jvmm reads this version only. */
    public static final int VERSION = 1;
    /** The most sections a state has (vCPUs, platform and PCI devices; 255 vCPUs and 31 slots fit easily). */
    static final int MAX_SECTIONS = 1024;
    /** The largest state accepted (a vCPU is about 20 KiB with AMX). */
    public static final int MAX_BYTES = 64 << 20;
    static final int MAX_NAME = 64;

    private StateFile() {
    }

    /** The sections, in order, with the header and checksum. */
    public static byte[] encode(Map<String, byte[]> sections) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(b)) {
            out.writeLong(MAGIC);
            out.writeInt(VERSION);
            out.writeInt(sections.size());
            for (Map.Entry<String, byte[]> e : sections.entrySet()) {
                StateCodec.string(out, e.getKey());
                StateCodec.blob(out, e.getValue());
            }
            out.flush();
            CRC32C crc = new CRC32C();
            crc.update(b.toByteArray());
            out.writeInt((int) crc.getValue());
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a byte array does not fail
        }
        return b.toByteArray();
    }

    /** The sections of {@code bytes} (read from {@code origin}, named in errors), after checking them whole. */
    public static Map<String, byte[]> decode(byte[] bytes, String origin) throws StateFormatException {
        StateCodec.Reader r = new StateCodec.Reader(new DataInputStream(new ByteArrayInputStream(bytes)), origin);
        if (bytes.length < 20) {
            throw r.bad("length", bytes.length + " bytes is too short for a saved state");
        }
        if (bytes.length > MAX_BYTES) {
            throw r.bad("length", bytes.length + " bytes is above the limit " + MAX_BYTES);
        }
        try {
            long magic = r.readLong("magic");
            if (magic != MAGIC) {
                throw r.bad("magic", String.format("0x%016x: not a jvmm saved state", magic));
            }
            int version = r.readInt("version");
            if (version != VERSION) {
                throw r.bad("version", "format version " + version + " is not supported (this jvmm reads version "
                        + VERSION + ")");
            }
            CRC32C crc = new CRC32C();
            crc.update(bytes, 0, bytes.length - 4);
            int stored = (bytes[bytes.length - 4] & 0xff) << 24 | (bytes[bytes.length - 3] & 0xff) << 16
                    | (bytes[bytes.length - 2] & 0xff) << 8 | (bytes[bytes.length - 1] & 0xff);
            if ((int) crc.getValue() != stored) {
                throw r.bad("checksum", String.format("CRC32C 0x%08x does not match the content (0x%08x): the state "
                        + "is corrupt or truncated", stored, (int) crc.getValue()));
            }
            int n = r.count("sections", MAX_SECTIONS);
            Map<String, byte[]> out = new LinkedHashMap<>();
            for (int i = 0; i < n; i++) {
                String name = r.string("section[" + i + "].name", MAX_NAME);
                byte[] data = r.blob("section " + name, 0, bytes.length);
                if (out.put(name, data) != null) {
                    throw r.bad("section " + name, "appears twice");
                }
            }
            if (r.readInt("checksum") != stored) {
                throw r.bad("sections", "the section count does not match the content");
            }
            return out;
        } catch (StateFormatException e) {
            throw e;
        } catch (IOException e) {
            throw r.bad("content", e.toString());
        }
    }

    /** A reader of section {@code name}, or an error naming it when the state has no such section. */
    public static StateCodec.Reader section(Map<String, byte[]> sections, String name) throws StateFormatException {
        byte[] b = sections.get(name);
        if (b == null) {
            throw new StateFormatException("saved state", name, "the section is missing", null);
        }
        return new StateCodec.Reader(new DataInputStream(new ByteArrayInputStream(b)), name);
    }

    /** Writes one section's content through {@code w}. */
    public static byte[] section(Writer w) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(b)) {
            w.write(out);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return b.toByteArray();
    }

    /** Writes a section. */
    @FunctionalInterface
    public interface Writer {
        void write(DataOutputStream out) throws IOException;
    }
}
