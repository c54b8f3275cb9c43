package dev.jvmm.virtio.console;

import dev.jvmm.sys.uapi.CConstants;
import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/** virtio-console structures and constants ({@code <linux/virtio_console.h>}, virtio 1.2 §5.3); header-checked. */
public final class VirtioConsoleLayout {
    private VirtioConsoleLayout() {
    }

    /** {@code struct virtio_console_config} (packed): the device's configuration space. */
    @CStruct(value = "struct virtio_console_config", headers = "linux/virtio_console.h")
    public static final class Config {
        private Config() {
        }

        @Offsetof("cols") public static final int COLS = 0;
        @Offsetof("rows") public static final int ROWS = 2;
        @Offsetof("max_nr_ports") public static final int MAX_NR_PORTS = 4;
        @Offsetof("emerg_wr") public static final int EMERG_WR = 8;
        @Sizeof public static final int SIZE = 12;
    }

    /** {@code struct virtio_console_control}: one control message, a port name may follow it (PORT_NAME). */
    @CStruct(value = "struct virtio_console_control", headers = "linux/virtio_console.h")
    public static final class Control {
        private Control() {
        }

        @Offsetof("id") public static final int ID = 0;
        @Offsetof("event") public static final int EVENT = 4;
        @Offsetof("value") public static final int VALUE = 6;
        @Sizeof public static final int SIZEOF = 8;
    }

    @CConstants(headers = "linux/virtio_console.h")
    public static final class Constants {
        private Constants() {
        }

        public static final int VIRTIO_CONSOLE_F_SIZE = 0;
        public static final int VIRTIO_CONSOLE_F_MULTIPORT = 1;
        public static final int VIRTIO_CONSOLE_F_EMERG_WRITE = 2;
        /** The id of a message about the device, not a port (DEVICE_READY). */
        public static final long VIRTIO_CONSOLE_BAD_ID = 0xffff_ffffL;
        public static final int VIRTIO_CONSOLE_DEVICE_READY = 0;
        public static final int VIRTIO_CONSOLE_PORT_ADD = 1;
        public static final int VIRTIO_CONSOLE_PORT_REMOVE = 2;
        public static final int VIRTIO_CONSOLE_PORT_READY = 3;
        public static final int VIRTIO_CONSOLE_CONSOLE_PORT = 4;
        public static final int VIRTIO_CONSOLE_RESIZE = 5;
        public static final int VIRTIO_CONSOLE_PORT_OPEN = 6;
        public static final int VIRTIO_CONSOLE_PORT_NAME = 7;
    }
}
