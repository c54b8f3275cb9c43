package dev.jvmm.probe;

/** The outcome of one check. */
public enum Status {
    /** The host has what this check looks for. */
    PASS,
    /** Works, but slower, less safe or with a caveat; never blocks a use case on its own. */
    WARN,
    /** Missing or broken; blocks every use case that needs it. */
    FAIL,
    /** A fact about the host, not a judgement. */
    INFO
}
