package dev.jvmm.vmm.config;

/**
 * The virtio devices of a VM beyond its disks and NICs (issue 18), each null when the VM has none: an entropy source
 * ({@code --rng}), virtio consoles ({@code --virtio-console}, {@code --console-port}), a memory balloon
 * ({@code --balloon}) and a vsock device ({@code --vsock}).
 */
public record VirtioExtras(RngConfig rng, VirtioConsoleConfig console, BalloonConfig balloon, VsockConfig vsock) {
    /** None of them. */
    public static final VirtioExtras NONE = new VirtioExtras(null, null, null, null);

    public VirtioExtras withRng(RngConfig r) {
        return new VirtioExtras(r, console, balloon, vsock);
    }

    public VirtioExtras withConsole(VirtioConsoleConfig c) {
        return new VirtioExtras(rng, c, balloon, vsock);
    }

    public VirtioExtras withBalloon(BalloonConfig b) {
        return new VirtioExtras(rng, console, b, vsock);
    }

    public VirtioExtras withVsock(VsockConfig v) {
        return new VirtioExtras(rng, console, balloon, v);
    }
}
