package dev.jvmm.lab;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The QEMU command line of the emulated host (L1): q35 under TCG with {@code -cpu max} (its emulated SVM gives
 * kvm_amd inside), one vCPU (two panic under nested network load, see docs/lab.md), intel-iommu with interrupt
 * remapping and caching mode, an igb SR-IOV PF and an NVMe SR-IOV PF each behind its own PCIe root port, an e1000e
 * (82574L) behind a third root port for whole-function passthrough, the host root read-only over 9p.
 *
 * <p>The wire: the igb PF and the e1000e are the two ports of one QEMU hub ({@code -netdev hubport}), so whatever a
 * VF or the e1000e sends (from L1 or from an L2 guest they are passed to) reaches the other side and L1's igb PF
 * netdev; igb's own switch connects the PF and its VFs. No port of the hub leaves QEMU: no traffic reaches the host.
 *
 * <p>Memory: all of L1's RAM stays below 4 GiB ({@link #DEFAULT_MEMORY_MB}) because of a QEMU 10.0.2 bug: QEMU
 * commit cab1398a60eb ("pcie_sriov: Reuse SR-IOV VF device instances") realizes the VFs before igb declares the VF
 * BAR type, so every VF BAR is registered as 32-bit and QEMU maps it at the low 32 bits of the 64-bit address the
 * guest programs. With RAM above 4 GiB, SeaBIOS puts the root port's 64-bit prefetchable window at 0xc0_0000_0000,
 * the VF BARs land there (low 32 bits 0), and QEMU maps none: every VF register reads 0 and igbvf says
 * "PF still in reset state". Fixed upstream by "pcie_sriov: Fix broken MMIO accesses from SR-IOV VFs" (2e54e5fda779,
 * QEMU 10.0.6 and 10.1); bookworm-backports ships 10.0.2. At 2815 MiB q35 keeps all RAM low and Linux places the
 * window below 4 GiB (0xfe800000). VfioPassthroughLabTest fails, naming this bug, if a VF BAR is ever at or above 4 GiB.
 */
public final class L1CommandLine {

    /** PCI vendor:device of the igb PF (82576). */
    public static final String IGB_PF_ID = "8086:10c9";
    /** PCI vendor:device of QEMU's NVMe controller. */
    public static final String NVME_PF_ID = "1b36:0010";
    /** PCI vendor:device of the e1000e (82574L). */
    public static final String E1000E_ID = "8086:10d3";
    /** The e1000e's address in L1 (behind root port 3). */
    public static final String E1000E_BDF = "0000:03:00.0";
    /** The e1000e's MAC. */
    public static final String E1000E_MAC = "52:54:00:00:e1:0e";
    /** The igb PF's MAC. */
    public static final String IGB_PF_MAC = "52:54:00:00:1b:00";
    /**
     * L1's default memory: the most q35 keeps entirely below 4 GiB (it splits RAM at 2 GiB from 2816 MiB up), which
     * keeps the igb VF BARs below 4 GiB, where QEMU 10.0.2 maps them (see the class comment).
     */
    public static final int DEFAULT_MEMORY_MB = 2815;

    private String qemu = "qemu-system-x86_64";
    private Path kernel;
    private Path initrd;
    private int memoryMb = DEFAULT_MEMORY_MB;
    private final Map<String, String> env = new LinkedHashMap<>();
    private boolean quiet = true;
    private Path runShare;
    private Path scratchImage;
    private String scratchCache = "unsafe";
    private Path e1000eRom;
    private Path nvmeNamespace;
    private boolean interactive;
    private final List<String> extra = new ArrayList<>();

    public L1CommandLine qemu(String binary) {
        this.qemu = binary;
        return this;
    }

    public L1CommandLine kernel(Path kernel, Path initrd) {
        this.kernel = kernel;
        this.initrd = initrd;
        return this;
    }

    public L1CommandLine memoryMb(int mb) {
        this.memoryMb = mb;
        return this;
    }

    /** A {@code KEY=value} word on the kernel command line; /init sees it as an environment variable. */
    public L1CommandLine env(String key, String value) {
        if (!key.matches("[A-Z_][A-Z0-9_]*") || value.matches(".*[\\s\"].*")) {
            throw new IllegalArgumentException("kernel command line variable must be KEY=word: " + key + "=" + value);
        }
        env.put(key, value);
        return this;
    }

    public L1CommandLine quiet(boolean quiet) {
        this.quiet = quiet;
        return this;
    }

    /** The per-run directory shared read-write (9p tag {@code jvmmrun}). */
    public L1CommandLine runShare(Path dir) {
        this.runShare = dir;
        return this;
    }

