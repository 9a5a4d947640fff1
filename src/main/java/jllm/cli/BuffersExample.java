package jllm.cli;

import jllm.autograd.Grad;
import jllm.backend.Backends;
import jllm.models.attention.CausalAttentionWithBuffer;
import jllm.models.attention.CausalAttentionWithoutBuffers;
import jllm.nn.Module;
import jllm.tensor.Device;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import java.util.Arrays;

/**
 * {@code jllm examples buffers}: seed 000 ("understanding PyTorch buffers") step by step with
 * {@link CausalAttentionWithoutBuffers} and {@link CausalAttentionWithBuffer}.
 */
final class BuffersExample {
    private BuffersExample() {}

    /** Accelerator device types tried, in order, when none is given. */
    static final List<String> ACCELERATORS = List.of("cuda", "mps");

    // PyTorch's and jllm's random streams differ, so torch.manual_seed(123) cannot reproduce the
    // seed's weights here; these are the values the seed prints in its state_dict() output.
    private static final float[][] NOBUF_Q = {{-0.2354f, 0.0191f, -0.2867f}, {0.2177f, -0.4919f, 0.4232f}};
    private static final float[][] NOBUF_K = {{-0.4196f, -0.4590f, -0.3648f}, {0.2615f, -0.2133f, 0.2161f}};
    private static final float[][] NOBUF_V = {{-0.4900f, -0.3503f, -0.2120f}, {-0.1135f, -0.4404f, 0.3780f}};
    private static final float[][] BUF_Q = {{-0.1362f, 0.1853f, 0.4083f}, {0.1076f, 0.1579f, 0.5573f}};
    private static final float[][] BUF_K = {{-0.2604f, 0.1829f, -0.2569f}, {0.4126f, 0.4611f, -0.5323f}};
    private static final float[][] BUF_V = {{0.4929f, 0.2757f, 0.2516f}, {0.2377f, 0.4800f, -0.0762f}};

    static void run(PrintStream out) { run(out, null); }

