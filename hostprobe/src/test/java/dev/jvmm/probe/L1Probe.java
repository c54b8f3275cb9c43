package dev.jvmm.probe;

/** Runs inside the lab's L1 (through {@code LabSession.runJava}): prints the probe's JSON between markers. */
public final class L1Probe {
    static final String BEGIN = "=====BEGIN-PROBE-JSON=====";
    static final String END = "=====END-PROBE-JSON=====";

    private L1Probe() {
    }

    public static void main(String[] args) {
        ProbeReport r = HostProbe.probe(ProbeOptions.defaults());
        System.out.println(ReportTable.render(r, false, false));
        System.out.println(BEGIN);
        System.out.print(ReportJson.write(r));
        System.out.println(END);
    }
}
