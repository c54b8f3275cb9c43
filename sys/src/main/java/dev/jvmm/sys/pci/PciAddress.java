package dev.jvmm.sys.pci;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PCI function address, {@code 0000:01:10.2}: domain (the PCI segment group), bus, device (slot) and function,
 * printed the way sysfs names devices (lower-case hex). One record for the host's functions under
 * {@code /sys/bus/pci/devices} and for the functions on a VM's own PCI bus: both are the same four numbers.
 *
 * @param domain   segment group (ACPI's "segment", Linux's "domain"): 0..0xffff, or above for the domains the
 *                 kernel makes up for host bridges such as Intel VMD ({@code 10000:e0:06.0})
 * @param bus      0..0xff
 * @param device   slot, 0..0x1f
 * @param function 0..7
 */
public record PciAddress(int domain, int bus, int device, int function) implements Comparable<PciAddress> {
    private static final Pattern FULL = Pattern.compile("([0-9a-fA-F]{4,6}):([0-9a-fA-F]{2}):([0-1][0-9a-fA-F])\\.([0-7])");
    private static final Pattern SHORT = Pattern.compile("([0-9a-fA-F]{2}):([0-1][0-9a-fA-F])\\.([0-7])");

    public PciAddress {
        if (domain < 0 || domain > 0xffffff || bus < 0 || bus > 0xff || device < 0 || device > 0x1f || function < 0
                || function > 7) {
            throw new IllegalArgumentException(String.format("invalid PCI address %04x:%02x:%02x.%x", domain, bus,
                    device, function));
        }
    }

    /**
     * Parses {@code DDDD:BB:DD.F} (4 to 6 domain digits) or {@code BB:DD.F} (domain 0), upper or lower case, surrounding blanks ignored;
     * anything else is a {@link PciException.Reason#BAD_ADDRESS} that quotes the input.
     */
    public static PciAddress parse(String s) {
        if (s == null) {
            throw new PciException(PciException.Reason.BAD_ADDRESS, "no PCI address given");
        }
        String t = s.trim();
        Matcher m = FULL.matcher(t);
        if (m.matches()) {
            return new PciAddress(Integer.parseInt(m.group(1), 16), Integer.parseInt(m.group(2), 16),
                    Integer.parseInt(m.group(3), 16), Integer.parseInt(m.group(4)));
        }
        m = SHORT.matcher(t);
        if (m.matches()) {
            return new PciAddress(0, Integer.parseInt(m.group(1), 16), Integer.parseInt(m.group(2), 16),
                    Integer.parseInt(m.group(3)));
        }
        throw new PciException(PciException.Reason.BAD_ADDRESS,
                "'" + s + "' is not a PCI address (expected DDDD:BB:DD.F, for example 0000:01:00.0)");
    }

    /** Whether {@link #parse} accepts {@code s}. */
    public static boolean looksLike(String s) {
        return s != null && (FULL.matcher(s.trim()).matches() || SHORT.matcher(s.trim()).matches());
    }

    /** The 16-bit routing id (bus &lt;&lt; 8 | device &lt;&lt; 3 | function), as MSI and IOMMUs use it. */
    public int bdf() {
        return bus << 8 | device << 3 | function;
    }

    @Override
    public String toString() {
        return String.format("%04x:%02x:%02x.%x", domain, bus, device, function);
    }

    @Override
    public int compareTo(PciAddress o) {
        int c = Integer.compare(domain, o.domain);
        return c != 0 ? c : Integer.compare(bdf(), o.bdf());
    }
}
