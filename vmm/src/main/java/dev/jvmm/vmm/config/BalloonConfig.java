package dev.jvmm.vmm.config;

/** The configuration of a virtio-balloon device ({@code --balloon}). */
public record BalloonConfig() {
}
