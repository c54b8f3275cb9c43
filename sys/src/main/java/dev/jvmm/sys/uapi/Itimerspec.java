package dev.jvmm.sys.uapi;

/** Layout of {@code struct itimerspec} (timerfd_settime): the interval, then the first expiry, each a timespec. */
@CStruct(value = "struct itimerspec", headers = "sys/timerfd.h")
public final class Itimerspec {
    @Sizeof public static final int SIZEOF = 32;
    @Offsetof("it_interval") public static final int IT_INTERVAL = 0;
    @Offsetof("it_value") public static final int IT_VALUE = 16;
    @Offsetof("it_value.tv_sec") public static final int IT_VALUE_SEC = 16;
    @Offsetof("it_value.tv_nsec") public static final int IT_VALUE_NSEC = 24;

    private Itimerspec() {
    }
}
