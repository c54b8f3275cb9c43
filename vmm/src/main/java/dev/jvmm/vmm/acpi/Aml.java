package dev.jvmm.vmm.acpi;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A small AML encoder (ACPI 6.5 §20.2): names, integers, strings, packages, buffers, scopes, devices, methods
 * returning a value, and resource-template descriptors (§6.4). Each method returns the encoded bytes of one
 * term, so terms compose: {@code device("PCI0", name("_HID", eisaId("PNP0A08")), ...)}.
 */
public final class Aml {
    private Aml() {
    }

    // --- data objects
    public static byte[] integer(long v) {
        if (v == 0) {
            return new byte[] {0x00};
        }
        if (v == 1) {
            return new byte[] {0x01};
        }
        if (v >= 0 && v <= 0xff) {
            return new byte[] {0x0a, (byte) v};
        }
        if (v >= 0 && v <= 0xffff) {
            return new byte[] {0x0b, (byte) v, (byte) (v >> 8)};
        }
        if (v >= 0 && v <= 0xffff_ffffL) {
            return cat(new byte[] {0x0c}, le(v, 4));
        }
        return cat(new byte[] {0x0e}, le(v, 8));
    }

    public static byte[] string(String s) {
        return cat(new byte[] {0x0d}, s.getBytes(StandardCharsets.US_ASCII), new byte[] {0});
    }

    /** EISAID("PNP0A08") as a DWord (compressed EISA id, §19.6.33). */
    public static byte[] eisaId(String id) {
        if (id.length() != 7) {
            throw new IllegalArgumentException("EISA id must be 7 characters: " + id);
        }
        int c1 = id.charAt(0) - 0x40, c2 = id.charAt(1) - 0x40, c3 = id.charAt(2) - 0x40;
        int prod = Integer.parseInt(id.substring(3), 16);
        int v = (c1 << 26 | c2 << 21 | c3 << 16 | prod);
        // The compressed id is stored with its bytes in big-endian order.
        return cat(new byte[] {0x0c}, le(Integer.reverseBytes(v) & 0xffff_ffffL, 4));
    }

    public static byte[] packageOf(List<byte[]> elements) {
        if (elements.size() > 255) {
            throw new IllegalArgumentException("package too large");
        }
        byte[] body = cat(new byte[] {(byte) elements.size()}, cat(elements.toArray(new byte[0][])));
        return cat(new byte[] {0x12}, pkgLength(body.length), body);
    }

    public static byte[] packageOf(byte[]... elements) {
        return packageOf(List.of(elements));
    }

    public static byte[] buffer(byte[] data) {
        byte[] body = cat(integer(data.length), data);
        return cat(new byte[] {0x11}, pkgLength(body.length), body);
    }

    // --- named objects
    public static byte[] name(String path, byte[] value) {
        return cat(new byte[] {0x08}, nameString(path), value);
    }

    public static byte[] scope(String path, byte[]... terms) {
        byte[] body = cat(nameString(path), cat(terms));
        return cat(new byte[] {0x10}, pkgLength(body.length), body);
    }

    public static byte[] device(String name, byte[]... terms) {
        byte[] body = cat(nameString(name), cat(terms));
        return cat(new byte[] {0x5b, (byte) 0x82}, pkgLength(body.length), body);
    }

    /** {@code Method(NAME, 0, NotSerialized) { Return (value) }}. */
    public static byte[] methodReturning(String name, byte[] value) {
        byte[] body = cat(nameString(name), new byte[] {0x00, (byte) 0xa4}, value);
        return cat(new byte[] {0x14}, pkgLength(body.length), body);
    }

