package dev.jvmm.vmm.acpi;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A small AML encoder (ACPI 6.5 §20.2): names, integers, strings, packages, buffers, scopes, devices, methods
 * and the few statements and expressions jvmm's methods use (If, Store, And, ShiftLeft, LEqual, LNot, Notify,
 * Return, method calls, locals and arguments), operation regions and fields, and resource-template descriptors
 * (§6.4). Each method returns the encoded bytes of one
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

    /**
     * {@code Method(NAME, argCount, Serialized|NotSerialized) { body }} (§19.6.85, §20.2.5.2): MethodFlags has the
     * argument count in bits 2:0, SerializeFlag in bit 3 and SyncLevel 0 in bits 7:4.
     */
    public static byte[] method(String name, int argCount, boolean serialized, byte[]... body) {
        if (argCount < 0 || argCount > 7) {
            throw new IllegalArgumentException("a method takes 0..7 arguments: " + argCount);
        }
        byte[] b = cat(nameString(name), new byte[] {(byte) (argCount | (serialized ? 1 << 3 : 0))}, cat(body));
        return cat(new byte[] {0x14}, pkgLength(b.length), b);
    }

    // --- statements and expressions (§20.2.5.3, §20.2.5.4)
    /** {@code If (predicate) { body }} (IfOp 0xA0 PkgLength Predicate TermList). */
    public static byte[] ifThen(byte[] predicate, byte[]... body) {
        byte[] b = cat(predicate, cat(body));
        return cat(new byte[] {(byte) 0xa0}, pkgLength(b.length), b);
    }

    /** {@code Store (src, dst)}, {@code dst = src} (StoreOp 0x70 TermArg SuperName). */
    public static byte[] store(byte[] src, byte[] dst) {
        return cat(new byte[] {0x70}, src, dst);
    }

    /** {@code And (a, b, target)} (AndOp 0x7B Operand Operand Target); {@link #NULL_TARGET} keeps only the value. */
    public static byte[] and(byte[] a, byte[] b, byte[] target) {
        return cat(new byte[] {0x7b}, a, b, target);
    }

    /** {@code ShiftLeft (value, count, target)} (ShiftLeftOp 0x79 Operand ShiftCount Target). */
    public static byte[] shiftLeft(byte[] value, byte[] count, byte[] target) {
        return cat(new byte[] {0x79}, value, count, target);
    }

    /** {@code LEqual (a, b)} (LEqualOp 0x93 Operand Operand). */
    public static byte[] lequal(byte[] a, byte[] b) {
        return cat(new byte[] {(byte) 0x93}, a, b);
    }

    /** {@code LNot (a)} (LNotOp 0x92 Operand). */
    public static byte[] lnot(byte[] a) {
        return cat(new byte[] {(byte) 0x92}, a);
    }

    /** {@code Notify (target, value)} (NotifyOp 0x86 NotifyObject NotifyValue). */
    public static byte[] notify(byte[] target, byte[] value) {
        return cat(new byte[] {(byte) 0x86}, target, value);
    }

    /** {@code Return (value)} (ReturnOp 0xA4 ArgObject). */
    public static byte[] returnOf(byte[] value) {
        return cat(new byte[] {(byte) 0xa4}, value);
    }

    /** {@code Local0}..{@code Local7} (Local0Op 0x60..Local7Op 0x67). */
    public static byte[] local(int n) {
        if (n < 0 || n > 7) {
            throw new IllegalArgumentException("no Local" + n);
        }
        return new byte[] {(byte) (0x60 + n)};
    }

    /** {@code Arg0}..{@code Arg6} (Arg0Op 0x68..Arg6Op 0x6E). */
    public static byte[] arg(int n) {
        if (n < 0 || n > 6) {
            throw new IllegalArgumentException("no Arg" + n);
        }
        return new byte[] {(byte) (0x68 + n)};
    }

    /** The NullName as a Target: the result is only the expression's value (§20.2.2). */
    public static final byte[] NULL_TARGET = {0x00};

    /** A reference to a named object (field, device, ...) by its NameString, as an operand or a SuperName. */
    public static byte[] ref(String path) {
        return nameString(path);
    }

    /** A method invocation (§20.2.5.4 MethodInvocation: NameString TermArgList). */
    public static byte[] call(String path, byte[]... args) {
        return cat(nameString(path), cat(args));
    }

    // --- operation regions and fields (§19.6.100, §19.6.48, §20.2.5.2)
    /** Address spaces of {@link #operationRegion}. */
    public static final int SYSTEM_MEMORY = 0, SYSTEM_IO = 1;
    /** AccessType of {@link #field} (FieldFlags bits 3:0). */
    public static final int ANY_ACC = 0, BYTE_ACC = 1, WORD_ACC = 2, DWORD_ACC = 3, QWORD_ACC = 4;
    /** LockRule of {@link #field} (FieldFlags bit 4). */
    public static final int NO_LOCK = 0, LOCK = 1;
    /** UpdateRule of {@link #field} (FieldFlags bits 6:5). */
    public static final int PRESERVE = 0, WRITE_AS_ONES = 1, WRITE_AS_ZEROS = 2;

    /** {@code OperationRegion (NAME, space, offset, length)} (0x5B 0x80 NameString RegionSpace Offset Length). */
    public static byte[] operationRegion(String name, int space, long offset, long length) {
        return cat(new byte[] {0x5b, (byte) 0x80}, nameString(name), new byte[] {(byte) space}, integer(offset),
                integer(length));
    }

    /** One entry of a Field's FieldList: a named unit of {@code bits} bits, or reserved bits ({@code name} null). */
    public record FieldUnit(String name, int bits) {
        public static FieldUnit named(String name, int bits) {
            return new FieldUnit(name, bits);
        }

        public static FieldUnit reserved(int bits) {
            return new FieldUnit(null, bits);
        }

        byte[] encode() {
            // NamedField := NameSeg PkgLength, ReservedField := 0x00 PkgLength; the PkgLength is the bit count
            byte[] len = pkgLengthValue(bits);
            return name == null ? cat(new byte[] {0x00}, len) : cat(nameSeg(name), len);
        }
    }

    /** {@code Field (region, access, lock, update) { units }} (0x5B 0x81 PkgLength NameString FieldFlags FieldList). */
    public static byte[] field(String region, int accessType, int lockRule, int updateRule, FieldUnit... units) {
        ByteArrayOutputStream list = new ByteArrayOutputStream();
        for (FieldUnit u : units) {
            list.writeBytes(u.encode());
        }
        byte[] b = cat(nameString(region), new byte[] {(byte) (accessType | lockRule << 4 | updateRule << 5)},
                list.toByteArray());
        return cat(new byte[] {0x5b, (byte) 0x81}, pkgLength(b.length), b);
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
            o.writeBytes(nameSeg(s));
        }
        return o.toByteArray();
    }

    /**
     * A NameSeg (§20.2.2): a lead character A-Z or '_', then A-Z, 0-9 or '_', padded with '_' to 4 characters.
     */
    static byte[] nameSeg(String s) {
        if (s.isEmpty() || s.length() > 4 || !s.matches("[A-Z_][A-Z0-9_]*")) {
            throw new IllegalArgumentException("bad name segment '" + s + "'");
        }
        return (s + "____").substring(0, 4).getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * A value in PkgLength encoding that does not count itself, as a field unit's bit count (§20.2.5.2): one byte
     * below 0x40, else a lead byte with the byte count in bits 7:6 and the low nibble, then the rest, 8 bits a byte.
     */
    static byte[] pkgLengthValue(int v) {
        if (v < 0 || v >= 1 << 28) {
            throw new IllegalArgumentException("PkgLength out of range: " + v);
        }
        if (v < 0x40) {
            return new byte[] {(byte) v};
        }
        int n = v < 1 << 12 ? 2 : v < 1 << 20 ? 3 : 4;
        byte[] b = new byte[n];
        b[0] = (byte) ((n - 1) << 6 | (v & 0xf));
        for (int i = 1; i < n; i++) {
            b[i] = (byte) (v >>> (4 + 8 * (i - 1)));
        }
        return b;
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

    /** Interrupt vector flags of {@link #extendedInterrupt} (§6.4.3.6, byte 3). */
    public static final int RESOURCE_CONSUMER = 1, EDGE = 1 << 1, ACTIVE_LOW = 1 << 2, SHARED = 1 << 3;

    /**
     * Extended Interrupt Descriptor (§6.4.3.6), large item 0x09: {@code Interrupt (ResourceConsumer|Producer,
     * Edge|Level, ActiveHigh|ActiveLow, Exclusive|Shared) {gsi}}. Bytes: 0x89, length 6 (16 bits: the flags, the
     * count and one DWord), the flags (bit 0 consumer, bit 1 edge, bit 2 active low, bit 3 shared), 1, the GSI.
     */
    public static byte[] extendedInterrupt(boolean consumer, boolean edge, boolean activeLow, boolean shared, int gsi) {
        int flags = (consumer ? RESOURCE_CONSUMER : 0) | (edge ? EDGE : 0) | (activeLow ? ACTIVE_LOW : 0)
                | (shared ? SHARED : 0);
        return cat(new byte[] {(byte) 0x89, 0x06, 0x00, (byte) flags, 0x01}, le(gsi & 0xffff_ffffL, 4));
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