    /** A raw ext4 image attached as virtio-blk ({@code /dev/vda} in L1), with QEMU's {@code cache=} mode. */
    public L1CommandLine scratchImage(Path image, String cache) {
        this.scratchImage = image;
        this.scratchCache = cache;
        return this;
    }

    /** The e1000e's expansion ROM image ({@link OptionRom}); without it QEMU looks for iPXE's. */
    public L1CommandLine e1000eRom(Path image) {
        this.e1000eRom = image;
        return this;
    }

    /**
     * A raw image as namespace 1 of the NVMe subsystem, created detached: a test attaches it to a VF's secondary
     * controller (Namespace Attachment), so that a guest's nvme driver has blocks to read and write.
     */
    public L1CommandLine nvmeNamespace(Path image) {
        this.nvmeNamespace = image;
        return this;
    }

    /** Serial console and QEMU monitor on stdio ({@code Ctrl-A X} quits), for {@code jvmm lab shell}. */
    public L1CommandLine interactive(boolean interactive) {
        this.interactive = interactive;
        return this;
    }

    public L1CommandLine extra(String... args) {
        extra.addAll(List.of(args));
        return this;
    }

    public String appendLine() {
        // no_timer_check: under TCG on a busy host the IO-APIC timer check can miss its window and panic the boot
        StringBuilder sb = new StringBuilder("console=ttyS0 panic=-1 intel_iommu=on no_timer_check");
        if (quiet) {
            sb.append(" quiet");
        }
        env.forEach((k, v) -> sb.append(' ').append(k).append('=').append(v));
        return sb.toString();
    }

    public List<String> build() {
        if (kernel == null || initrd == null) {
            throw new IllegalStateException("kernel and initrd are required");
        }
        List<String> c = new ArrayList<>(List.of(qemu, "-name", "jvmm-lab-l1",
                "-M", "q35", "-accel", "tcg", "-cpu", "max", "-smp", "1", "-m", Integer.toString(memoryMb),
                "-display", "none", "-vga", "none", "-no-reboot", "-nic", "none",
                "-serial", interactive ? "mon:stdio" : "stdio",
                "-kernel", kernel.toString(), "-initrd", initrd.toString(), "-append", appendLine(),
                "-device", "intel-iommu,intremap=on,caching-mode=on",
                // igb SR-IOV PF (7 VFs) behind root port 1: PF 01:00.0, VFs 01:10.0, 01:10.2, ...
                "-device", "pcie-root-port,id=jvmm_rp1,bus=pcie.0,chassis=1,slot=1",
                "-netdev", "hubport,id=jvmm_wire_igb,hubid=0",
                "-device", "igb,bus=jvmm_rp1,netdev=jvmm_wire_igb,mac=" + IGB_PF_MAC,
                // NVMe SR-IOV PF (2 VFs) behind root port 2; flexible resources: VQ >= 2 x VFs, VI >= VFs
                "-device", "pcie-root-port,id=jvmm_rp2,bus=pcie.0,chassis=2,slot=2",
                "-device", "nvme-subsys,id=jvmm_nvmesubsys",
                "-device", "nvme,id=jvmm_nvme,serial=jvmmlab0,subsys=jvmm_nvmesubsys,bus=jvmm_rp2,"
                        + "sriov_max_vfs=2,sriov_vq_flexible=4,sriov_vi_flexible=2",
                // e1000e (82574L: MSI-X, MSI and INTx) behind root port 3, the igb's peer on the hub: 03:00.0
                "-device", "pcie-root-port,id=jvmm_rp3,bus=pcie.0,chassis=3,slot=3",
                "-netdev", "hubport,id=jvmm_wire_e1000e,hubid=0",
                "-device", "e1000e,bus=jvmm_rp3,netdev=jvmm_wire_e1000e,mac=" + E1000E_MAC
                        + (e1000eRom == null ? "" : ",romfile=" + e1000eRom),
                "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"));
        if (!interactive) {
            c.addAll(List.of("-monitor", "none"));
        }
        if (runShare != null) {
            c.addAll(List.of("-virtfs", "local,path=" + runShare + ",mount_tag=jvmmrun,security_model=none,multidevs=remap"));
        }
        if (nvmeNamespace != null) {
            c.addAll(List.of("-drive", "file=" + nvmeNamespace + ",if=none,id=jvmm_nvm1,format=raw,cache=unsafe",
                    "-device", "nvme-ns,drive=jvmm_nvm1,bus=jvmm_nvme,nsid=1,shared=on,detached=on"));
        }
        if (scratchImage != null) {
            c.addAll(List.of("-drive", "file=" + scratchImage + ",if=none,id=jvmm_scratch,format=raw,cache=" + scratchCache,
                    "-device", "virtio-blk-pci,drive=jvmm_scratch"));
        }
        c.addAll(extra);
        return c;
    }
}
