package dev.jvmm.sys.uapi;

/**
 * Layout of {@code struct epoll_event}: packed on x86-64.
 * <pre>
 * struct epoll_event { uint32_t events; epoll_data_t data; } __attribute__ ((__packed__));
 * </pre>
 */
@CStruct(value = "struct epoll_event", headers = "sys/epoll.h")
public final class EpollEvent {
    @Sizeof public static final int SIZEOF = 12;
    @Offsetof("events") public static final int EVENTS = 0;
    @Offsetof("data") public static final int DATA = 4;

    private EpollEvent() {
    }
}
