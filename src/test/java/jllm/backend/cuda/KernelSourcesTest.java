package jllm.backend.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The CUDA C kernel sources. Without a GPU this is as far as they can be checked: every file, as NVRTC
 * would receive it, compiled by nvcc to PTX for sm_90 with warnings as errors (skipped when nvcc is not
 * on the PATH), and the kernel names and op codes the Java side relies on.
 */
class KernelSourcesTest {
    private static Path nvcc() {
        List<String> dirs = new ArrayList<>(List.of(System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)));
        String home = System.getenv("CUDA_HOME");
        if (home != null) dirs.add(home + "/bin");
        for (String d : dirs) {
            if (d.isBlank()) continue;
            Path p = Path.of(d, "nvcc");
            if (Files.isExecutable(p)) return p;
        }
        return null;
    }

    @Test
    void everyKernelFileCompilesWithNvccWarningsAsErrors(@TempDir Path dir) throws Exception {
        Path nvcc = nvcc();
        Assumptions.assumeTrue(nvcc != null, "nvcc is not on the PATH (nor in $CUDA_HOME/bin): CUDA kernel sources not compiled");
        List<String> failures = new ArrayList<>();
        for (String file : KernelSources.FILES) {
            Path src = dir.resolve(file), ptx = dir.resolve(file + ".ptx");
            Files.writeString(src, KernelSources.source(file));
            Process p = new ProcessBuilder(nvcc.toString(), "-ptx", "-arch=sm_90", "-Werror", "all-warnings", "-o", ptx.toString(), src.toString())
                    .redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(180, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                failures.add(file + ": nvcc timed out");
                continue;
            }
            if (p.exitValue() != 0) {
                failures.add(file + ": nvcc exit " + p.exitValue() + "\n" + log);
                continue;
            }
            String text = Files.readString(ptx);
            for (String k : KernelSources.kernelNames(file)) {
                if (!text.contains(".entry " + k + "(")) failures.add(file + ": PTX has no entry " + k + " (name mangled? missing extern \"C\"?)");
            }
        }
        if (!failures.isEmpty()) fail(String.join("\n\n", failures));
    }

    @Test
    void everyLaunchedKernelIsDefinedInItsFile() {
        for (Kernel k : Kernel.values()) {
            assertTrue(KernelSources.FILES.contains(k.file), k + ": " + k.file + " is not a kernel file");
            assertTrue(KernelSources.kernelNames(k.file).contains(k.symbol), k + ": " + k.file + " defines no kernel " + k.symbol);
        }
        Set<String> all = new HashSet<>();
        for (String f : KernelSources.FILES) {
            for (String n : KernelSources.kernelNames(f)) assertTrue(all.add(n), "kernel " + n + " defined twice");
        }
        assertEquals(Kernel.values().length, all.size(), "a kernel in the sources that the backend never launches: " + all);
    }

    @Test
    void everyOpCodeTheSourcesUseIsGenerated() throws IOException {
        String defines = KernelSources.defines();
        Set<String> defined = new HashSet<>();
        Matcher d = Pattern.compile("#define (\\w+) ").matcher(defines + KernelSources.resource("prelude.cuh"));
        while (d.find()) defined.add(d.group(1));
        assertTrue(defines.contains("#define U_GELU " + jllm.backend.UnaryOp.GELU.ordinal() + "\n"));
        assertTrue(defines.contains("#define DT_BOOL " + jllm.tensor.DType.BOOL.ordinal() + "\n"));
        Pattern use = Pattern.compile("\\b((?:U|B|R|DT)_[A-Z0-9_]+)\\b");
        for (String f : KernelSources.FILES) {
            Matcher m = use.matcher(KernelSources.resource(f) + KernelSources.resource("prelude.cuh"));
            while (m.find()) assertTrue(defined.contains(m.group(1)), f + " uses " + m.group(1) + ", which no enum defines");
            assertTrue(!KernelSources.resource(f).contains("#include"), f + " includes a header: NVRTC has none");
        }
    }
}
