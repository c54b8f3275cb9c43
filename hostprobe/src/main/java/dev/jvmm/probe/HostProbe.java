package dev.jvmm.probe;

import java.util.List;

/**
 * Probes a host: runs every check, then derives a verdict per use case.
 *
 * <pre>{@code
 * ProbeReport r = HostProbe.probe(Roots.host(), ProbeOptions.defaults());
 * boolean ok = r.verdict(UseCase.PASSTHROUGH).ready();
 * }</pre>
 */
public final class HostProbe {
    private final Roots roots;
    private final KvmAccess kvm;

    /**
     * @param roots where /sys, /proc, /dev are
     * @param kvm   how to talk to the KVM device ({@link DevKvm} for a real host)
     */
    public HostProbe(Roots roots, KvmAccess kvm) {
        this.roots = roots;
        this.kvm = kvm;
    }

    /** Probes the running host with the real /dev/kvm. */
    public static ProbeReport probe(ProbeOptions options) {
        return new HostProbe(Roots.host(), new DevKvm()).run(options);
    }

    /**
     * The verdict for one use case from only the checks it depends on ({@link Verdicts}): no host facts (oshi),
     * no SR-IOV or secure-guest checks unless {@code u} needs them; with {@code measureKvmSpeed} off no guest loop
     * either. What {@code jvmm launch} asks before it passes a NIC through, in a few milliseconds.
     */
    public Verdict verdict(UseCase u, ProbeOptions options) {
        HostView h = new HostView(roots);
        ProbeContext c = new ProbeContext(h, options, kvm);
        CheckList out = new CheckList();
        CpuKvmChecks.run(c, out);
        DeviceChecks.run(c, out);
        if (u != UseCase.VIRTIO) {
            IommuChecks.run(c, IommuChecks.groups(h), out);
            VfioChecks.run(c, out);
            ResourceChecks.run(c, out);
        }
        if (u == UseCase.SRIOV) {
            SriovChecks.run(c, SriovChecks.devices(h), out);
        }
        return Verdicts.of(out.all()).get(u);
    }

    /** {@link #verdict(UseCase, ProbeOptions)} on the running host with the real /dev/kvm. */
    public static Verdict verdictOf(UseCase u, ProbeOptions options) {
        return new HostProbe(Roots.host(), new DevKvm()).verdict(u, options);
    }

    public ProbeReport run(ProbeOptions options) {
        HostView h = new HostView(roots);
        ProbeContext c = new ProbeContext(h, options, kvm);
        CheckList out = new CheckList();
        HostInfo info = HostInfo.read(c);
        info.check(c, out);
        CpuKvmChecks.run(c, out);
        DeviceChecks.run(c, out);
        List<IommuGroup> groups = IommuChecks.groups(h);
        IommuChecks.run(c, groups, out);
        VfioChecks.run(c, out);
        List<SriovDevice> pfs = SriovChecks.devices(h);
        SriovChecks.run(c, pfs, out);
        ResourceChecks.run(c, out);
        SecureGuestChecks.run(c, out);
        List<Check> checks = out.all();
        KvmSpeed.Result speed = h.exists(h.dev("kvm")) && h.readableWritable(h.dev("kvm")) ? c.kvm().speed() : null;
        return new ProbeReport(info, checks, Verdicts.of(checks), groups, pfs, speed, options);
    }
}
