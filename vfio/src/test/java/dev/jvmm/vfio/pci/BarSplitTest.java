package dev.jvmm.vfio.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.jvmm.vfio.VfioRegionInfo;
import dev.jvmm.vfio.pci.VfioPciDevice.Piece;
import java.util.List;
import org.junit.jupiter.api.Test;

/** How the BAR holding the MSI-X table and PBA is cut into mapped pieces (KVM slots) and trapped pages. */
class BarSplitTest {
    @Test
    void igbVfMsixBarTableAndPbaOnTheirOwnPages() {
        // 82576 VF BAR3: 16 KiB, 3-vector table at 0, PBA at 0x2000
        assertEquals(List.of(new Piece(0, 0x1000, false, -1), new Piece(0x1000, 0x1000, true, 40),
                new Piece(0x2000, 0x1000, false, -1), new Piece(0x3000, 0x1000, true, 41)),
                VfioPciDevice.split(0x4000, 0, 48, 0x2000, 8, 40));
    }

    @Test
    void registersBeforeTheTableStayMapped() {
        // QEMU NVMe VF BAR0: registers and doorbells in the first 8 KiB, table at 0x2000, PBA at 0x3000
        assertEquals(List.of(new Piece(0, 0x2000, true, 7), new Piece(0x2000, 0x2000, false, -1)),
                VfioPciDevice.split(0x4000, 0x2000, 16, 0x3000, 8, 7));
    }

    @Test
    void tableAndPbaSharingAPageOrSpanningPages() {
        assertEquals(List.of(new Piece(0, 0x3000, true, 1), new Piece(0x3000, 0x1000, false, -1)),
                VfioPciDevice.split(0x4000, 0x3000, 0x100, 0x3800, 8, 1));
        // 2048 vectors: a 32 KiB table from 0x8000, PBA right after it
        assertEquals(List.of(new Piece(0, 0x8000, true, 0), new Piece(0x8000, 0x9000, false, -1),
                new Piece(0x11000, 0xf000, true, 1)),
                VfioPciDevice.split(0x20000, 0x8000, 2048 * 16, 0x10000, 256, 0));
        // PBA before the table, both inside one page: one trap
        assertEquals(List.of(new Piece(0, 0x1000, false, -1), new Piece(0x1000, 0x1000, true, 5)),
                VfioPciDevice.split(0x2000, 0x800, 16, 0x0, 8, 5));
    }

    @Test
    void sparseAreasAreTheOnlyPartsMapped() {
        // a kernel without MSI isolation offers the BAR around the MSI-X table: areas [0, 0x2000) and [0x3000, 0x4000)
        List<VfioRegionInfo.Area> areas = List.of(new VfioRegionInfo.Area(0, 0x2000), new VfioRegionInfo.Area(0x3000, 0x1000));
        assertEquals(List.of(new Piece(0, 0x2000, true, 3), new Piece(0x2000, 0x1000, false, -1),
                new Piece(0x3000, 0x1000, true, 4)),
                VfioPciDevice.layout(0x4000, areas, List.of(), 3, 11));
        // the same with the PBA page trapped as well: what is left of the second area is gone
        assertEquals(List.of(new Piece(0, 0x2000, true, 3), new Piece(0x2000, 0x2000, false, -1)),
                VfioPciDevice.layout(0x4000, areas, List.of(new long[] {0x3000, 0x4000}), 3, 11));
        // areas that are not page aligned shrink to the pages they cover whole
        assertEquals(List.of(new Piece(0, 0x1000, false, -1), new Piece(0x1000, 0x1000, true, 0),
                new Piece(0x2000, 0x2000, false, -1)),
                VfioPciDevice.layout(0x4000, List.of(new VfioRegionInfo.Area(0x800, 0x2000)), List.of(), 0, 8));
        // no area (the region cannot be mmap'd): one trap
        assertEquals(List.of(new Piece(0, 0x4000, false, -1)), VfioPciDevice.layout(0x4000, List.of(), List.of(), 0, 8));
    }

    @Test
    void piecesBeyondTheSlotBudgetAreTrapped() {
        List<VfioRegionInfo.Area> areas = List.of(new VfioRegionInfo.Area(0, 0x1000), new VfioRegionInfo.Area(0x2000, 0x1000),
                new VfioRegionInfo.Area(0x4000, 0x1000));
        assertEquals(List.of(new Piece(0, 0x1000, true, 6), new Piece(0x1000, 0x1000, false, -1),
                new Piece(0x2000, 0x1000, true, 7), new Piece(0x3000, 0x3000, false, -1)),
                VfioPciDevice.layout(0x6000, areas, List.of(), 6, 8));
    }
}
