package dev.jvmm.vmm.config;

/** The configuration of a virtio-vsock device through vhost-vsock ({@code --vsock}). */
public record VsockConfig() {
}
