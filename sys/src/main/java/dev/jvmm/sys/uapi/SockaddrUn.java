package dev.jvmm.sys.uapi;

/** Layout of {@code struct sockaddr_un}: the family, then a NUL-terminated path of at most 107 bytes. */
@CStruct(value = "struct sockaddr_un", headers = "sys/un.h")
public final class SockaddrUn {
    @Sizeof public static final int SIZEOF = 110;
    @Offsetof("sun_family") public static final int SUN_FAMILY = 0;
    @Offsetof("sun_path") public static final int SUN_PATH = 2;

    private SockaddrUn() {
    }
}
