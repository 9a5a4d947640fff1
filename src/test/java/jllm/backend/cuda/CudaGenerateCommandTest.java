package jllm.backend.cuda;

import jllm.backend.Backends;
import jllm.cli.CliErrorsTest;
import jllm.cli.CliErrorsTest.Run;
import jllm.io.llama2c.Llama2cConverter;
import jllm.tensor.Device;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code jllm generate --device}: an unusable device is one line saying why; on the emulated CUDA device the CPU's greedy text. */
class CudaGenerateCommandTest {
    @Test
    void aDeviceThatCannotBeUsedIsBadUsageSayingWhy(@TempDir Path dir) throws Exception {
        Path model = dir.resolve("m");
        Llama2cConverter.convert(Path.of("src/test/resources/llama2c/aidreams260K.bin"), Path.of("src/test/resources/llama2c/tok512.bin"), model);
        Run none = CliErrorsTest.run("generate", "--model", model.toString(), "--device", "nosuch:0");
        assertEquals(2, none.rc(), none.err());
        assertTrue(none.err().contains("--device nosuch:0: no backend for nosuch"), none.err());
        Run bad = CliErrorsTest.run("generate", "--model", model.toString(), "--device", "cuda:x");
        assertEquals(2, bad.rc(), bad.err());
        assertTrue(bad.err().contains("invalid device string: 'cuda:x'"), bad.err());
        if (!Backends.isAvailable(Device.parse("cuda:0"))) {
            Run cuda = CliErrorsTest.run("generate", "--model", model.toString(), "--device", "cuda");
            assertEquals(2, cuda.rc(), cuda.err());
            assertTrue(cuda.err().contains("--device cuda: ") && cuda.err().contains("libcuda"), cuda.err());
        }
    }

    @Test
    void generateOnTheEmulatedDeviceWritesTheCpusGreedyText(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(HostKernelEmulator.install(), () -> "host kernel emulation unavailable: " + HostKernelEmulator.reason());
        Path model = dir.resolve("m");
        Llama2cConverter.convert(Path.of("src/test/resources/llama2c/aidreams260K.bin"), Path.of("src/test/resources/llama2c/tok512.bin"), model);
        String[] common = {"generate", "--model", model.toString(), "--prompt", "Once upon", "--max-new-tokens", "8", "--temperature", "0"};
        Run cpu = CliErrorsTest.run(common);
        assertEquals(0, cpu.rc(), cpu.err());
        String[] onDevice = java.util.Arrays.copyOf(common, common.length + 2);
        onDevice[common.length] = "--device";
        onDevice[common.length + 1] = HostKernelEmulator.TYPE + ":0";
        Run emu = CliErrorsTest.run(onDevice);
        assertEquals(0, emu.rc(), emu.err());
        assertTrue(cpu.out().length() > "Once upon".length(), cpu.out());
        assertEquals(cpu.out(), emu.out());
    }
}