    /** accelerator: the device to move the modules to, or null to use the first registered accelerator backend, if any. */
    static void run(PrintStream out, Device accelerator) {
        out.println("Seed 000: PyTorch buffers (LLMs-from-scratch, ch03/03_understanding-buffers)");
        out.println();
        Tensor inputs = Tensor.of(new float[][] {
            {0.43f, 0.15f, 0.89f}, // Your     (x^1)
            {0.55f, 0.87f, 0.66f}, // journey  (x^2)
            {0.57f, 0.85f, 0.64f}, // starts   (x^3)
            {0.22f, 0.58f, 0.33f}, // with     (x^4)
            {0.77f, 0.25f, 0.10f}, // one      (x^5)
            {0.05f, 0.80f, 0.55f}}); // step   (x^6)
        Tensor batch = Tensor.stack(0, inputs, inputs);
        int contextLength = batch.size(1), dIn = inputs.size(1), dOut = 2;
        out.println("batch = stack((inputs, inputs)): shape " + shape(batch) + ", context_length=" + contextLength + ", d_in=" + dIn
                + ", d_out=" + dOut);
        Generator.manualSeed(123);
        var caWithoutBuffer = new CausalAttentionWithoutBuffers(dIn, dOut, contextLength, 0.0);
        setWeights(caWithoutBuffer, NOBUF_Q, NOBUF_K, NOBUF_V);
        out.println("(weights set to the 4-decimal values the seed prints, as PyTorch's manual_seed(123) stream is not jllm's;");
        out.println(" so a last digit below may differ by one from the seed's output)");
        out.println();
        out.println("## Without buffers: the mask is a plain field");
        out.println("ca_without_buffer(batch) =");
        out.println(forward(caWithoutBuffer, batch));
        out.println();

        out.println("## Moving to an accelerator");
        Device device = accelerator != null ? accelerator : findAccelerator();
        out.println("machine has an accelerator: " + (device != null));
        if (device == null) {
            List<String> why = new java.util.ArrayList<>();
            for (String type : ACCELERATORS) why.add(type + ":0: " + Backends.unavailableReason(Device.of(type, 0)).replaceAll("\\.$", ""));
            out.println("(no accelerator is available here: " + String.join("; ", why) + ")");
            device = Device.CPU;
        }
        out.println("using device: " + device);
        batch = batch.to(device);
        caWithoutBuffer.to(device);
        out.println("W_query.weight.device: " + caWithoutBuffer.wQuery().weight().device());
        out.println("mask.device: " + caWithoutBuffer.mask.device());
        if (device.isCpu()) {
            out.println("Everything is already on the CPU, so the forward pass still works. On an accelerator, to(cuda:0)");
            out.println("would move W_query, W_key and W_value (registered parameters) but not the plain field 'mask',");
            out.println("and the forward pass would fail with:");
            out.println("  IllegalArgumentException: Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!");
            out.println("The fix by hand is ca_without_buffer.mask = ca_without_buffer.mask.to(device); registering the mask as a");
            out.println("buffer makes it move by itself.");
        } else {
            try {
                forward(caWithoutBuffer, batch);
                out.println("forward unexpectedly worked with the mask on " + caWithoutBuffer.mask.device());
            } catch (IllegalArgumentException e) {
                out.println("ca_without_buffer(batch) fails: " + e.getMessage());
            }
            out.println("The mask was not moved: it is a plain field, not a parameter or buffer. Moving it by hand:");
            caWithoutBuffer.mask = caWithoutBuffer.mask.to(device);
            out.println("mask.device: " + caWithoutBuffer.mask.device());
            out.println("ca_without_buffer(batch) =");
            out.println(forward(caWithoutBuffer, batch));
        }
        out.println();

        out.println("## With a buffer: registerBuffer(\"mask\", triu(ones, 1))");
        var caWithBuffer = new CausalAttentionWithBuffer(dIn, dOut, contextLength, 0.0);
        setWeights(caWithBuffer, BUF_Q, BUF_K, BUF_V);
        caWithBuffer.to(device);
        out.println("ca_with_buffer.to(" + device + ")");
        out.println("W_query.weight.device: " + caWithBuffer.wQuery().weight().device());
        out.println("mask.device: " + caWithBuffer.mask().device());
        out.println("ca_with_buffer(batch) =");
        out.println(forward(caWithBuffer, batch));
        out.println();

        out.println("## Buffers and stateDict()");
        out.println("ca_without_buffer.stateDict(): " + caWithoutBuffer.stateDict().keySet() + "  (no mask)");
        printStateDict(out, caWithoutBuffer);
        out.println("ca_with_buffer.stateDict(): " + caWithBuffer.stateDict().keySet());
        printStateDict(out, caWithBuffer);
        out.println();

        out.println("## A modified mask survives save/load only as a buffer");
        Path dir;
        try {
            dir = Files.createTempDirectory("jllm-buffers");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        try {
            Path file = dir.resolve("model.safetensors");
            setOnesToTwos(caWithBuffer.mask());
            out.println("ca_with_buffer.mask[mask == 1] = 2:");
            out.println(caWithBuffer.mask());
            caWithBuffer.save(file);
            var newCaWithBuffer = new CausalAttentionWithBuffer(dIn, dOut, contextLength, 0.0);
            newCaWithBuffer.load(file);
            out.println("saved to " + file.getFileName() + ", loaded into a new CausalAttentionWithBuffer; its mask:");
            out.println(newCaWithBuffer.mask());
            out.println("-> the 2s were restored: the mask is part of the state dict.");
            out.println();

            setOnesToTwos(caWithoutBuffer.mask);
            out.println("ca_without_buffer.mask[mask == 1] = 2, saved, loaded into a new CausalAttentionWithoutBuffers; its mask:");
            caWithoutBuffer.save(file);
            var newCaWithoutBuffer = new CausalAttentionWithoutBuffers(dIn, dOut, contextLength, 0.0);
            newCaWithoutBuffer.load(file);
            out.println(newCaWithoutBuffer.mask);
            out.println("-> still 1s: a plain field is not saved, so the new module keeps its freshly built mask.");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            deleteTree(dir);
        }
    }

    static Device findAccelerator() {
        for (String type : ACCELERATORS) {
            Device d = Device.of(type, 0);
            if (Backends.isAvailable(d)) return d;
        }
        return null;
    }

    private static void setWeights(Module m, float[][] q, float[][] k, float[][] v) {
        m.loadStateDict(Map.of("W_query.weight", Tensor.of(q), "W_key.weight", Tensor.of(k), "W_value.weight", Tensor.of(v)), false);
    }

    private static Tensor forward(jllm.nn.UnaryModule m, Tensor x) {
        try (var g = Grad.off()) {
            return m.forward(x);
        }
    }

    private static void setOnesToTwos(Tensor mask) {
        try (var g = Grad.off()) {
            mask.maskedFill_(mask.eq(1), 2);
        }
    }

    private static void printStateDict(PrintStream out, Module m) {
        for (Map.Entry<String, Tensor> e : m.stateDict().entrySet()) {
            out.println("  " + e.getKey() + ": " + e.getValue().toString().replace("\n", "\n  "));
        }
    }

    private static String shape(Tensor t) { return Arrays.toString(t.shape()); }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // a leftover temp file is harmless
        }
    }
}
