package dev.jvmm.vmm.config;

/** The configuration of a virtio-console device ({@code --console virtio}, {@code --console-port}). */
public record VirtioConsoleConfig() {
}
