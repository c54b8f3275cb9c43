package dev.jvmm.sriov;

import dev.jvmm.sys.json.Json;
import dev.jvmm.sys.pci.PciAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Runs inside the lab's L1 (started by {@link SriovLabTest} through {@code LabSession.runJava}, or in the background
 * through {@code LabSession.javaCommand}) against the real igb and NVMe PFs:
 * <ul>
 * <li>{@code apply STATE_DIR SPEC_JSON}, {@code snapshot STATE_DIR PF}, {@code reset STATE_DIR PF}: declarative apply;</li>
 * <li>{@code numvfs PF N on|off}: the VF count, with {@code sriov_drivers_autoprobe} set first;</li>
 * <li>{@code lease LEASE_DIR PF MAC VLAN HOLDER}: takes a VF from the PF's pool and holds it until killed (SIGTERM:
 *     the shutdown hook closes the lease; SIGKILL: the lease is left behind, stale);</li>
 * <li>{@code leases LEASE_DIR PF}, {@code reconcile LEASE_DIR PF}: the pool's state, and releasing stale leases.</li>
 * </ul>
 * Prints one result line per fact, prefixed so the test can pick them out of the JVM's other output.
 */
public final class SriovLabScenario {
    private SriovLabScenario() {
    }

    public static void main(String[] a) throws InterruptedException {
        switch (a[0]) {
            case "apply", "snapshot", "reset" -> apply(a);
            case "numvfs" -> {
                try (SriovManager m = SriovManager.system()) {
                    m.setNumVfs(PciAddress.parse(a[1]), Integer.parseInt(a[2]), a[3].equals("on"), Duration.ofSeconds(120));
                    System.out.println("NUMVFS " + a[1] + " " + a[2]);
                }
            }
            case "lease" -> lease(a);
            case "leases" -> {
                try (VfPool pool = new VfPool(SriovManager.system(), Path.of(a[1]))) {
                    PoolState st = pool.state(a[2]);
                    for (PoolState.Slot s : st.vfs()) {
                        System.out.println("VF " + s.bdf() + " " + PoolReport.name(s.status()) + " "
                                + (s.lease() == null ? "-" : s.lease().holder()));
                    }
                    PoolReport.text(List.of(st)).lines().forEach(l -> System.out.println("REPORT " + l));
                }
            }
            case "reconcile" -> {
                try (VfPool pool = new VfPool(SriovManager.system(), Path.of(a[1]))) {
                    List<VfPool.Released> rs = pool.reclaimStale(a[2]);
                    printReclaimed(rs);
                    PoolReport.reclaimedText(rs).lines().forEach(l -> System.out.println("REPORT " + l));
                }
            }
            default -> throw new IllegalArgumentException(a[0]);
        }
    }

    private static void printReclaimed(List<VfPool.Released> rs) {
        for (VfPool.Released r : rs) {
            System.out.println("RECLAIMED " + r.lease().vf() + " " + r.lease().holder() + " " + (r.ok() ? "ok" : "failed")
                    + " [" + r.stale() + "] " + (r.ok() ? String.join(", ", r.actions()) : r.failure().getMessage()));
        }
    }

    private static void lease(String[] a) throws InterruptedException {
        VfPool pool = new VfPool(SriovManager.system(), Path.of(a[1]));
        VfPool.Lease lease;
        try {
            lease = pool.acquire(a[2], null, new VfNetConfig(a[3], Integer.valueOf(a[4]), null, null, null, null, null,
                    null, null), a[5]);
        } catch (SriovException e) {
            System.out.println("FAILED " + e.reason() + " " + e.getMessage());
            pool.close();
            System.exit(1);
            return;
        }
        printReclaimed(lease.reclaimed());
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            // SIGTERM: the VMM's own orderly end. Close order: lease, then the pool (and its manager).
            try (pool) {
                lease.close();
                System.out.println("RELEASED " + lease.vf());
            } catch (SriovException e) {
                System.out.println("RELEASE-FAILED " + e.getMessage());
            }
            System.out.flush();
        }, "lease-close"));
        System.out.println("LEASED " + lease.vf() + " " + lease.index() + " " + ProcessHandle.current().pid());
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }

    private static void apply(String[] a) {
        try (SriovManager m = SriovManager.system()) {
            SriovApply ap = new SriovApply(m, Path.of(a[1]), Path.of(a[1], "journal"), Path.of("/proc"), Duration.ofSeconds(120));
            switch (a[0]) {
                case "apply" -> {
                    long t0 = System.nanoTime();
                    try {
                        for (SriovApply.PfReport r : ap.apply(SriovSpec.parse(a[2]))) {
                            System.out.println("RESULT " + r.pf() + " changed=" + r.changed());
                            r.actions().forEach(x -> System.out.println("ACTION " + r.pf() + " " + x));
                            r.notes().forEach(x -> System.out.println("NOTE " + x));
                        }
                    } catch (SriovException e) {
                        System.out.println("FAILED " + e.reason() + " " + e.getMessage());
                        for (Throwable s : e.getSuppressed()) {
                            System.out.println("SUPPRESSED " + s);
                        }
                    }
                    System.out.println("ELAPSED_MS " + (System.nanoTime() - t0) / 1_000_000);
                }
                case "snapshot" -> System.out.println("SNAPSHOT " + Json.write(ap.snapshot(PciAddress.parse(a[2])).toJson())
                        .replaceAll("\\s*\n\\s*", " "));
                default -> {
                    ap.reset(PciAddress.parse(a[2]));
                    System.out.println("RESET " + a[2]);
                }
            }
        }
    }
}
