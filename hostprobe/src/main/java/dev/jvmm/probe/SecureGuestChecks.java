package dev.jvmm.probe;

import static dev.jvmm.probe.CheckList.ev;

import java.util.ArrayList;
import java.util.List;

/** Confidential-guest features (AMD SEV/SEV-ES/SEV-SNP, Intel TDX, s390 PV), reported for information only. */
final class SecureGuestChecks {
    private SecureGuestChecks() {
    }

    static void run(ProbeContext c, CheckList out) {
        HostView h = c.h;
        List<Evidence> ev = new ArrayList<>();
        List<String> found = new ArrayList<>();
        for (String f : List.of("sev", "sev_es", "sev_snp", "tdx_host_platform")) {
            if (c.cpuFlags.contains(f)) {
                found.add(f);
            }
        }
        ev.add(ev(h.show(h.proc("cpuinfo")) + " flags", found.isEmpty() ? "no sev/sev_es/sev_snp/tdx" : String.join(" ",
                found)));
        boolean sevParam = false;
        for (String p : List.of("module/kvm_amd/parameters/sev", "module/kvm_amd/parameters/sev_es",
                "module/kvm_amd/parameters/sev_snp", "module/kvm_intel/parameters/tdx")) {
            var v = h.line(h.sys(p));
            if (v.isPresent()) {
                ev.add(ev(h.show(h.sys(p)), v.get()));
                if (p.endsWith("/sev") || p.endsWith("/tdx")) {
                    sevParam |= v.get().equals("1") || v.get().equalsIgnoreCase("Y");
                }
            }
        }
        boolean devSev = h.exists(h.dev("sev"));
        ev.add(ev(h.show(h.dev("sev")), devSev ? "exists" : "missing"));
        boolean s390 = h.isDirectory(h.sys("firmware/uv"));
        if (s390) {
            ev.add(ev(h.show(h.sys("firmware/uv")), "present"));
        }
        // the same rule as virt-host-validate: AMD needs the flag, the kvm_amd parameter and /dev/sev
        boolean supported = (c.cpuFlags.contains("sev") && sevParam && devSev) || s390
                || (c.cpuFlags.contains("tdx_host_platform") && sevParam);
        ev.add(ev("supported", supported));
        out.add("secure-guest", "secure-guest", Status.INFO, supported
                ? "Confidential guests supported by the host (" + String.join(" ", found) + ")"
                : "No confidential-guest support (SEV/TDX/PV); jvmm does not use it", "", ev);
    }
}
