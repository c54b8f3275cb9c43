package dev.jvmm.vmm.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jvmm.vmm.VmmException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --device vfio=BDF} and the config file's {@code "devices"}: parsing, canonical addresses, errors. */
class VfioConfigTest {
    @TempDir
    Path dir;

    private ConfigLoader.Raw raw() throws Exception {
        Path k = Files.writeString(dir.resolve("k"), "x");
        return ConfigLoader.fromCli(k.toString(), null, null, null, null, null, null);
    }

    private VmConfig cli(String... devices) throws Exception {
        ConfigLoader.Raw r = raw();
        DeviceSpecs.devicesFromCli(r, List.of(devices));
        return ConfigLoader.validate(r, 8);
    }

    private String cliError(String... devices) throws Exception {
        ConfigLoader.Raw r = raw();
        return assertThrows(VmmException.class, () -> {
            DeviceSpecs.devicesFromCli(r, List.of(devices));
            ConfigLoader.validate(r, 8);
        }).getMessage();
    }

    @Test
    void cliFormsAndCanonicalAddresses() throws Exception {
        assertEquals(List.of(new VfioConfig("0000:01:10.0"), new VfioConfig("0000:01:10.2"), new VfioConfig("0000:af:00.1")),
                cli("vfio=0000:01:10.0", "01:10.2", "vfio=0000:AF:00.1").vfio());
        assertEquals(List.of(), cli().vfio());
        VmConfig c = cli("vfio=0000:01:10.0");
        assertEquals(c.vfio(), c.withKernel(Path.of("/k")).withDevices(List.of(), List.of()).vfio(), "kept by the with* copies");
    }

    @Test
    void cliErrorsNameTheOption() throws Exception {
        assertEquals("--device: vfio: '0000:01:10' is not a PCI address (expected DDDD:BB:DD.F, for example 0000:01:00.0)",
                cliError("vfio=0000:01:10"));
        assertEquals("--device: vfio: 0000:01:10.0 is given twice", cliError("vfio=0000:01:10.0", "01:10.0"));
        assertEquals("--device: vfio=DDDD:BB:DD.F is required (e.g. vfio=0000:01:10.0)", cliError("vfio="));
        assertEquals("--device: unknown key \"host\" (expected vfio, iommu, msix)", cliError("host=0000:01:10.0"));
        assertEquals("--device: iommu: \"vfio\" is not auto, type1 or iommufd", cliError("vfio=01:10.0,iommu=vfio"));
        assertEquals("--device: iommu: 0000:01:10.2 asks for type1 but 0000:01:10.0 for iommufd; one VM has one IOMMU "
                + "address space", cliError("vfio=01:10.0,iommu=iommufd", "vfio=01:10.2,iommu=type1"));
    }

    @Test
    void iommuInterfaceChoice() throws Exception {
        assertEquals(List.of(new VfioConfig("0000:01:10.0", VfioConfig.Iommu.TYPE1), new VfioConfig("0000:01:10.2")),
                cli("vfio=01:10.0,iommu=type1", "vfio=01:10.2,iommu=auto").vfio());
        assertEquals(List.of(new VfioConfig("0000:01:00.0", VfioConfig.Iommu.AUTO, false)), cli("vfio=01:00.0,msix=off").vfio());
        assertEquals("--device: msix: \"maybe\" is not on/off", cliError("vfio=01:00.0,msix=maybe"));
        Path none = dir.resolve("iommu");
        assertEquals("type1 (auto: " + none + " is missing: the kernel has no iommufd)",
                dev.jvmm.vmm.devices.VfioDevices.iommuInterface(cli("vfio=01:10.0").vfio(), none));
        assertEquals("type1 (iommu=type1)",
                dev.jvmm.vmm.devices.VfioDevices.iommuInterface(cli("vfio=01:10.0,iommu=type1").vfio(), none));
        VmmException e = assertThrows(VmmException.class, () -> dev.jvmm.vmm.devices.VfioDevices.iommuInterface(
                cli("vfio=01:10.0,iommu=iommufd").vfio(), none));
        assertEquals("--device vfio: iommu=iommufd: " + none + " is missing: this kernel has no iommufd (CONFIG_IOMMUFD; "
                + "Debian's kernels do not enable it); use iommu=type1 (or auto)", e.getMessage());
    }

    @Test
    void configFileDevicesAndCliPrecedence() throws Exception {
        Path k = Files.writeString(dir.resolve("k"), "x");
        Path f = Files.writeString(dir.resolve("vm.json"), "{\"kernel\": \"" + k + "\", \"devices\": "
                + "[{\"vfio\": \"0000:01:10.0\"}, \"vfio=0000:01:10.2\"]}");
        ConfigLoader.Raw r = new ConfigLoader.Raw();
        ConfigLoader.readFile(f, r);
        assertEquals(List.of(new VfioConfig("0000:01:10.0"), new VfioConfig("0000:01:10.2")), ConfigLoader.validate(r, 8).vfio());

        ConfigLoader.Raw r2 = raw();
        DeviceSpecs.devicesFromCli(r2, List.of("vfio=0000:01:10.4"));
        ConfigLoader.readFile(f, r2);
        assertEquals(List.of(new VfioConfig("0000:01:10.4")), ConfigLoader.validate(r2, 8).vfio(), "the CLI's list wins");

        Files.writeString(f, "{\"kernel\": \"" + k + "\", \"devices\": [{\"vfio\": \"nope\"}]}");
        ConfigLoader.Raw r3 = new ConfigLoader.Raw();
        ConfigLoader.readFile(f, r3);
        assertEquals("vm.json: field \"devices\"[0]: vfio: 'nope' is not a PCI address (expected DDDD:BB:DD.F, for example 0000:01:00.0)",
                assertThrows(VmmException.class, () -> ConfigLoader.validate(r3, 8)).getMessage());
    }
}
