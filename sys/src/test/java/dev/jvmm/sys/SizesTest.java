package dev.jvmm.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class SizesTest {
    @Test
    void parsesSuffixesInAnyCaseWithOrWithoutIOrB() {
        assertEquals(1L << 30, Sizes.parse("1G"));
        assertEquals(512L << 20, Sizes.parse("512m"));
        assertEquals(4L << 30, Sizes.parse("4GiB"));
        assertEquals(4L << 30, Sizes.parse("4gb"));
        assertEquals(512L << 20, Sizes.parse("512Mi"));
        assertEquals(4096, Sizes.parse("4096"));
        assertEquals(4096, Sizes.parse("4096B"));
        assertEquals(4096, Sizes.parse("4096B", Sizes.MIB), "B means bytes whatever a bare number means");
        assertEquals(256L << 20, Sizes.parse("256", Sizes.MIB));
        assertEquals(2L << 30, Sizes.parse("2G", Sizes.MIB));
        assertEquals(1L << 40, Sizes.parse(" 1T "));
        assertEquals(0, Sizes.parse("0"));
    }

    @Test
    void anythingElseSaysWhatASizeLooksLike() {
        for (String bad : List.of("", " ", "x", "-1G", "1Q", "12Q", "99999999999T", "512i", "B", "1.5G", "G")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sizes.parse(bad), bad);
            assertEquals("\"" + bad + "\" is not a size (use e.g. 512M or 2G)", e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Sizes.parse(null));
    }

    @Test
    void printsExactlyAndForPeople() {
        assertEquals("1536M", Sizes.format(1536L << 20));
        assertEquals("2G", Sizes.format(2L << 30));
        assertEquals("1000", Sizes.format(1000));
        assertEquals("1 GiB", Sizes.human(1L << 30));
        assertEquals("1.5 GiB", Sizes.human(1536L << 20));
        assertEquals("1000 MiB", Sizes.human(1000L << 20));
        assertEquals("23.5 GiB", Sizes.human((long) (23.5 * (1L << 30))));
    }
}
