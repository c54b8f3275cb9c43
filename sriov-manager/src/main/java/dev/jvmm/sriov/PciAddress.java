package dev.jvmm.sriov;

import java.util.regex.Pattern;

/** A PCI function address in sysfs form {@code 0000:01:10.2} (domain:bus:device.function, lower-case hex). */
public record PciAddress(int domain, int bus, int device, int function) implements Comparable<PciAddress> {
    private static final Pattern FULL = Pattern.compile("([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([0-1][0-9a-fA-F])\\.([0-7])");
    private static final Pattern SHORT = Pattern.compile("([0-9a-fA-F]{2}):([0-1][0-9a-fA-F])\\.([0-7])");

    public PciAddress {
        if (domain < 0 || domain > 0xffff || bus < 0 || bus > 0xff || device < 0 || device > 0x1f || function < 0 || function > 7) {
            throw new IllegalArgumentException("PCI address out of range");
        }
    }

    /** Parses {@code 0000:01:00.0} or {@code 01:00.0} (domain 0); anything else is INVALID_ARGUMENT. */
    public static PciAddress parse(String s) {
        var m = FULL.matcher(s.trim());
        if (m.matches()) {
            return new PciAddress(Integer.parseInt(m.group(1), 16), Integer.parseInt(m.group(2), 16),
                    Integer.parseInt(m.group(3), 16), Integer.parseInt(m.group(4)));
        }
        m = SHORT.matcher(s.trim());
        if (m.matches()) {
            return new PciAddress(0, Integer.parseInt(m.group(1), 16), Integer.parseInt(m.group(2), 16), Integer.parseInt(m.group(3)));
        }
        throw new SriovException(SriovException.Reason.INVALID_ARGUMENT,
                "'" + s + "' is not a PCI address (expected DDDD:BB:DD.F, for example 0000:01:00.0)");
    }

    public static boolean looksLike(String s) {
        return FULL.matcher(s.trim()).matches() || SHORT.matcher(s.trim()).matches();
    }

    @Override
    public String toString() {
        return String.format("%04x:%02x:%02x.%d", domain, bus, device, function);
    }

    @Override
    public int compareTo(PciAddress o) {
        return toString().compareTo(o.toString());
    }
}
