package dev.jvmm.vmm.libvirt;

/**
 * One {@code jvmm launch} option as a user would type it: {@code --disk} and its value, or a bare flag
 * ({@code value} null).
 */
public record LaunchArg(String option, String value) {
    /** The argument(s) as picocli parses them: {@code --option=value} (a value that begins with '-' stays a value). */
    String parseForm() {
        return value == null ? option : option + "=" + value;
    }

    /** The argument(s) as a shell reads them: {@code --disk 'path=/x y.img'}. */
    String shellForm() {
        return value == null ? option : option + " " + LaunchArgs.quote(value);
    }
}
