package dev.jvmm.sriov;

import dev.jvmm.sys.FileErrors;
import dev.jvmm.sys.json.Json;
import dev.jvmm.sys.pci.DriverBinder;
import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.sys.pci.PciException;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What one lease file ({@code <lease dir>/<PF>/<VF>.json}) says: which VF of which PF, who holds it (the pid and that
 * process's start time, so that a pid the kernel has given to another process is not taken for the holder, and a
 * label such as the VM name), since when, and what the VF was before: its driver binding, given back when the lease
 * ends, and its network settings, put back when taking the VF fails.
 *
 * @param pfNetdev  the PF's network interface when the lease was taken; null for a PF that is not a NIC
 * @param index     the VF's index on the PF ({@code virtfnN})
 * @param beforeNet the VF's network settings before the lease; null for a PF that is not a NIC
 * @param config    the settings the lease applied ({@link VfNetConfig#NONE} when none)
 */
public record LeaseRecord(PciAddress pf, String pfNetdev, PciAddress vf, int index, long pid, long starttime,
                          String holder, Instant acquiredAt, DriverBinder.Binding before, VfNetConfig beforeNet,
                          VfNetConfig config) {
    /** The format written; a reader refuses others. */
    public static final int VERSION = 1;

    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("version", VERSION);
        m.put("pf", pf.toString());
        m.put("pfNetdev", pfNetdev);
        m.put("vf", vf.toString());
        m.put("index", index);
        m.put("holder", holder);
        m.put("pid", pid);
        m.put("starttime", starttime);
        m.put("acquiredAt", acquiredAt.toString());
        m.put("config", net(config));
        Map<String, Object> b = new LinkedHashMap<>();
        b.put("driver", before.driver());
        b.put("driverOverride", before.override());
        b.put("net", beforeNet == null ? null : net(beforeNet));
        m.put("before", b);
        return m;
    }

    private static Map<String, Object> net(VfNetConfig c) {
        Map<String, Object> n = new LinkedHashMap<>();
        SriovSpec.netToJson(c, n);
        return n;
    }

    /**
     * Reads a lease file; null when it does not exist. A file that is not a lease of this format, or that names
     * another VF than its file name, is a LEASE error naming it: jvmm did not write it, so it is left for a person.
     */
    @SuppressWarnings("unchecked")
    static LeaseRecord read(Path file) {
        Object o;
        try {
            o = JsonFiles.read(file);
        } catch (IOException | Json.ParseException e) {
            throw malformed(file, FileErrors.describe(e), e);
        }
        if (o == null) {
            return null;
        }
        try {
            Map<String, Object> m = (Map<String, Object>) o;
            if (!Long.valueOf(VERSION).equals(m.get("version"))) {
                throw malformed(file, "version " + m.get("version") + ", expected " + VERSION, null);
            }
            Map<String, Object> b = (Map<String, Object>) m.get("before");
            LeaseRecord r = new LeaseRecord(PciAddress.parse((String) m.get("pf")), (String) m.get("pfNetdev"),
                    PciAddress.parse((String) m.get("vf")), PfSnapshot.i(m.get("index")), (Long) m.get("pid"),
                    (Long) m.get("starttime"), (String) m.get("holder"), Instant.parse((String) m.get("acquiredAt")),
                    new DriverBinder.Binding((String) b.get("driver"), (String) b.get("driverOverride")),
                    b.get("net") == null ? null : SriovSpec.netFromJson(b.get("net")),
                    SriovSpec.netFromJson(m.get("config")));
            if (!file.getFileName().toString().equals(r.vf() + ".json")) {
                throw malformed(file, "it describes VF " + r.vf(), null);
            }
            return r;
        } catch (ClassCastException | NullPointerException | PciException | DateTimeParseException | SriovException e) {
            if (e instanceof SriovException s && s.reason() == SriovException.Reason.LEASE) {
                throw s;
            }
            throw malformed(file, e.getMessage(), e);
        }
    }

    private static SriovException malformed(Path file, String why, Throwable cause) {
        return new SriovException(SriovException.Reason.LEASE, "lease file " + file + " is not a jvmm VF lease (" + why
                + "); if no VM uses that VF, delete the file (the VF is then free as it is; 'jvmm sriov unbind VF' gives it"
                + " back to its host driver)", cause);
    }
}
