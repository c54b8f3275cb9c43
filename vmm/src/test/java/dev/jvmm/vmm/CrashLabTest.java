package dev.jvmm.vmm;

import static dev.jvmm.vmm.LabCli.jvmm;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.lab.CommandResult;
import dev.jvmm.lab.LabSession;
import dev.jvmm.lab.junit.LabTest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Lab tier, issue 17: jvmm killed with SIGKILL at random points, and the host put right afterwards. In one L1 command,
 * on the igb PF:
 * <ul>
 * <li><b>{@code jvmm sriov apply}</b> of a spec that takes the PF from 2 VFs to 4 with MACs, a VLAN and two VFs on
 * vfio-pci, killed at a random time within one apply's measured duration, and at random delays after the apply
 * reached a given step (the VF count through 0, the new count, VF 0's MAC set, VF 0 on vfio-pci). After each kill
 * {@code jvmm sriov reconcile} runs: the PF must be either exactly as before the apply (rolled back, or never
 * touched) or exactly as the spec says (the apply had finished), with no journal left in {@code /run}.</li>
 * <li><b>{@code jvmm launch}</b> of a VM with a VF passed through (a lease from the pool), virtio-net on a macvtap over
 * the PF and on a TAP jvmm makes, killed twice with its guest running (the next {@code jvmm launch} puts the host
 * right after the first, {@code jvmm sriov reconcile} after the second), at random times within its measured
 * start-up, and at random delays after a step (the lease file written, the VF on vfio-pci, the macvtap made, a VFIO
 * fd open, the TAP made), each followed by reconcile. After reconcile there must be no lease, no VF on vfio-pci (the
 * pool's spec has none), every VF's MAC cleared, no macvtap or TAP, and no file under {@code /run/jvmm} but the
 * locks.</li>
 * </ul>
 * The random times come from a seed printed at the start; {@code -Djvmm.crash.seed=N} repeats a run.
 */
@LabTest
class CrashLabTest {
    private static final String PF = "0000:01:00.0";
    /** Kills at a random moment of a whole apply or launch, beside the kills right after each step. */
    private static final int RANDOM_APPLY_KILLS = 2, RANDOM_LAUNCH_KILLS = 2;
    private static final String PFS = "/sys/bus/pci/devices/" + PF;
    private static final String SPEC0 = "{\"pfs\":[{\"pf\":\"" + PF + "\",\"numVfs\":2,\"autoprobe\":false}]}";
    private static final String SPECA = "{\"pfs\":[{\"pf\":\"" + PF + "\",\"numVfs\":4,\"autoprobe\":false,\"vfs\":["
            + "{\"index\":0,\"mac\":\"52:54:00:17:00:00\",\"vlan\":7,\"driver\":\"vfio-pci\"},"
            + "{\"index\":1,\"mac\":\"52:54:00:17:00:01\",\"driver\":\"vfio-pci\"},"
            + "{\"index\":2,\"mac\":\"52:54:00:17:00:02\"},{\"index\":3,\"spoofchk\":false}]}]}";

    /** The steps an apply passes, as shell conditions on the PF ({@code $P} is its interface). */
    private static final List<String[]> APPLY_STEPS = List.of(
            new String[] {"numvfs-0", "[ \"$(cat " + PFS + "/sriov_numvfs)\" = 0 ]"},
            new String[] {"numvfs-4", "[ \"$(cat " + PFS + "/sriov_numvfs)\" = 4 ]"},
            new String[] {"vf0-mac", "ip link show dev $P | grep -q 'vf 0 .*52:54:00:17:00:00'"},
            new String[] {"vf0-vfio", "[ \"$(basename \"$(readlink " + PFS + "/virtfn0/driver)\" 2>/dev/null)\" = vfio-pci ]"});
    /** The steps a launch passes ({@code $A} is its pid). */
    private static final List<String[]> LAUNCH_STEPS = List.of(
            new String[] {"lease", "ls /run/jvmm/leases/" + PF + "/ 2>/dev/null | grep -q json"},
            new String[] {"vf-vfio", "ls -l " + PFS + "/virtfn*/driver 2>/dev/null | grep -q vfio-pci"},
            new String[] {"macvtap", "ip -o link | grep -q \"mvt${A}n\""},
            new String[] {"vfio-fd", "ls -l /proc/$A/fd 2>/dev/null | grep -q /dev/vfio/"},
            new String[] {"tap", "ip -o link | grep -q jvmmtap"});
    /** A launch whose guest is running ({@code $L} is its log). */
    private static final String GUEST_UP = "grep -q G-UP-42 $L";

    /** {@code jvmm launch} of the kit's guest running {@code script}, 1 vCPU, 512 MiB. */
    private static String launch(LabSession lab, String script) {
        List<String> a = new ArrayList<>(List.of("launch"));
        a.addAll(LaunchLabTest.kitArgs(lab, 1, script));
        return jvmm(a.toArray(String[]::new));
    }

    @Test
    void killedAtRandomPointsTheHostIsPutRight(LabSession lab) {
        long seed = Long.getLong("jvmm.crash.seed", System.nanoTime());
        Random rnd = new Random(seed);
        System.out.println("[crash] seed " + seed + " (-Djvmm.crash.seed=" + seed + " repeats these kill points)");
        String apply = jvmm("sriov", "apply", "--state-dir", "state");
        String reconcile = jvmm("sriov", "reconcile", "--state-dir", "state");
        String launch = launch(lab, "echo G-UP-$((6*7)); sleep 600")
                + " --nic \"id=eth0,mode=passthrough,pf=$P,mac=52:54:00:00:17:01\""
                + " --nic \"id=eth1,mode=virtio,pf=$P,mac=52:54:00:00:17:02\" --nic id=eth2,mode=virtio";
        List<String> s = new ArrayList<>(List.of(
                "set -u; W=$JVMM_LAB_SCRATCH/crash; rm -rf $W; mkdir -p $W && cd $W",
                "P=$(ls " + PFS + "/net); ip link set dev $P up",
                "cat > s0.json <<'EOF'\n" + SPEC0 + "\nEOF",
                "cat > sa.json <<'EOF'\n" + SPECA + "\nEOF",
                // the PF as apply sets it: VF count, and per VF its driver, MAC, VLAN and spoof checking
                "st() { n=$(cat " + PFS + "/sriov_numvfs); s=\"n=$n\"; for i in $(seq 0 $((n-1))); do"
                        + " d=$(basename \"$(readlink " + PFS + "/virtfn$i/driver)\" 2>/dev/null); l=$(ip link show dev $P | grep \"vf $i \");"
                        + " mac=$(echo \"$l\" | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2);"
                        + " vlan=$(echo \"$l\" | grep -o 'vlan [0-9]*' | cut -d' ' -f2);"
                        + " spoof=$(echo \"$l\" | grep -o 'spoof checking [a-z]*' | cut -d' ' -f3);"
                        + " s=\"$s vf$i=${d:-none}/$mac/${vlan:-0}/$spoof\"; done; echo \"$s\"; }",
                "ms() { printf '%d.%03d' $(($1/1000)) $(($1%1000)); }",
                // polls every $2 s (default 0.02): a busy loop took L1's one CPU from the jvmm it waited for
                "waitfor() { while ! eval \"$1\" && kill -0 $A 2>/dev/null; do sleep ${2:-0.02}; done; }",
                // files under /run/jvmm that were not there before (another test's would not be this test's business)
                "find /run/jvmm -type f 2>/dev/null > run0.txt; echo /dev/null >> run0.txt",
                "runfiles() { find /run/jvmm -type f ! -name .lock 2>/dev/null | grep -vxF -f run0.txt | tr '\\n' ' '; }",
                apply + " s0.json > /dev/null 2>&1 || echo BASELINE-FAILED",
                "S0=$(st); t0=$(date +%s%N); " + apply + " sa.json > full.log 2>&1; echo APPLY-FULL-RC $?;"
                        + " TA=$(( ($(date +%s%N) - t0) / 1000000 )); SA=$(st)",
                "echo \"APPLY-FULL ms=$TA\"; echo \"S0 $S0\"; echo \"SA $SA\"",
                apply + " s0.json > /dev/null 2>&1",
                // one apply round: start it, wait for a step, sleep, kill -9, reconcile, look
                "around() { " + apply + " sa.json > a.log 2>&1 & A=$!; [ -n \"$2\" ] && waitfor \"$2\"; sleep $(ms $3);"
                        + " kill -9 $A 2>/dev/null; wait $A 2>/dev/null; K=$(st); R=$(" + reconcile + " 2>&1); rc=$?; E=$(st);"
                        + " echo \"APPLY-KILL $1 at=$3ms reconcile-rc=$rc journal=$(ls -A /run/jvmm/sriov-apply 2>/dev/null | grep -vc '^.lock$')"
                        + " killed=[$K] after=[$E] said=[$(echo \"$R\" | grep -c 'rolled back the apply')]\";"
                        + " [ \"$E\" = \"$S0\" ] || " + apply + " s0.json > /dev/null 2>&1; }"));
        for (int i = 0; i < RANDOM_APPLY_KILLS; i++) {
            s.add("around random-" + i + " '' $(( TA * " + rnd.nextInt(1000) + " / 1000 ))");
        }
        for (String[] step : APPLY_STEPS) {
            s.add("around " + step[0] + " '" + step[1].replace("'", "'\\''") + "' " + rnd.nextInt(150));
        }
        s.addAll(List.of(
                "sleep 1; echo S0-AGAIN $(st)",
                // one launch round: start it, wait for a step, sleep, kill -9, then reconcile (or the next launch)
                "check() { echo \"$1 reconcile-rc=$2 leases=$(ls /run/jvmm/leases/" + PF + "/ 2>/dev/null | grep -c json)"
                        + " vfio-vfs=$(ls -l " + PFS + "/virtfn*/driver 2>/dev/null | grep -c vfio-pci)"
                        + " vf-macs-set=$(ip link show dev $P | grep 'vf [0-9] ' | grep -vc 'link/ether 00:00:00:00:00:00')"
                        + " links=$(ip -o link | grep -c -E 'mvt[0-9]+n|jvmmtap') runfiles=[$(runfiles)]\"; }",
                // the first launch is killed with its guest running; the next launch on the same PF, not
                // reconcile, puts the host right; it is killed in turn with its guest running, and reconcile cleans
                "t0=$(date +%s%N); L=l.log; " + launch + " > $L 2>&1 & A=$!; waitfor '" + GUEST_UP + "' 0.5;"
                        + " TU=$(( ($(date +%s%N) - t0) / 1000000 )); echo \"LAUNCH-UP ms=$TU\"; grep -q G-UP-42 $L || tail -20 $L;"
                        + " kill -9 $A; wait $A 2>/dev/null",
                "echo NEXT-LEFT $(ls /run/jvmm/leases/" + PF + "/ | grep -c json) $(ip -o link | grep -c -E 'mvt[0-9]+n')",
                "L=n.log; " + launch + " > $L 2>&1 & A=$!; waitfor '" + GUEST_UP + "' 0.5;"
                        + " grep -E 'released the stale lease|deleted macvtap' $L | sed 's/^/NEXT-SAYS /';"
                        + " grep -c G-UP-42 $L | sed 's/^/NEXT-GUEST /'; kill -9 $A; wait $A 2>/dev/null;"
                        + " R=$(" + reconcile + " 2>&1); check LAUNCH-KILL-running $?; echo \"$R\" | sed 's/^/SAID-running /'",
                "lround() { " + launch + " > l.log 2>&1 & A=$!; [ -n \"$2\" ] && waitfor \"$2\"; sleep $(ms $3);"
                        + " kill -9 $A 2>/dev/null; wait $A 2>/dev/null; R=$(" + reconcile + " 2>&1); rc=$?;"
                        + " check \"LAUNCH-KILL $1 at=$3ms\" $rc; echo \"$R\" | sed \"s/^/SAID-$1 /\"; }"));
        for (int i = 0; i < RANDOM_LAUNCH_KILLS; i++) {
            s.add("lround random-" + i + " '' $(( TU * " + rnd.nextInt(1000) + " / 1000 ))");
        }
        for (String[] step : LAUNCH_STEPS) {
            s.add("lround " + step[0] + " '" + step[1].replace("'", "'\\''") + "' " + rnd.nextInt(150));
        }
        s.add("echo S0-END $(st)");
        try {
            CommandResult r = lab.run(String.join("\n", s), Duration.ofMinutes(20));
            String out = r.output();
            System.out.println("[crash] SIGKILL at random points:\n" + out);
            assertTrue(!out.contains("BASELINE-FAILED"), out);
            assertEquals("0", LabCli.line(out, "APPLY-FULL-RC"), out);
            String s0 = LabCli.line(out, "S0");
            String sa = LabCli.line(out, "SA");
            assertTrue(s0.matches("n=2 vf0=none/00:00:00:00:00:00/0/on vf1=none/00:00:00:00:00:00/0/on"), s0);
            assertTrue(sa.startsWith("n=4 vf0=vfio-pci/52:54:00:17:00:00/7/on vf1=vfio-pci/52:54:00:17:00:01/0/on vf2=none/52:54:00:17:00:02/0/on vf3=none/"), sa);
            Matcher m = Pattern.compile("(?m)^APPLY-KILL (\\S+) at=(\\d+)ms reconcile-rc=(\\d+) journal=(\\d+) killed=\\[(.*)] after=\\[(.*)] said=\\[(\\d+)]$")
                    .matcher(out);
            int rounds = 0;
            int midway = 0;
            while (m.find()) {
                rounds++;
                String what = m.group(0);
                assertEquals("0", m.group(3), "reconcile succeeded: " + what);
                assertEquals("0", m.group(4), "no journal left: " + what);
                assertTrue(m.group(6).equals(s0) || m.group(6).equals(sa), "the PF as before or as the spec says: " + what);
                if (!m.group(5).equals(s0) && !m.group(5).equals(sa)) {
                    midway++;
                    assertEquals(s0, m.group(6), "killed half-way, rolled back: " + what);
                    assertEquals("1", m.group(7), "reconcile said it rolled the apply back: " + what);
                }
            }
            assertEquals(RANDOM_APPLY_KILLS + APPLY_STEPS.size(), rounds, out);
            assertTrue(midway >= 2, "at least two applies were killed half-way (" + midway + "):\n" + out);
            assertEquals(s0, LabCli.line(out, "S0-AGAIN"), out);

            Pattern clean = Pattern.compile("reconcile-rc=0 leases=0 vfio-vfs=0 vf-macs-set=0 links=0 runfiles=\\[]");
            Matcher l = Pattern.compile("(?m)^LAUNCH-KILL(.*)$").matcher(out);
            int launches = 0;
            while (l.find()) {
                launches++;
                assertTrue(clean.matcher(l.group(1)).find(), "the host put right after a killed launch: " + l.group(0) + "\n" + out);
            }
            assertEquals(1 + RANDOM_LAUNCH_KILLS + LAUNCH_STEPS.size(), launches, out);
            assertTrue(Pattern.compile("(?m)^SAID-running .*released the stale lease").matcher(out).find(), out);
            assertTrue(Pattern.compile("(?m)^SAID-running deleted macvtap mvt\\d+n\\d+: the jvmm that made it is gone$")
                    .matcher(out).find(), out);
            assertEquals("1 1", LabCli.line(out, "NEXT-LEFT"), "the killed launch left its lease and macvtap:\n" + out);
            assertTrue(Pattern.compile("(?m)^NEXT-SAYS jvmm: eth0: released the stale lease of VF 0000:01:10\\.\\d").matcher(out).find(), out);
            assertTrue(Pattern.compile("(?m)^NEXT-SAYS jvmm: deleted macvtap mvt\\d+n\\d+").matcher(out).find(), out);
            assertEquals("1", LabCli.line(out, "NEXT-GUEST"), out);
            assertEquals(s0, LabCli.line(out, "S0-END"), out);
        } finally {
            lab.run(String.join("; ", "cd $JVMM_LAB_SCRATCH; rm -rf crash",
                    "for v in " + PFS + "/virtfn*; do [ -e $v/driver ] && echo $(basename $(readlink -f $v)) > $v/driver/unbind;"
                            + " echo > $v/driver_override; done",
                    "echo 0 > " + PFS + "/sriov_numvfs; echo 1 > " + PFS + "/sriov_drivers_autoprobe",
                    "rm -rf /run/jvmm/leases /run/jvmm/sriov-apply", "true"), Duration.ofMinutes(3));
        }
    }
}
