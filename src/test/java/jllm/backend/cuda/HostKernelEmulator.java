package jllm.backend.cuda;

import jllm.backend.Backends;
import jllm.tensor.Device;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Test-only: jllm's CUDA kernel sources compiled for the host by g++ with host_emulation.h (one OS
 * thread per CUDA thread, barriers for __syncthreads and warp shuffles), behind a device type
 * {@code cudaemu} whose backend is the real CudaBackend over a device with host memory. The conformance
 * suite then runs the real kernels' logic, and the real argument passing, without a GPU. What it cannot
 * show: anything specific to the GPU (NVRTC vs g++, the memory model, warp scheduling, launch limits).
 */
final class HostKernelEmulator {
    static final String TYPE = "cudaemu";
    private static String reason;
    private static MethodHandle launch;
    private static boolean tried;

    private HostKernelEmulator() {}

    /** Builds and registers the {@code cudaemu} device once; false (see {@link #reason()}) where g++ is missing or fails. */
    static synchronized boolean install() {
        if (tried) return launch != null;
        tried = true;
        try {
            Path dir = Files.createTempDirectory("jllm-cudaemu");
            Path lib = build(dir);
            SymbolLookup l = SymbolLookup.libraryLookup(lib, Arena.global());
            try (var files = Files.list(dir)) { // loaded: the build directory is no longer needed
                for (Path f : files.toList()) Files.deleteIfExists(f);
            }
            Files.deleteIfExists(dir);
            launch = NativeLibrary.LINKER.downcallHandle(l.find("jllm_emu_launch").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                            ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
            Backends.register(TYPE, i -> new CudaBackend(new EmulatedDevice(Device.of(TYPE, i))));
            return true;
        } catch (IOException | InterruptedException | RuntimeException e) {
            reason = e.toString();
            return false;
        }
    }

    static String reason() { return reason; }

    private static String testResource(String name) throws IOException {
        try (InputStream in = HostKernelEmulator.class.getResourceAsStream("/jllm/backend/cuda/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static Path build(Path dir) throws IOException, InterruptedException {
        Files.writeString(dir.resolve("host_emulation.h"), testResource("host_emulation.h"));
        List<String> objects = new ArrayList<>();
        List<String> sources = new ArrayList<>();
        for (String file : KernelSources.FILES) {
            String src = "#include \"host_emulation.h\"\n" + KernelSources.source(file)
                    .replace("extern __shared__ float sc[];", "float* sc = (float*) jllm_dynamic_shared;");
            Path p = dir.resolve(file.replace(".cu", ".cpp"));
            Files.writeString(p, src);
            sources.add(p.toString());
        }
        Path dispatch = dir.resolve("dispatch.cpp");
        Files.writeString(dispatch, dispatcher());
        sources.add(dispatch.toString());
        Path lib = dir.resolve("libjllm_cudaemu.so");
        List<String> cmd = new ArrayList<>(List.of("g++", "-std=c++20", "-O1", "-shared", "-fPIC", "-pthread", "-w", "-I", dir.toString(),
                "-o", lib.toString()));
        cmd.addAll(sources);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(300, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("g++ could not build the kernel emulation:\n" + log);
        }
        return lib;
    }

    /** One switch over Kernel ordinals, unpacking cuLaunchKernel-style parameter pointers into typed calls. */
    private static String dispatcher() {
        StringBuilder sb = new StringBuilder("""
                #include <barrier>
                #include <thread>
                #include <vector>
                #include <functional>
                struct uint3 { unsigned x, y, z; };
                struct dim3 { unsigned x, y, z; };
                thread_local uint3 threadIdx, blockIdx;
                thread_local dim3 blockDim, gridDim;
                thread_local std::barrier<>* jllm_block_barrier;
                thread_local std::barrier<>* jllm_warp_barrier;
                thread_local unsigned long long* jllm_warp_buffer;
                void* jllm_dynamic_shared;
                struct Strides { int v[41]; };
                struct S4 { int b, h, t, d; };
                // bx threads per launch, each walking every block in order; a block barrier ends each block, so the
                // function-scope statics standing for __shared__ memory are never used by two blocks at once
                static void run(int gx, int gy, int gz, int bx, int shmem, const std::function<void()>& body) {
                    std::vector<float> dyn((shmem + 3) / 4 + 1);
                    jllm_dynamic_shared = dyn.data();
                    int warps = (bx + 31) / 32;
                    std::barrier<> block(bx);
                    std::vector<std::barrier<>*> wb;
                    std::vector<unsigned long long> buf(32 * warps);
                    for (int w = 0; w < warps; w++) wb.push_back(new std::barrier<>(w == warps - 1 && bx % 32 ? bx % 32 : 32));
                    std::vector<std::thread> ts;
                    for (int t = 0; t < bx; t++) {
                        ts.emplace_back([&, t] {
                            threadIdx = {(unsigned) t, 0, 0};
                            blockDim = {(unsigned) bx, 1, 1};
                            gridDim = {(unsigned) gx, (unsigned) gy, (unsigned) gz};
                            jllm_block_barrier = &block;
                            jllm_warp_barrier = wb[t / 32];
                            jllm_warp_buffer = &buf[32 * (t / 32)];
                            for (int z = 0; z < gz; z++) for (int y = 0; y < gy; y++) for (int x = 0; x < gx; x++) {
                                blockIdx = {(unsigned) x, (unsigned) y, (unsigned) z};
                                body();
                                block.arrive_and_wait();
                            }
                        });
                    }
                    for (auto& th : ts) th.join();
                    for (auto* b : wb) delete b;
                }
                """);
        for (Kernel k : Kernel.values()) {
            sb.append("extern \"C\" void ").append(k.symbol).append('(');
            List<KernelSignature.Kind> kinds = KernelSignature.of(k);
            for (int i = 0; i < kinds.size(); i++) sb.append(i > 0 ? ", " : "").append(cType(kinds.get(i)));
            sb.append(");\n");
        }
        sb.append("extern \"C\" int jllm_emu_launch(int k, int gx, int gy, int gz, int bx, int shmem, void** p) {\n  switch (k) {\n");
        for (Kernel k : Kernel.values()) {
            sb.append("    case ").append(k.ordinal()).append(": run(gx, gy, gz, bx, shmem, [&] { ").append(k.symbol).append('(');
            List<KernelSignature.Kind> kinds = KernelSignature.of(k);
            for (int i = 0; i < kinds.size(); i++) {
                sb.append(i > 0 ? ", " : "").append("*(").append(cType(kinds.get(i))).append("*) p[").append(i).append(']');
            }
            sb.append("); }); return 0;\n");
        }
        sb.append("  }\n  return 1;\n}\n");
        return sb.toString();
    }

    private static String cType(KernelSignature.Kind kind) {
        return switch (kind) {
            case POINTER -> "void*";
            case INT -> "int";
            case LONG -> "long long";
            case FLOAT -> "float";
            case DOUBLE -> "double";
            case STRIDES -> "Strides";
            case S4 -> "S4";
        };
    }

    /** The stand-in device whose launches run the emulated kernels (with the arguments marshalled as for cuLaunchKernel). */
    static final class EmulatedDevice extends StandInDevice {
        EmulatedDevice(Device device) { super(device); }

        @Override
        void launch(Kernel k, int gx, int gy, int gz, int bx, int sharedBytes, Object... args) {
            super.launch(k, gx, gy, gz, bx, sharedBytes, args); // checks the signature and the configuration
            try (Arena a = Arena.ofConfined()) {
                MemorySegment params = a.allocate(ValueLayout.ADDRESS, Math.max(args.length, 1));
                for (int i = 0; i < args.length; i++) params.setAtIndex(ValueLayout.ADDRESS, i, CudaDevice.marshal(a, args[i]));
                int rc = (int) launch.invokeExact(k.ordinal(), gx, gy, gz, bx, sharedBytes, params);
                if (rc != 0) throw new IllegalStateException("emulator has no kernel " + k);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(t);
            } finally {
                java.lang.ref.Reference.reachabilityFence(args);
            }
        }
    }
}
