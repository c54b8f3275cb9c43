package dev.jvmm.vmm.config;

/** The configuration of a virtio-rng device ({@code --rng}). */
public record RngConfig() {
}
