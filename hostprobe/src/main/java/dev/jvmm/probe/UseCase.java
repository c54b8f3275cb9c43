package dev.jvmm.probe;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** What an operator wants to run on the host; each gets a verdict. */
public enum UseCase {
    /** VMs with virtio (emulated) devices only. */
    VIRTIO("virtio"),
    /** Assigning a PCI device to a VM through VFIO. */
    PASSTHROUGH("passthrough"),
    /** Creating SR-IOV VFs and assigning them through VFIO. */
    SRIOV("sriov");

    private final String id;

    UseCase(String id) {
        this.id = id;
    }

    public String id() {
        return id;
    }

    /** Parses {@code virtio}, {@code passthrough} or {@code sriov} (case-insensitive). */
    public static UseCase parse(String s) {
        String t = s == null ? "" : s.trim().toLowerCase(Locale.ROOT);
        for (UseCase u : values()) {
            if (u.id.equals(t)) {
                return u;
            }
        }
        throw new ProbeException(ProbeException.Reason.BAD_ARGUMENT, "unknown use case '" + s + "'; expected one of "
                + Arrays.stream(values()).map(UseCase::id).collect(Collectors.joining(", ")));
    }
}