    /** A NameString: optional root "\\", then dot-separated segments, each padded with '_' to 4 characters. */
    static byte[] nameString(String path) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        String p = path;
        if (p.startsWith("\\")) {
            o.write('\\');
            p = p.substring(1);
        }
        String[] segs = p.isEmpty() ? new String[0] : p.split("\\.");
        if (segs.length == 2) {
            o.write(0x2e);
        } else if (segs.length > 2) {
            o.write(0x2f);
            o.write(segs.length);
        } else if (segs.length == 0) {
            o.write(0);
        }
        for (String s : segs) {
            if (s.isEmpty() || s.length() > 4) {
                throw new IllegalArgumentException("bad name segment '" + s + "' in " + path);
            }
            String padded = (s + "____").substring(0, 4);
            o.writeBytes(padded.getBytes(StandardCharsets.US_ASCII));
        }
        return o.toByteArray();
    }

    /** PkgLength (§20.2.4): the length counts itself. */
    static byte[] pkgLength(int bodyLen) {
        if (bodyLen + 1 < 0x40) {
            return new byte[] {(byte) (bodyLen + 1)};
        }
        for (int n = 2; n <= 4; n++) {
            int total = bodyLen + n;
            if (total < 1 << (4 + 8 * (n - 1))) {
                byte[] b = new byte[n];
                b[0] = (byte) ((n - 1) << 6 | (total & 0xf));
                for (int i = 1; i < n; i++) {
                    b[i] = (byte) (total >>> (4 + 8 * (i - 1)));
                }
                return b;
            }
        }
        throw new IllegalArgumentException("AML package too large: " + bodyLen);
    }

    // --- resource descriptors (§6.4), concatenated into resourceTemplate()
    /** ResourceTemplate: the descriptors plus an End Tag, as a Buffer. */
    public static byte[] resourceTemplate(byte[]... descriptors) {
        return buffer(cat(cat(descriptors), new byte[] {0x79, 0x00}));
    }

    /** WordBusNumber (ResourceProducer, MinFixed, MaxFixed). */
    public static byte[] wordBusNumber(int min, int max) {
        return cat(new byte[] {(byte) 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00}, le(0, 2), le(min, 2), le(max, 2), le(0, 2),
                le(max - min + 1, 2));
    }

    /** DWordIO (ResourceProducer, MinFixed, MaxFixed, EntireRange). */
    public static byte[] dwordIo(long min, long max) {
        return cat(new byte[] {(byte) 0x87, 0x17, 0x00, 0x01, 0x0c, 0x03}, le(0, 4), le(min, 4), le(max, 4), le(0, 4),
                le(max - min + 1, 4));
    }

    /** DWordMemory (ResourceProducer, MinFixed, MaxFixed, NonCacheable, ReadWrite). */
    public static byte[] dwordMemory(long min, long max) {
        return cat(new byte[] {(byte) 0x87, 0x17, 0x00, 0x00, 0x0c, 0x01}, le(0, 4), le(min, 4), le(max, 4), le(0, 4),
                le(max - min + 1, 4));
    }

    /** QWordMemory (ResourceProducer, MinFixed, MaxFixed, Prefetchable, ReadWrite). */
    public static byte[] qwordMemory(long min, long max) {
        return cat(new byte[] {(byte) 0x8a, 0x2b, 0x00, 0x00, 0x0c, 0x07}, le(0, 8), le(min, 8), le(max, 8), le(0, 8),
                le(max - min + 1, 8));
    }

    /** IO (Decode16, min = max = base, alignment 1 or the length, length). */
    public static byte[] io(int base, int length) {
        return new byte[] {0x47, 0x01, (byte) base, (byte) (base >> 8), (byte) base, (byte) (base >> 8), 0x01,
            (byte) length};
    }

    /** IRQNoFlags: an edge-triggered, active-high ISA IRQ. */
    public static byte[] irqNoFlags(int irq) {
        int mask = 1 << irq;
        return new byte[] {0x22, (byte) mask, (byte) (mask >> 8)};
    }

    /** Memory32Fixed (ReadWrite). */
    public static byte[] memory32Fixed(long base, long length) {
        return cat(new byte[] {(byte) 0x86, 0x09, 0x00, 0x01}, le(base, 4), le(length, 4));
    }

    // --- helpers
    static byte[] le(long v, int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (v >>> (8 * i));
        }
        return b;
    }

    public static byte[] cat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int o = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, o, p.length);
            o += p.length;
        }
        return out;
    }
}
