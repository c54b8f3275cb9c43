package dev.jvmm.probe;

import static dev.jvmm.probe.CheckList.ev;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The vfio modules (loaded, built in or loadable), /dev/vfio/vfio, iommufd, no-IOMMU mode. */
final class VfioChecks {
    static final List<String> MODULES = List.of("vfio", "vfio_pci", "vfio_iommu_type1");

    private VfioChecks() {
    }

    enum ModState { LOADED, BUILTIN, LOADABLE, MISSING }

    static ModState state(ProbeContext c, String module) {
        HostView h = c.h;
        if (c.moduleLoaded(module)) {
            return ModState.LOADED;
        }
        if (c.kernelRelease.isEmpty()) {
            return ModState.MISSING;
        }
        Path dir = c.moduleTree();
        String file = module.replace('_', '-');
        String file2 = module;
        for (String line : h.read(dir.resolve("modules.builtin")).orElse("").split("\n")) {
            String base = line.substring(line.lastIndexOf('/') + 1);
            if (base.equals(file + ".ko") || base.equals(file2 + ".ko")) {
                return ModState.BUILTIN;
            }
        }
        for (String line : h.read(dir.resolve("modules.dep")).orElse("").split("\n")) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                continue;
            }
            String path = line.substring(0, colon);
            String base = path.substring(path.lastIndexOf('/') + 1);
            for (String suffix : List.of(".ko", ".ko.xz", ".ko.zst", ".ko.gz")) {
                if (base.equals(file + suffix) || base.equals(file2 + suffix)) {
                    return ModState.LOADABLE;
                }
            }
        }
        return ModState.MISSING;
    }

    static void run(ProbeContext c, CheckList out) {
        HostView h = c.h;
        List<Evidence> ev = new ArrayList<>();
        List<String> loadable = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (String m : MODULES) {
            ModState s = state(c, m);
            ev.add(ev(m, s.name().toLowerCase(java.util.Locale.ROOT)));
            if (s == ModState.LOADABLE) {
                loadable.add(m);
            } else if (s == ModState.MISSING) {
                missing.add(m);
            }
        }
        ev.addAll(c.moduleEvidence());
        String vfioConfig = "CONFIG_VFIO=y, CONFIG_VFIO_PCI=y, CONFIG_VFIO_IOMMU_TYPE1=y";
        if (missing.isEmpty() && loadable.isEmpty()) {
            out.add("vfio.modules", "vfio", Status.PASS, "vfio, vfio_pci and vfio_iommu_type1 are loaded or built in",
                    "", ev);
        } else if (missing.isEmpty()) {
            out.add("vfio.modules", "vfio", Status.WARN, "Not loaded but loadable: " + String.join(", ", loadable),
                    c.loadRemedy("modprobe vfio-pci (it pulls in vfio and vfio_iommu_type1); make it permanent in"
                            + " /etc/modules-load.d/vfio.conf", "VFIO", vfioConfig), ev);
        } else {
            out.add("vfio.modules", "vfio", Status.FAIL, "Not loaded and not available: " + String.join(", ", missing),
                    c.loadRemedy("Install a kernel built with CONFIG_VFIO, CONFIG_VFIO_PCI and CONFIG_VFIO_IOMMU_TYPE1"
                            + " (Debian's stock kernel has them as modules) with its /lib/modules tree", "VFIO",
                            vfioConfig), ev);
        }

        Path container = h.dev("vfio/vfio");
        List<Evidence> cev = new ArrayList<>();
        boolean cExists = h.exists(container);
        cev.add(ev(h.show(container), cExists ? (h.readableWritable(container) ? "exists, read-write"
                : "exists, not accessible") : "missing"));
        if (cExists && h.readableWritable(container)) {
            out.add("vfio.container", "vfio", Status.PASS, "/dev/vfio/vfio is there", "", cev);
        } else if (cExists) {
            out.add("vfio.container", "vfio", Status.FAIL, "/dev/vfio/vfio is not accessible to this user",
                    "Run as root or give the user access to /dev/vfio/*", cev);
        } else if (missing.isEmpty()) {
            out.add("vfio.container", "vfio", Status.WARN, "/dev/vfio/vfio appears once vfio is loaded",
                    c.loadRemedy("modprobe vfio-pci", "VFIO", vfioConfig), cev);
        } else {
            out.add("vfio.container", "vfio", Status.FAIL, "/dev/vfio/vfio is missing and vfio cannot be loaded",
                    c.loadRemedy("Install a kernel with VFIO support", "VFIO", vfioConfig), cev);
        }

        Path iommufd = h.dev("iommu");
        boolean fd = h.exists(iommufd);
        out.add("vfio.iommufd", "vfio", Status.INFO, fd ? "iommufd available (/dev/iommu)"
                : "iommufd not available (/dev/iommu missing); the VFIO type1 container is used", "",
                List.of(ev(h.show(iommufd), fd ? "exists" : "missing")));

        Path noiommu = h.sys("module/vfio/parameters/enable_unsafe_noiommu_mode");
        h.line(noiommu).ifPresent(v -> {
            boolean on = v.equalsIgnoreCase("Y") || v.equals("1");
            out.add("vfio.noiommu", "vfio", on ? Status.WARN : Status.PASS, on
                    ? "VFIO no-IOMMU mode is on: devices can DMA anywhere in host memory"
                    : "VFIO no-IOMMU mode is off", "Set vfio enable_unsafe_noiommu_mode=0 (jvmm never uses it)",
                    List.of(ev(h.show(noiommu), v)));
        });
    }
}
