package dev.jvmm.core.pci;

import dev.jvmm.core.BusDevice;
import dev.jvmm.sys.pci.PciAddress;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Bus 0 of one PCI segment: up to 32 slots × 8 functions, reached through the legacy configuration mechanism #1
 * (ports 0xCF8 address / 0xCFC data, PCI 3.0 §3.2.2.3.2) and through ECAM (PCIe 4.0 §7.2.2: 4 KiB per function at
 * {@code base + (bus << 20 | device << 15 | function << 12)}). Both paths reach the same {@link PciDevice}s. An
 * absent function reads all ones, so the guest's probe sees no device. Thread-safe: config accesses from several
 * vCPUs are serialised here.
 */
public final class PciRootBus {
    private static final Logger log = LoggerFactory.getLogger(PciRootBus.class);
    public static final int CONFIG_ADDRESS_PORT = 0xcf8;
    /** Ports 0xCF8..0xCFF: the address register and the 4-byte data window. */
    public static final int CONFIG_PORTS = 8;
    /** ECAM bytes per bus. */
    public static final long ECAM_BUS_SIZE = 1L << 20;

    private final int segment;
    private final PciDevice[][] functions = new PciDevice[32][8];
    private int configAddress;

    public PciRootBus(int segment) {
        this.segment = segment;
    }

    public int segment() {
        return segment;
    }

    /** Places {@code device} as function 0 of the first free slot; returns its address. */
    public synchronized PciAddress add(PciDevice device) {
        for (int d = 0; d < 32; d++) {
            if (functions[d][0] == null) {
                return add(device, d, 0);
            }
        }
        throw new IllegalStateException("PCI segment " + segment + " bus 0: no free slot for " + device.name());
    }

    /** Places {@code device} at {@code slot.function}; the slot must be free. */
    public synchronized PciAddress add(PciDevice device, int slot, int function) {
        PciAddress a = new PciAddress(segment, 0, slot, function);
        if (functions[slot][function] != null) {
            throw new IllegalStateException("PCI " + a + " is taken by " + functions[slot][function].name()
                    + "; cannot add " + device.name());
        }
        functions[slot][function] = device;
        return a;
    }

    /** Removes the function at {@code address}; returns it, or null. */
    public synchronized PciDevice remove(PciAddress address) {
        PciDevice d = functions[address.device()][address.function()];
        functions[address.device()][address.function()] = null;
        return d;
    }

    public synchronized PciDevice get(int slot, int function) {
        return functions[slot][function];
    }

    /** All functions with their addresses, in slot order. */
    public synchronized List<PciAddress> addresses() {
        List<PciAddress> out = new ArrayList<>();
        for (int d = 0; d < 32; d++) {
            for (int f = 0; f < 8; f++) {
                if (functions[d][f] != null) {
                    out.add(new PciAddress(segment, 0, d, f));
                }
            }
        }
        return out;
    }

    /** A config read of {@code size} bytes; all ones for an absent function or another bus. */
    public synchronized int configRead(int bus, int slot, int function, int offset, int size) {
        PciDevice d = bus == 0 ? functions[slot][function] : null;
        if (d == null) {
            return size == 4 ? -1 : (1 << (8 * size)) - 1;
        }
        return d.configRead(offset, size);
    }

    public synchronized void configWrite(int bus, int slot, int function, int offset, int size, int value) {
        PciDevice d = bus == 0 ? functions[slot][function] : null;
        if (d != null) {
            try {
                d.configWrite(offset, size, value);
            } catch (RuntimeException e) {
                // what the guest asked cannot be done (a BAR moved onto another device's range, say): as on hardware,
                // the VM goes on, without that decode; one line says what was refused
                log.warn("pci{}: {} ({}): config write of 0x{} at 0x{} not carried out: {}", segment,
                        String.format("%02x:%02x.%x", bus, slot, function), d.name(), Integer.toHexString(value),
                        Integer.toHexString(offset), e.getMessage());
            }
        } else if (log.isTraceEnabled()) {
            log.trace("pci{}: config write to absent {} dropped", segment, String.format("%02x:%02x.%x", bus, slot, function));
        }
    }

    /** The 0xCF8..0xCFF port device (register it on the PIO bus at {@link #CONFIG_ADDRESS_PORT}). */
    public BusDevice configPorts() {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                synchronized (PciRootBus.this) {
                    if (offset == 0 && size == 4) {
                        return configAddress & 0xffff_ffffL;
                    }
                    if (offset < 4) {
                        return (1L << (8 * size)) - 1;
                    }
                    int a = configAddress;
                    if ((a & 0x8000_0000) == 0) {
                        return size == 4 ? 0xffff_ffffL : (1L << (8 * size)) - 1;
                    }
                    return configRead((a >>> 16) & 0xff, (a >>> 11) & 0x1f, (a >>> 8) & 7,
                            (a & 0xfc) + (int) (offset - 4), size) & mask(size);
                }
            }

            @Override
            public void write(long offset, int size, long value) {
                synchronized (PciRootBus.this) {
                    if (offset == 0 && size == 4) {
                        configAddress = (int) value;
                        return;
                    }
                    if (offset < 4) {
                        return; // byte writes to 0xCF8..0xCFB are not the config mechanism (e.g. 0xCF9 reset)
                    }
                    int a = configAddress;
                    if ((a & 0x8000_0000) != 0) {
                        configWrite((a >>> 16) & 0xff, (a >>> 11) & 0x1f, (a >>> 8) & 7, (a & 0xfc) + (int) (offset - 4),
                                size, (int) value);
                    }
                }
            }
        };
    }

    /** An ECAM window of {@code buses} buses (register it on the MMIO bus at the MCFG base). */
    public BusDevice ecam() {
        return new BusDevice() {
            @Override
            public long read(long offset, int size) {
                if (size == 8) {
                    return read(offset, 4) | read(offset + 4, 4) << 32;
                }
                return configRead((int) (offset >>> 20) & 0xff, (int) (offset >>> 15) & 0x1f, (int) (offset >>> 12) & 7,
                        (int) (offset & 0xfff), size) & mask(size);
            }

            @Override
            public void write(long offset, int size, long value) {
                if (size == 8) {
                    write(offset, 4, value & 0xffff_ffffL);
                    write(offset + 4, 4, value >>> 32);
                    return;
                }
                configWrite((int) (offset >>> 20) & 0xff, (int) (offset >>> 15) & 0x1f, (int) (offset >>> 12) & 7,
                        (int) (offset & 0xfff), size, (int) value);
            }
        };
    }

    private static long mask(int size) {
        return size >= 4 ? 0xffff_ffffL : (1L << (8 * size)) - 1;
    }
}
